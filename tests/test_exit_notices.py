"""Part 4: a session that exits while nobody watches is named once in the next result, its output
stays readable, list_sessions says more, and MCP clients get the notice as a notification."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, ClientSession, StdioServerParameters, stdio_client

from helpers import NOTICE, call_tool, sh, start, start_and_wait_for_file, wait_until
from streamshell import Exited, ExitNotice, SessionManager, WriteStdinParams, handle_function_call
from streamshell._engine import manager as manager_module
from streamshell._engine.input_wait import InputWaitProbe
from streamshell.mcp.server import build_server
from streamshell.tools.registry import LIST_SESSIONS


async def exited(manager: SessionManager, sid: int) -> None:
    await wait_until(
        lambda: any(s.session_id == sid and s.exit_code is not None for s in manager.list_sessions()),
        what=f"session {sid} to exit",
    )


async def test_the_next_result_names_it_once_and_its_output_stays(manager: SessionManager) -> None:
    build = await start(manager, "sleep 0.2; echo built; exit 3")
    await exited(manager, build)
    other = await manager.exec_command(sh("echo unrelated"))
    assert other.to_text_output().splitlines()[2:4] == [
        NOTICE.format(build, 3, "sleep 0.2; echo built; exit 3"),
        "Output:",
    ]
    again = await manager.exec_command(sh("echo again"))
    assert again.exit_notices == () and "exited with code 3" not in again.to_text_output()
    out = await manager.write_stdin(WriteStdinParams(build, ""))
    assert (out.exit_status, out.output, out.exit_notices) == (Exited(3), "built\r\n", ())


async def test_the_session_a_result_reports_needs_no_notice(manager: SessionManager) -> None:
    sid = await start(manager, "sleep 0.2; echo done")
    await exited(manager, sid)
    out = await manager.write_stdin(WriteStdinParams(sid, ""))
    assert out.exit_status == Exited(0) and out.exit_notices == ()
    later = await manager.exec_command(sh("true"))
    assert later.exit_notices == ()


async def test_an_exit_a_call_waited_for_is_not_noticed_again(manager: SessionManager) -> None:
    out = await manager.exec_command(sh("sleep 0.2; exit 4", yield_time_ms=30_000))
    assert out.exit_status == Exited(4)
    assert (await manager.exec_command(sh("true"))).exit_notices == ()


async def test_several_exits_one_line_each(manager: SessionManager, tmp_path: Path) -> None:
    gated = "until [ -e go ]; do sleep 0.01; done; exit"
    first = await start(manager, f"{gated} 1", workdir=str(tmp_path))
    second = await start(manager, f"{gated} 2", workdir=str(tmp_path))
    (tmp_path / "go").touch()
    await exited(manager, first)
    await exited(manager, second)
    lines = (await manager.exec_command(sh("true"))).to_text_output().splitlines()
    assert sorted(lines[2:4]) == [
        NOTICE.format(first, 1, f"{gated} 1"),
        NOTICE.format(second, 2, f"{gated} 2"),
    ]
    assert lines[4] == "Output:"


async def test_a_long_command_is_cut_and_a_pruned_one_not_said_kept() -> None:
    async with SessionManager(max_sessions=2, protected_sessions=0) as manager:
        await start(manager, "sleep 600")
        long = "true " + "x" * 100
        sid = await start(manager, f"{long}; exit 5")
        await exited(manager, sid)
        out = await manager.exec_command(sh("sleep 600", yield_time_ms=0))  # prunes the exited one
        assert f"\nSession {sid} exited with code 5 ({long[:59]}…).\nOutput:\n" in out.to_text_output()


async def test_the_option_off_keeps_the_reference_text() -> None:
    async with SessionManager(exit_notices=False) as manager:
        sid = await start(manager, "exit 6")
        await exited(manager, sid)
        result = await handle_function_call(
            manager, "exec_command", json.dumps({"cmd": "true", "login": False})
        )
        assert result.content.splitlines()[1:3] == ["Process exited with code 0", "Output:"]


async def test_the_shell_tool_leaves_notices_for_the_next_result(manager: SessionManager) -> None:
    """The one-shot tool's JSON answer has no place for them: they stay for a result that can tell."""
    sid = await start(manager, "sleep 0.2; exit 5")
    await exited(manager, sid)
    shell = await handle_function_call(manager, "shell", json.dumps({"command": ["echo", "hi"]}))
    assert json.loads(shell.content)["output"] == "hi\n" and shell.exit_notices == ()
    later = await manager.exec_command(sh("true"))
    assert later.exit_notices == (ExitNotice(sid, 5, "sleep 0.2; exit 5"),)


async def test_without_kept_output_the_notice_promises_none() -> None:
    """keep_unread_output=False: the next write_stdin drops what the session printed, so the notice
    does not say it is kept."""
    async with SessionManager(keep_unread_output=False) as manager:
        sid = await start(manager, "sleep 0.2; echo the-result; exit 2")
        await exited(manager, sid)
        other = await manager.exec_command(sh("true"))
        notice = f"Session {sid} exited with code 2 (sleep 0.2; echo the-result; exit 2)."
        assert other.to_text_output().splitlines()[2:4] == [notice, "Output:"]
        out = await manager.write_stdin(WriteStdinParams(sid, ""))
        assert (out.exit_status, out.output) == (Exited(2), "")


async def test_list_sessions_looks_at_the_kernel_within_a_budget(
    manager: SessionManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Looking at a session's /proc state costs up to a millisecond or two on the event loop:
    list_sessions spends at most LIST_PROBE_BUDGET on it, the sessions looked at longest ago
    first (at least one per call); the others show their last look."""
    cats = [await start(manager, "cat") for _ in range(3)]
    for sid in cats:
        await wait_until(lambda sid=sid: manager.session_info(sid).waiting_for_input, what="cat to read")
    looked: list[InputWaitProbe] = []
    sample = InputWaitProbe.sample
    monkeypatch.setattr(InputWaitProbe, "sample", lambda probe: looked.append(probe) or sample(probe))
    monkeypatch.setattr(manager_module, "LIST_PROBE_BUDGET", 0.0)
    for calls in range(1, 4):
        assert all(s.waiting_for_input for s in manager.list_sessions())
        assert len(looked) == calls
    assert len({id(probe) for probe in looked}) == 3  # each call looked at another session


async def test_list_sessions_json_shows_waiting_and_unread(manager: SessionManager, tmp_path: Path) -> None:
    flag = tmp_path / "printed"
    sid = await start_and_wait_for_file(manager, f"printf ab; touch {flag}; exec cat", flag)
    await wait_until(lambda: manager.list_sessions()[0].unread_bytes == 2, what="2 unread bytes")
    await wait_until(lambda: manager.list_sessions()[0].waiting_for_input, what="cat to read")
    [listed] = json.loads((await LIST_SESSIONS.call(manager, {}, None)).content)
    assert (listed["session_id"], listed["waiting_for_input"], listed["unread_bytes"]) == (sid, True, 2)


# ----- over MCP ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_mcp_clients_get_the_notice_as_a_log_message(mode: str) -> None:
    """Handshake era: at once, on the client's stream; 2026-07-28: with the result that carries it."""
    messages: list[Any] = []

    async def on_log(params: Any) -> None:
        messages.append(params)

    async with Client(
        build_server(SessionManager), mode=mode, logging_callback=on_log, log_level="notice"
    ) as c:
        text, _ = await call_tool(
            c, "exec_command", {"cmd": "sleep 0.2; exit 7", "login": False, "yield_time_ms": 0}
        )
        if mode == "legacy":
            with anyio.fail_after(30):
                while not messages:
                    await anyio.sleep(0.01)
        else:
            while "exited with code 7" not in text:
                text, _ = await call_tool(c, "exec_command", {"cmd": "true", "login": False})
        expected = NOTICE.format(0, 7, "sleep 0.2; exit 7")
        assert [(m.level, m.logger, m.data) for m in messages] == [("notice", "streamshell", expected)]
        text, _ = await call_tool(c, "exec_command", {"cmd": "true", "login": False})
        assert expected in text or mode == "auto"  # (auto: that result already carried it)


@pytest.mark.parametrize("schema", ["extended", "reference"])
async def test_stdio_server_sends_the_notice_to_its_client(tmp_path: Path, schema: str) -> None:
    """The notification goes out with either schema; the header line only with the extended one
    (the reference's schema comes with the reference's texts)."""
    messages: list[Any] = []

    async def on_log(params: Any) -> None:
        messages.append(params)

    server = StdioServerParameters(
        command=sys.executable, args=["-m", "streamshell", "serve", "--schema", schema], env=dict(os.environ)
    )
    with (tmp_path / "stderr").open("w") as errlog:
        async with (
            stdio_client(server, errlog=errlog) as (read, write),
            ClientSession(read, write, logging_callback=on_log) as session,
        ):
            await session.initialize()
            await call_tool(
                session, "exec_command", {"cmd": "sleep 0.2; echo bye", "login": False, "yield_time_ms": 0}
            )
            with anyio.fail_after(30):
                while not messages:
                    await anyio.sleep(0.01)
            assert messages[0].data == NOTICE.format(0, 0, "sleep 0.2; echo bye")
            text, _ = await call_tool(session, "exec_command", {"cmd": "true", "login": False})
            assert (NOTICE.format(0, 0, "sleep 0.2; echo bye") in text) == (schema == "extended"), text
            text, _ = await call_tool(session, "write_stdin", {"session_id": 0, "chars": ""})
            assert text.endswith("Process exited with code 0\nOutput:\nbye\r\n")
