"""exec_command basics with real processes: shells, the PTY, ids, exit codes, Ctrl-C, env, workdir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import sh, start_sleep, start_until
from streamshell import (
    ExecCommandParams,
    Exited,
    Ongoing,
    SessionManager,
    SpawnError,
    WriteStdinParams,
    handle_function_call,
)

pytestmark = [pytest.mark.spawn_paths(), pytest.mark.sandboxes()]


async def test_login_shell_by_default_and_dash_c_otherwise(manager: SessionManager) -> None:
    probe = "echo 0=$0; shopt -q login_shell && echo login || echo nologin"
    login = await manager.exec_command(ExecCommandParams(cmd=probe))
    assert (login.exit_status, login.output) == (Exited(0), "0=/bin/bash\r\nlogin\r\n")
    plain = await manager.exec_command(sh(probe))
    assert (plain.exit_status, plain.output) == (Exited(0), "0=/bin/bash\r\nnologin\r\n")


async def test_output_is_the_ptys_bytes_on_a_24x80_terminal(manager: SessionManager) -> None:
    out = await manager.exec_command(sh("stty size; tty; printf 'caf\\xc3\\xa9 bad\\xff\\n'"))
    lines = out.output.split("\r\n")
    assert lines[0] == "24 80"
    assert lines[1].startswith("/dev/pts/")
    assert lines[2] == "café bad\ufffd"
    assert lines[3] == ""


async def test_stderr_is_merged_and_exit_codes_are_reported(manager: SessionManager) -> None:
    out = await manager.exec_command(sh("echo out; echo err 1>&2; exit 3"))
    assert (out.exit_status, out.output, out.original_token_count) == (Exited(3), "out\r\nerr\r\n", None)


@pytest.mark.parametrize(
    ("cmd", "code"), [("kill -TERM $$", 143), ("kill -KILL $$", 137), ("kill -INT $$", 130)]
)
@pytest.mark.parametrize("shell", ["/bin/bash", "/bin/sh"])
async def test_death_by_signal_is_128_plus_n(
    manager: SessionManager, shell: str, cmd: str, code: int
) -> None:
    out = await manager.exec_command(sh(cmd, shell=shell))
    assert out.exit_status == Exited(code)


async def test_session_ids_start_at_zero_and_every_parsed_exec_takes_one(manager: SessionManager) -> None:
    first = await handle_function_call(manager, "exec_command", '{"cmd": "true", "login": false}')
    assert first.content.startswith("Wall time:") and "Process exited with code 0" in first.content
    second = await manager.exec_command(sh("sleep 30", yield_time_ms=0))
    assert second.exit_status == Ongoing(1)
    with pytest.raises(SpawnError, match=r"^failed to create exec command session for session id 2: "):
        await manager.exec_command(sh("true", shell="/nonexistent/shell"))
    unparsed = await handle_function_call(manager, "exec_command", '{"cmd": 5}')
    assert not unparsed.success
    third = await manager.exec_command(sh("sleep 30", yield_time_ms=0))
    assert third.exit_status == Ongoing(3)


@pytest.mark.parametrize("shell", ["/bin/sh", "/bin/bash"])
async def test_ctrl_c_interrupts_the_foreground_job_under_any_shell(
    manager: SessionManager, shell: str
) -> None:
    sid = await start_sleep(manager, 30, shell=shell)
    out = await manager.write_stdin(WriteStdinParams(sid, "\x03", yield_time_ms=30_000))
    assert out.exit_status == Exited(130)
    assert out.output == "^C"


async def test_the_pty_is_the_controlling_terminal_of_non_bash_programs(manager: SessionManager) -> None:
    out = await manager.exec_command(sh("echo via-dev-tty > /dev/tty", shell="/bin/sh"))
    assert (out.exit_status, out.output) == (Exited(0), "via-dev-tty\r\n")
    sid, _ = await start_until(
        manager, "python3 -c \"print('ready', flush=True); input()\"", "ready", shell="/bin/sh"
    )
    out = await manager.write_stdin(WriteStdinParams(sid, "\x03", yield_time_ms=30_000))
    assert out.exit_status == Exited(130)
    assert "KeyboardInterrupt" in out.output


@pytest.mark.spawn_paths("posix_spawn")
async def test_spawning_never_forks_the_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    """On Linux the child comes from posix_spawn, not subprocess (whose preexec_fn forces fork)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the posix_spawn path is Linux-only; elsewhere subprocess is used by design")

    def no_popen(*args: object, **kwargs: object) -> None:
        raise AssertionError("subprocess.Popen must not be used on Linux")

    async with SessionManager(watchdog=False) as manager:  # the watchdog helper is a subprocess
        monkeypatch.setattr(subprocess, "Popen", no_popen)  # (a sandbox's check at start runs one)
        out = await manager.exec_command(sh("echo spawned"))
    assert out.output == "spawned\r\n"


async def test_child_environment_is_scrubbed_and_pagers_are_off(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MY_API_KEY", "DB_PASSWORD", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "HARMLESS", "TERM"):
        monkeypatch.setenv(name, "value")
    async with SessionManager() as m:
        out = await m.exec_command(sh("env"))
    env = dict(line.split("=", 1) for line in out.output.split("\r\n") if "=" in line)
    for dropped in ("MY_API_KEY", "DB_PASSWORD", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY"):
        assert dropped not in env
    assert env["HARMLESS"] == "value"
    assert env["TERM"] == "value"
    assert (env["PAGER"], env["GIT_PAGER"], env["GH_PAGER"], env["NO_COLOR"]) == ("cat", "cat", "cat", "1")


CREDENTIALS = {
    "DATABASE_URL": "postgres://app:hunter2@db.internal:5432/app",
    "REDIS_URL": "redis://:hunter2@cache:6379/0",
    "HTTP_PROXY": "http://me:hunter2@proxy:3128",
    "GH_PAT": "ghp_x",
    "MYSQL_PWD": "x",
    "DB_PASS": "x",
    "DB_PASSWD": "x",
    "SMTP_PASSPHRASE": "x",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/x",
    "SENTRY_DSN": "https://public@o0.ingest.sentry.io/0",
    "GOOGLE_APPLICATION_CREDENTIALS": "/secrets/sa.json",
    "SSH_PRIVATE_KEY": "x",
    "GPG_PRIVATE": "x",
    "NPM_AUTH": "x",
    "SESSION_COOKIE": "x",
    "AZURE_STORAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=https;AccountKey=x",
    "OPENAI_API_KEY": "sk-x",
    "GITHUB_TOKEN": "x",
    "PGPASSWORD": "x",
}
"""Credential-like variables: issue 10's probe passed 11 of 19 such to children (finding 8)."""

HARMLESS = {
    "PATHS_OF_GLORY": "kept",
    "OLDPWD": "/tmp",
    "GIT_AUTHOR_NAME": "A",
    "BYPASS_CACHE": "1",
    "DATABASE_HOST": "db.internal",
    "HTTPS_PROXY": "http://proxy:3128",
    "DOCS_URL": "https://user@example.com/docs",
}
"""Look-alikes that are no credentials: they are passed on."""


async def test_credentials_never_reach_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**CREDENTIALS, **HARMLESS}.items():
        monkeypatch.setenv(name, value)
    async with SessionManager() as m:
        out = await m.exec_command(sh("env", tty=False))
    env = dict(line.split("=", 1) for line in out.output.splitlines() if "=" in line)
    assert [name for name in CREDENTIALS if name in env] == []
    assert {name: env.get(name) for name in HARMLESS} == HARMLESS
    assert "hunter2" not in out.output


async def test_environment_policy_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_API_KEY", "kept")
    monkeypatch.delenv("TERM", raising=False)
    async with SessionManager(drop_env_containing=(), env={"FOO": "manager", "BAR": "manager"}) as m:
        out = await m.exec_command(
            sh('echo "$MY_API_KEY $FOO $BAR $TERM $PAGER"', env={"FOO": "call", "PAGER": "less"})
        )
    assert out.output == "kept call manager xterm less\r\n"


async def test_workdir_and_manager_cwd(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    async with SessionManager(cwd=str(tmp_path)) as m:
        assert (await m.exec_command(sh("pwd"))).output == f"{tmp_path}\r\n"
        assert (await m.exec_command(sh("pwd", workdir="sub"))).output == f"{tmp_path / 'sub'}\r\n"
        assert (await m.exec_command(sh("pwd", workdir="/"))).output == "/\r\n"
        home = await m.exec_command(sh("pwd", workdir="~"))
        assert home.output == f"{os.path.expanduser('~')}\r\n"
        with pytest.raises(SpawnError, match=r"session id 4: working directory .*/nope does not exist$"):
            await m.exec_command(sh("pwd", workdir="nope"))


async def test_pipes_mode_has_no_terminal(manager: SessionManager) -> None:
    out = await manager.exec_command(sh("echo hi; echo TERM=${TERM-unset} >&2; tty", tty=False))
    assert out.exit_status == Exited(1)  # `tty` fails: there is no terminal
    assert out.output == "hi\nTERM=" + os.environ.get("TERM", "unset") + "\nnot a tty\n"


async def test_pipes_mode_stdin_ctrl_d_and_ctrl_c(manager: SessionManager) -> None:
    cat = await manager.exec_command(sh("cat", tty=False, yield_time_ms=0))
    assert isinstance(cat.exit_status, Ongoing)
    sid = cat.exit_status.session_id
    echoed = await manager.write_stdin(WriteStdinParams(sid, "abc\n", yield_time_ms=200))
    while echoed.output != "abc\n":  # no echo on pipes: the line comes back once
        assert echoed.output == ""
        echoed = await manager.write_stdin(WriteStdinParams(sid, "", yield_time_ms=200))
    done = await manager.write_stdin(WriteStdinParams(sid, "last\x04", yield_time_ms=30_000))
    assert (done.exit_status, done.output) == (Exited(0), "last")

    sleeper = await start_sleep(manager, 30, tty=False)
    out = await manager.write_stdin(WriteStdinParams(sleeper, "\x03", yield_time_ms=30_000))
    assert out.exit_status == Exited(130)


async def test_yield_time_is_capped() -> None:
    async with SessionManager(max_yield_time_ms=100) as m:
        out = await m.exec_command(sh("sleep 30", yield_time_ms=600_000))
        assert out.exit_status == Ongoing(0)
        polled = await m.write_stdin(WriteStdinParams(0, "", yield_time_ms=600_000))
        assert polled.exit_status == Ongoing(0)


async def test_a_shell_found_on_path(manager: SessionManager) -> None:
    out = await manager.exec_command(sh("echo $0", shell="sh"))
    assert out.output == "sh\r\n"


async def test_a_deleted_working_directory_breaks_only_the_calls_that_need_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`rm -rf $PWD` under a running server: calls without an absolute workdir get a spawn error,
    the rest work, and a manager made afterwards (a new MCP client's) still starts (issue 10, 2)."""
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    async with SessionManager() as before:
        gone.rmdir()
        with pytest.raises(SpawnError, match=r"session id 0: working directory .*/gone does not exist$"):
            await before.exec_command(sh("pwd"))
        assert (await before.exec_command(sh("pwd", workdir="/"))).output == "/\r\n"
        async with SessionManager() as after:
            with pytest.raises(SpawnError, match=r"session id 0: no working directory: .* absolute path$"):
                await after.exec_command(sh("pwd", workdir="relative"))
            assert (await after.exec_command(sh("pwd", workdir=str(tmp_path)))).output == f"{tmp_path}\r\n"
            result = await handle_function_call(after, "shell", {"command": ["pwd"]})
            assert result.content.startswith("execution error: no working directory:")
            result = await handle_function_call(after, "shell", {"command": ["pwd"], "workdir": "/"})
            assert result.success and '"output":"/\\n"' in result.content
