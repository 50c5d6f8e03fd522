"""The posix_spawn binding: C types big enough, every failure reported before anything starts."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
from pathlib import Path

import pytest

from streamshell import ExecCommandParams, SessionManager, SpawnError
from streamshell._engine import posix_spawn
from streamshell._engine.posix_spawn import SetupError

SIZES = r"""
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
int main(void) {
    printf("%zu %zu %zu\n", sizeof(sigset_t), sizeof(posix_spawnattr_t), sizeof(posix_spawn_file_actions_t));
    return 0;
}
"""


def test_opaque_c_types_are_at_least_libcs_sizes(tmp_path: Path) -> None:
    compiler = shutil.which("cc") or shutil.which("gcc")
    assert compiler, "a C compiler is needed to check the C types' sizes"
    source, program = tmp_path / "sizes.c", tmp_path / "sizes"
    source.write_text(SIZES)
    subprocess.run([compiler, str(source), "-o", str(program)], check=True, timeout=120)
    sigset, attr, actions = map(
        int, subprocess.run([str(program)], capture_output=True, text=True).stdout.split()
    )
    assert sigset <= posix_spawn.SIGSET_BYTES
    assert attr <= posix_spawn.SPAWNATTR_BYTES
    assert actions <= posix_spawn.FILE_ACTIONS_BYTES


async def test_a_file_action_that_cannot_be_recorded_starts_nothing() -> None:
    spawner = posix_spawn.load()
    assert spawner is not None
    marker = f"never-started-{os.getpid()}"
    with pytest.raises(SetupError, match="posix_spawn_file_actions_adddup2: Bad file descriptor"):
        spawner("/bin/sh", ["/bin/sh", "-c", f"exec sleep 60 # {marker}"], {}, "/", [], [(-1, 0)])
    assert marker.encode() not in subprocess.run(["ps", "axww"], capture_output=True).stdout


async def test_a_setup_failure_is_a_spawn_error_that_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(*args: object) -> int:
        raise SetupError(12, "posix_spawn_file_actions_addchdir_np: Cannot allocate memory")

    spawner = posix_spawn.load()
    assert spawner is not None
    monkeypatch.setattr(type(spawner), "__call__", failing)
    async with SessionManager() as manager:
        with pytest.raises(SpawnError) as e:
            await manager.exec_command(ExecCommandParams(cmd="true", login=False))
    assert str(e.value) == (
        "failed to create exec command session for session id 0: Unable to spawn /bin/bash: could not "
        "prepare the child (posix_spawn_file_actions_addchdir_np: Cannot allocate memory)"
    )


@pytest.fixture(params=["closefrom", "close actions"])
def fd_closing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """How the child's fds >= 3 are closed: glibc >= 2.34's closefrom action, or (older libcs)
    one close action per inheritable fd."""
    spawner = posix_spawn.load()
    assert spawner is not None
    if request.param == "close actions":
        monkeypatch.setattr(spawner, "_closefrom", None)
    return str(request.param)


@pytest.mark.spawn_paths()
@pytest.mark.parametrize("tty", [True, False])
async def test_a_session_inherits_only_stdin_stdout_and_stderr(tty: bool, fd_closing: str) -> None:
    """An inheritable fd of the program that runs the manager (a listen socket, a pipe) does not
    reach sessions (issue 10, finding 3)."""
    read_end, write_end = os.pipe()
    os.set_inheritable(read_end, True)
    os.set_inheritable(write_end, True)
    try:
        async with SessionManager() as manager:
            out = await manager.exec_command(
                ExecCommandParams(cmd="ls /proc/$$/fd", shell="/bin/sh", login=False, tty=tty)
            )
    finally:
        os.close(read_end)
        os.close(write_end)
    assert sorted(out.output.split()) == ["0", "1", "2"], out.output


@pytest.mark.spawn_paths()
@pytest.mark.parametrize("tty", [True, False])
async def test_sessions_get_the_open_files_limit_they_are_given(tty: bool) -> None:
    """A server that raised its own RLIMIT_NOFILE gives sessions the limit it started with
    (issue 10, finding 13); this process's own limit is unchanged afterwards."""
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    async with SessionManager(open_files_limit=100) as manager:
        out = await manager.exec_command(ExecCommandParams(cmd="ulimit -n", login=False, tty=tty))
    assert out.output.split() == ["100"]
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == before
