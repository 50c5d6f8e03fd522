"""What programs that embed session managers rely on (a cluster's node runs one per client): ids given
by the caller, a retirement observer, one session's info, a base environment, and errors that survive
pickling."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest

from helpers import sh, start
from streamshell import (
    ClusterError,
    ExecutionError,
    InvalidArgumentsError,
    ManagerClosedError,
    NoTerminalError,
    Ongoing,
    SessionEndedError,
    SessionLostError,
    SessionManager,
    SpawnError,
    StreamshellError,
    UnknownSessionError,
    UnsupportedCallError,
    WriteError,
    WriteStdinParams,
)
from streamshell.errors import StdinClosedError
from streamshell.profiles import Profile


async def test_a_caller_gives_the_ids_each_used_once() -> None:
    retired: list[int] = []
    async with SessionManager(on_retire=retired.append) as m:
        out = await m.exec_command(sh("cat", yield_time_ms=0), session_id=5)
        assert out.exit_status == Ongoing(5)
        out = await m.exec_command(sh("exit 2"), session_id=9)
        assert out.session_id == 9 and retired == [9]
        for used in (5, 9, -1):
            with pytest.raises(ValueError, match=f"session id {used} is negative or already used"):
                await m.exec_command(sh("true"), session_id=used)
        assert (await m.exec_command(sh("true"), session_id=7)).session_id == 7, "in any order"
        assert (await m.exec_command(sh("true"))).session_id == 10, "then on from the highest"
        info = m.session_info(5)
        assert (info.session_id, info.command, info.running) == (5, "cat", True)
        await m.kill_session(5)
        assert retired == [9, 7, 10, 5]
        with pytest.raises(SessionEndedError, match="session id 5 was killed"):
            m.session_info(5)
        sid = await start(m, "cat")
    assert retired == [9, 7, 10, 5, sid], "closing retires the rest"


async def test_sessions_inherit_the_environment_given() -> None:
    async with SessionManager(environ={"ONLY": "this", "PATH": "/usr/bin:/bin", "API_KEY": "x"}) as m:
        out = await m.exec_command(sh("env | sort"))
    assert "ONLY=this\r\n" in out.output and "API_KEY" not in out.output
    assert "HOME=" not in out.output


ERRORS: list[StreamshellError] = [
    InvalidArgumentsError("session_id: missing field"),
    UnsupportedCallError("nope"),
    SpawnError(3, "No such file or directory"),
    UnknownSessionError(4),
    UnknownSessionError(4, profile=Profile.UNIFIED).for_tool("kill_session"),
    SessionEndedError(5, "was pruned"),
    SessionLostError(6, "abc123", "last seen at 2026-01-01T00:00:00.000Z running `cat` as pid 7"),
    WriteError("broken pipe"),
    StdinClosedError(8, profile=Profile.UNIFIED),
    NoTerminalError("no terminal"),
    ManagerClosedError(),
    ExecutionError("boom"),
    ClusterError("node x did not answer"),
]


def test_every_error_class_is_covered() -> None:
    def subclasses(cls: type) -> set[type]:
        return {cls} | {s for sub in cls.__subclasses__() for s in subclasses(sub)}

    public = {cls for cls in subclasses(StreamshellError) if not cls.__name__.startswith("_")}
    assert public - {StreamshellError} == {type(e) for e in ERRORS}


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_errors_survive_pickling_with_text_and_attributes(error: StreamshellError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.__dict__ == error.__dict__


async def test_write_stdin_params_cross_pickling_whole() -> None:
    params = WriteStdinParams(3, "x\n", yield_time_ms=5)
    assert pickle.loads(pickle.dumps(params)) == params


def test_neither_the_package_nor_the_command_line_imports_ray() -> None:
    probe = (
        "import sys, streamshell; from streamshell.cli import main; main(['tools']); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'ray'))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "[]"
