"""The sandbox and the resource limits, against real escape attempts in real sessions.

Every write test also runs unsandboxed where that proves the attempt would work without the
sandbox (so the test can fail). The whole core suite runs a second time under workspace-write
(``conftest.SANDBOXES``), and the escape table (``test_escapes.py``) has a workspace-write setup.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers import INITIALIZE, MARK, marked_processes, read_until, sh, start, start_sleep, wait_until
from streamshell import (
    Exited,
    ManagerOptions,
    ResourceLimits,
    SandboxMode,
    SandboxPolicy,
    SessionManager,
    ToolsConfig,
    WriteStdinParams,
)
from streamshell._engine import limits as limits_module
from streamshell._engine import sandbox as sandbox_module
from streamshell.agent.config import ACCEPTED_KEYS, load_config
from streamshell.tools.toolsconfig import AskForApproval, shell_tool_for_sandbox

pytestmark = pytest.mark.usefixtures("workspace")

SANDBOX_PYTHON = Path(sys.base_prefix) / "bin" / "python3"
"""A Python the sandbox shows: this run's venv may live under /tmp (a fresh clone there), which the
sandbox's private /tmp hides; the interpreter it was made from does not (the scripts need only the
standard library)."""


@pytest.fixture
def base() -> Iterator[Path]:
    """A directory outside /tmp (which the sandbox's private /tmp would hide: too easy a test)."""
    path = Path(tempfile.mkdtemp(prefix="streamshell-sandbox-test-", dir="/var/tmp"))
    yield path
    shutil.rmtree(path)


@pytest.fixture
def workspace(base: Path) -> Path:
    path = base / "workspace"
    path.mkdir()
    return path


async def run(manager: SessionManager, cmd: str, **kw: object) -> tuple[int, str]:
    """Run ``cmd`` to its end, on pipes (no terminal's ``\r\n``); its exit code and output."""
    out = await manager.exec_command(sh(cmd, yield_time_ms=60_000, tty=False, **kw))
    assert isinstance(out.exit_status, Exited), out
    return out.exit_status.code, out.output


def escapes(workspace: Path, outside: Path) -> dict[str, str]:
    """Ways to write ``outside`` from a session in ``workspace``, each creating its own file."""
    relative = os.path.relpath(outside, workspace)
    (workspace / "link").symlink_to(outside)
    return {
        "absolute": f"echo x > {outside}/absolute",
        "dotdot": f"echo x > {relative}/dotdot",
        "symlink": "echo x > link/symlink",
        "proc-root": f"echo x > /proc/self/root{outside}/proc-root",
        "hardlink": f"ln {outside}/target hardlink && echo x >> hardlink",
    }


async def test_workspace_write_keeps_writes_inside(workspace: Path, base: Path) -> None:
    outside = base / "outside"
    outside.mkdir()
    (outside / "target").write_text("")
    attempts = escapes(workspace, outside)
    async with SessionManager(cwd=str(workspace)) as free:  # the same attempts do work unsandboxed
        for cmd in attempts.values():
            assert (await run(free, cmd))[0] == 0
    made = sorted([*(name for name in attempts if name != "hardlink"), "target"])  # (it wrote into target)
    assert sorted(p.name for p in outside.iterdir()) == made and (outside / "target").read_text()
    for p in outside.iterdir():
        p.unlink()
    (outside / "target").write_text("")
    (workspace / "hardlink").unlink()
    async with SessionManager(sandbox="workspace-write", cwd=str(workspace)) as manager:
        for name, cmd in attempts.items():
            code, output = await run(manager, cmd)
            assert code != 0 and (
                "Read-only file system" in output or "Invalid cross-device link" in output
            ), (
                name,
                output,
            )
        for target in ("/etc/streamshell-escape", "/usr/streamshell-escape"):
            code, output = await run(manager, f"echo x > {target}")
            assert code == 1 and "Read-only file system" in output
            assert not os.path.exists(target)
        assert await run(manager, "echo inside > file && cat file") == (0, "inside\n")
    assert sorted(p.name for p in outside.iterdir()) == ["target"] and not (outside / "target").read_text()
    assert (workspace / "file").read_text() == "inside\n"


async def test_another_managers_workspace_is_read_only(workspace: Path, base: Path) -> None:
    other = base / "other"
    other.mkdir()
    async with (
        SessionManager(sandbox="workspace-write", cwd=str(workspace)) as mine,
        SessionManager(sandbox="workspace-write", cwd=str(other)) as theirs,
    ):
        assert await run(theirs, "echo theirs > f") == (0, "")
        code, output = await run(mine, f"echo mine > {other}/f; echo mine > {other}/g")
        assert code == 1 and output.count("Read-only file system") == 2
    assert (other / "f").read_text() == "theirs\n" and not (other / "g").exists()


async def test_git_metadata_stays_read_only(workspace: Path, base: Path) -> None:
    """A hook planted in .git would run outside the sandbox at the user's next commit: .git, and for
    a worktree (a ``gitdir:`` pointer file) the git directory it names and that one's common
    directory (where hooks and config live) are read-only; the rest of the roots is writable."""
    subprocess.run(["git", "init", "-q", str(workspace)], check=True)
    async with SessionManager(sandbox="workspace-write", cwd=str(workspace)) as manager:
        for target in (".git/hooks/pre-commit", ".git/config"):
            code, output = await run(manager, f"echo 'touch /tmp/pwned' > {target}")
            assert code == 1 and "Read-only file system" in output, (target, output)
        assert await run(manager, "echo ok > src.txt") == (0, "")
    main = base / "main"
    subprocess.run(["git", "init", "-q", str(main)], check=True)
    subprocess.run(["git", "-C", str(main), "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    worktree = base / "wt"
    subprocess.run(["git", "-C", str(main), "worktree", "add", "-q", str(worktree)], check=True)
    roots = (str(main),)  # the main repository is writable too: its .git must not be
    async with SessionManager(sandbox="workspace-write", cwd=str(worktree), writable_roots=roots) as manager:
        for target in (
            ".git",
            f"{main}/.git/worktrees/wt/HEAD",
            f"{main}/.git/hooks/post-checkout",
            f"{main}/.git/config",
        ):
            code, output = await run(manager, f"echo 'touch /tmp/pwned' > {target}")
            assert code == 1 and "Read-only file system" in output, (target, output)
        assert await run(manager, f"echo ok > file && echo ok > {main}/file") == (0, "")
    assert not (workspace / ".git" / "hooks" / "pre-commit").exists()
    assert not (main / ".git" / "hooks" / "post-checkout").exists()


async def test_read_only_refuses_writes_in_the_workspace(workspace: Path) -> None:
    async with SessionManager(sandbox="read-only", cwd=str(workspace)) as manager:
        code, output = await run(manager, "echo x > file")
        assert code == 1 and "Read-only file system" in output
        assert await run(manager, "echo private > /tmp/f && cat /tmp/f") == (0, "private\n")
    assert not (workspace / "file").exists()


async def test_each_session_has_a_private_tmp(workspace: Path) -> None:
    async with SessionManager(sandbox="workspace-write", cwd=str(workspace)) as manager:
        assert await run(manager, "echo a > /tmp/streamshell-f; ls /tmp") == (0, "streamshell-f\n")
        assert await run(manager, "ls /tmp | wc -l") == (0, "0\n")
    assert not os.path.exists("/tmp/streamshell-f")


@pytest.mark.parametrize("network", [False, True])
async def test_the_network_is_off_unless_allowed(workspace: Path, network: bool) -> None:
    got: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got.append(await reader.read(100))
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with SessionManager(
            sandbox="workspace-write", cwd=str(workspace), network_access=network
        ) as manager:
            code, output = await run(manager, f"echo hello > /dev/tcp/127.0.0.1/{port}")
            if network:
                assert code == 0
                await wait_until(lambda: got == [b"hello\n"], what="the listener to get the message")
            else:
                assert code == 1 and "Connection refused" in output
                assert got == []
    finally:
        server.close()
        await server.wait_closed()


def serve_and_call(
    args: list[str], cmd: str, cwd: Path, env: dict[str, str] | None = None
) -> tuple[str, str]:
    """Start ``streamshell serve ARGS`` over stdio in ``cwd``, run ``cmd`` through exec_command,
    stop it; the call's text and the server's stderr."""
    requests = [INITIALIZE, {"jsonrpc": "2.0", "method": "notifications/initialized"}]
    arguments = {"cmd": cmd, "login": False, "tty": False, "yield_time_ms": 60_000}
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "exec_command", "arguments": arguments},
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "streamshell", "serve", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=env,
    )
    assert server.stdin is not None and server.stdout is not None
    server.stdin.write("".join(json.dumps(r) + "\n" for r in [*requests, call]))
    server.stdin.flush()
    reply: dict[str, Any] = {}
    while reply.get("id") != 2:
        line = server.stdout.readline()
        assert line, "the server closed stdout"
        reply = json.loads(line)
    _, stderr = server.communicate("", timeout=60)
    text: str = reply["result"]["content"][0]["text"]
    return text, stderr


@pytest.mark.parametrize("mode", ["danger-full-access", "workspace-write"])
def test_the_servers_environment_is_out_of_reach(workspace: Path, mode: str) -> None:
    """The server keeps a secret from its sessions' environments, but unsandboxed a session (root,
    here) still reads it in the server's /proc/PID/environ; in the sandbox's PID namespace the
    server does not exist."""
    secret = "streamshell-secret-" + os.urandom(6).hex()
    env = {**os.environ, "STREAMSHELL_TEST_API_TOKEN": secret}
    cmd = f"grep -l {secret} /proc/[0-9]*/environ 2>/dev/null; echo checked"
    text, _ = serve_and_call(["--sandbox", mode], cmd, workspace, env)
    found = [line for line in text.splitlines() if line.startswith("/proc/")]
    assert "checked" in text
    if mode == "workspace-write":
        assert found == [], text
    else:
        assert found, text


async def test_a_fork_flood_stays_under_its_process_limit(workspace: Path) -> None:
    limits = ResourceLimits(processes=64)
    value = os.environ[MARK]
    async with SessionManager(sandbox="workspace-write", cwd=str(workspace), limits=limits) as manager:
        assert "processes: cgroup pids.max" in manager.limiter.mechanisms
        flood = (
            "import os, time\nfor _ in range(300):\n    try:\n        if os.fork() == 0:\n"
            "            time.sleep(60)\n            os._exit(0)\n    except OSError:\n        pass\n"
            "print('forked', flush=True)\ntime.sleep(60)\n"
        )
        (workspace / "flood.py").write_text(flood)
        session = await start(manager, f"{SANDBOX_PYTHON} flood.py")

        def alive() -> int:  # the manager's watchdog helper carries the marker too
            return len([p for p in marked_processes(value) if "watchdog_helper" not in p[1]])

        peak = 0
        deadline = time.monotonic() + 60
        output = ""
        while "forked" not in output and time.monotonic() < deadline:
            peak = max(peak, alive())
            out = await manager.write_stdin(WriteStdinParams(session, "", yield_time_ms=100))
            output += out.output
        peak = max(peak, alive())
        assert "forked" in output and 50 <= peak <= 64, peak
        code, other = await run(manager, "echo the host is fine")  # another session is unaffected
        assert (code, other) == (0, "the host is fine\n")
        out = await manager.kill_session(session)
        assert any("process limit (64)" in line for line in out.to_text_output().splitlines())


async def test_a_memory_hog_is_killed_at_its_limit(workspace: Path) -> None:
    limits = ResourceLimits(memory_bytes=256 << 20)
    async with SessionManager(sandbox="workspace-write", cwd=str(workspace), limits=limits) as manager:
        out = await manager.exec_command(
            sh(f"{SANDBOX_PYTHON} -c 'x = bytearray(1 << 30); print(len(x))'", yield_time_ms=60_000)
        )
        assert out.exit_status == Exited(137) and "1073741824" not in out.output
        text = out.to_text_output()
        assert "Limit: the memory limit (268435456 bytes) was reached" in text
        assert await run(manager, "echo fine") == (0, "fine\n")


async def test_cpu_time_is_limited_per_process(workspace: Path) -> None:
    async with SessionManager(cwd=str(workspace), limits=ResourceLimits(cpu_seconds=1)) as manager:
        out = await manager.exec_command(sh("while :; do :; done", yield_time_ms=60_000))
        assert out.exit_status == Exited(152)
        assert "Limit: the CPU time limit (1 s per process) was reached" in out.to_text_output()


async def test_ctrl_c_and_a_python_repl_inside(workspace: Path) -> None:
    async with SessionManager(sandbox="workspace-write", cwd=str(workspace), network_access=False) as manager:
        session = await start(manager, "python3 -q")
        await read_until(manager, session, ">>> ")
        out = await manager.write_stdin(WriteStdinParams(session, "\u0003", yield_time_ms=2000))
        await read_until(manager, session, "KeyboardInterrupt", seen=out.output)
        out = await manager.write_stdin(WriteStdinParams(session, "6*7\n", yield_time_ms=100))
        await read_until(manager, session, "42", seen=out.output)
        out = await manager.write_stdin(WriteStdinParams(session, "exit()\n", yield_time_ms=30_000))
        assert out.exit_status == Exited(0)
        session = await start_sleep(manager, 100)  # (a Ctrl-C typed while bwrap sets up is lost)
        out = await manager.write_stdin(WriteStdinParams(session, "\u0003", yield_time_ms=30_000))
        assert out.exit_status == Exited(130)
        assert await run(manager, "exit 7") == (7, "")


def test_an_unknown_mode_lists_the_three() -> None:
    with pytest.raises(ValueError, match="read-only, workspace-write, danger-full-access"):
        SessionManager(sandbox="container")


def test_no_bubblewrap_is_an_error_at_start_not_full_access(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox_module, "_bwrap", lambda: None)
    with pytest.raises(ValueError, match="apt-get install bubblewrap"):
        SessionManager(sandbox="workspace-write")


def test_limits_that_cannot_be_enforced_are_an_error_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits_module, "_v1_home", lambda controller: None)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    with pytest.raises(ValueError, match="processes cannot be limited here"):
        SessionManager(limits=ResourceLimits(processes=10))


def test_sizes_and_limits_are_checked() -> None:
    assert ResourceLimits(memory_bytes="256M").memory_bytes == 256 << 20
    assert ResourceLimits(memory_bytes="1GiB").memory_bytes == 1 << 30
    with pytest.raises(ValueError, match="256M"):
        ResourceLimits(memory_bytes="lots")
    with pytest.raises(ValueError, match="processes"):
        SessionManager(limits=ResourceLimits(processes=0))


def test_the_model_is_told_the_policy_that_is_enforced() -> None:
    policy = SandboxPolicy(SandboxMode.WORKSPACE_WRITE, False, ("/x",))
    config = ToolsConfig.new(approval_policy=AskForApproval.ON_REQUEST, sandbox_policy=policy)
    [tool] = config.openai_tools()
    assert (
        tool == shell_tool_for_sandbox(policy)
        and "Commands that require network access" in tool["description"]
    )
    options = ManagerOptions(sandbox="workspace-write", writable_roots=("/tmp",), network_access=False)
    assert options.policy == SandboxPolicy(SandboxMode.WORKSPACE_WRITE, False, ("/tmp",))


def test_the_agent_reads_codexs_config_keys(tmp_path: Path) -> None:
    assert {"sandbox_mode", "sandbox_workspace_write.writable_roots", "max_memory"} <= set(ACCEPTED_KEYS)
    default = load_config(None, []).manager_options()
    assert (default.sandbox, default.network_access) == ("workspace-write", True)
    file = tmp_path / "config.toml"
    file.write_text(
        f'sandbox_mode = "read-only"\nmax_processes = 32\nmax_memory = "1G"\n'
        f'[sandbox_workspace_write]\nwritable_roots = ["{tmp_path}"]\nnetwork_access = false\n'
    )
    options = load_config(file, ["max_cpu=5"]).manager_options()
    assert options.sandbox == "read-only" and options.writable_roots == (str(tmp_path),)
    assert options.network_access is False
    assert options.limits == ResourceLimits(memory_bytes=1 << 30, processes=32, cpu_seconds=5)


def test_serve_honours_the_flags_and_prints_the_policy(workspace: Path) -> None:
    """Over stdio: a read-only server refuses a write in its workspace, and says so at start."""
    args = ["--sandbox", "read-only", "--no-network", "--max-processes", "50"]
    text, stderr = serve_and_call(args, "echo x > f", workspace)
    assert "sandbox: read-only; writable: only a private /tmp; network off" in stderr
    assert "limits: 50 processes" in stderr
    assert "Read-only file system" in text and not (workspace / "f").exists()
    text, stderr = serve_and_call([], "echo x > f; echo $?", workspace)  # the default: workspace-write
    assert (
        f"sandbox: workspace-write; writable: {workspace}, a private /tmp" in stderr
        and "network on" in stderr
    )
    assert text.endswith("Output:\n0\n") and (workspace / "f").exists()
