"""Starting a session's process: its own session and process group, on a PTY or on pipes.

On Linux the child is started with libc's ``posix_spawn`` (:mod:`.posix_spawn`; no fork
of the interpreter: CPython's ``preexec_fn`` forces fork, much slower than vfork) and
still gets the PTY as its controlling terminal: glibc runs ``setsid()`` before the file
actions, and a session leader that opens a terminal without ``O_NOCTTY`` acquires it.
So ``\\x03`` interrupts the foreground job whatever the shell (bash grabs a terminal by
itself, ``sh`` and python do not).

Elsewhere (macOS) ``subprocess.Popen`` with ``start_new_session`` and a
``TIOCSCTTY`` ``preexec_fn`` does the same, more slowly.

Either way the child gets fds 0-2 and nothing else (``closefrom`` in its file actions; on the
``subprocess`` path ``close_fds``), and, when the server raised its open-files limit, the
limit it started with; and it is born in its session's :class:`~.containment.Cell` (the
spawn runs inside :meth:`Cell.entered`).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import functools
import os
import resource
import shutil
import signal
import struct
import subprocess
import termios
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..errors import shown
from .containment import Cell
from .posix_spawn import PosixSpawn, SetupError, load, open_files_limits
from .sandbox import Sandbox

ROWS = 24
COLS = 80


class LaunchError(Exception):
    """The process could not be started; ``str()`` says why, for the model; ``os_error`` is the
    errno behind it, when there is one."""

    def __init__(self, message: str, os_error: int | None = None) -> None:
        super().__init__(message)
        self.os_error = os_error


@dataclass(frozen=True)
class Launch:
    """What to start: an argv whose ``argv[0]`` is looked up in the child's PATH.

    ``open_files_limit``: the child's soft RLIMIT_NOFILE (None: this process's);
    ``parent_death_signal``: the child gets SIGKILL when this process (the spawning thread) dies;
    ``sandbox``: what confines it; ``prefix``: a command that execs the rest (``prlimit ... --``)."""

    argv: Sequence[str]
    env: dict[str, str]
    cwd: str
    open_files_limit: int | None = None
    parent_death_signal: bool = False
    sandbox: Sandbox | None = None
    prefix: Sequence[str] = ()

    @property
    def blocked_signals(self) -> tuple[int, ...]:
        """Signals blocked in the child (the sandbox's: its command unblocks them)."""
        return self.sandbox.blocked_signals if self.sandbox is not None else ()

    @property
    def wrapped(self) -> bool:
        """Whether something runs before the program (then its failures are not the spawn's)."""
        return bool(self.prefix) or (self.sandbox is not None and self.sandbox.policy.sandboxed)


def _command(path: str, launch: Launch) -> tuple[str, Sequence[str]]:
    """What runs ``launch``'s program (found at ``path``), and its argv: the program itself, its
    ``argv[0]`` as given; or the rlimits' prefix and the sandbox, whose last ``exec`` finds it
    by that name in the same ``PATH`` (so ``$0`` is what it would be without them)."""
    if not launch.wrapped:
        return path, launch.argv
    argv = launch.sandbox.wrap(launch.argv, launch.cwd) if launch.sandbox is not None else list(launch.argv)
    argv = [*launch.prefix, *argv]
    return argv[0], argv


@dataclass
class Spawned:
    """A started child: ``read_fd`` carries its output, ``write_fd`` its input.

    For a PTY both are the master. ``popen`` is set only on the non-Linux path,
    where ``subprocess`` must stay the one to reap the child. ``cell`` holds every
    process the child will start.
    """

    pid: int
    read_fd: int
    write_fd: int
    popen: subprocess.Popen[bytes] | None = None
    cell: Cell = field(default_factory=Cell)


def _errno_text(err: int) -> str:
    """An errno as Rust's nix crate prints it (``ENOENT: No such file or directory``)."""
    return f"{errno.errorcode.get(err, str(err))}: {os.strerror(err)}"


def resolve_executable(name: str, env: dict[str, str]) -> str:
    """The path to run for ``name``, with the reference's (portable-pty's) error texts."""
    if not name:
        raise LaunchError("Unable to spawn an empty program name")
    if "\0" in name:
        raise LaunchError(f"Unable to spawn {shown(name)!r}: the name contains a NUL byte")
    quoted = shown(name)
    if "/" not in name:
        path = env.get("PATH", os.defpath)
        found = shutil.which(name, path=path)
        if found is None:
            raise LaunchError(
                f'Unable to spawn {quoted} because:\nNo viable candidates found in PATH "{shown(path)}"'
            )
        return found
    if os.path.isdir(name):
        raise LaunchError(f"Unable to spawn {quoted} because it is a directory")
    if not os.access(name, os.X_OK):
        if os.path.exists(name):
            raise LaunchError(
                f"Unable to spawn {quoted} because it is not executable ({_errno_text(errno.EACCES)})",
                errno.EACCES,
            )
        missing = _errno_text(errno.ENOENT)
        raise LaunchError(
            f"Unable to spawn {quoted} because it doesn't exist on the filesystem ({missing})", errno.ENOENT
        )
    return name


def _check_arguments(launch: Launch) -> None:
    """A NUL byte cannot be passed to a process (C strings end there): refuse it up front."""
    for i, arg in enumerate(launch.argv):
        if "\0" in arg:
            where = "the command" if i == len(launch.argv) - 1 else f"argument {i}"
            raise LaunchError(
                f"{where} contains a NUL byte (at character {arg.index(chr(0))}); "
                "a NUL cannot be passed to a process"
            )


def _check_working_directory(cwd: str) -> None:
    if "\0" in cwd:
        raise LaunchError(f"working directory {shown(cwd)!r} contains a NUL byte")
    if not os.path.isdir(cwd):
        exists = os.path.exists(cwd)
        what = "is not a directory" if exists else "does not exist"
        raise LaunchError(f"working directory {shown(cwd)} {what}", errno.ENOTDIR if exists else errno.ENOENT)


PR_SET_PDEATHSIG = 1
"""``prctl`` option (``<linux/prctl.h>``)."""


@functools.cache
def _setpriv() -> str | None:
    return shutil.which("setpriv")


def _with_death_signal(run: str, argv: Sequence[str], launch: Launch) -> tuple[str, Sequence[str]]:
    """What ``posix_spawn`` runs: ``run`` with ``argv``, or, for a parent-death signal (which only
    code in the child can ask for, and ``posix_spawn`` runs none), ``setpriv --pdeathsig KILL``
    exec'ing it. The signal survives that exec and the program's (not a setuid one's)."""
    if not launch.parent_death_signal:
        return run, argv
    setpriv = _setpriv()
    if setpriv is None:
        raise LaunchError("a parent-death signal needs setpriv (util-linux), which is not installed")
    return setpriv, [setpriv, "--pdeathsig", "KILL", "--", run, *argv[1:]]


def _program(launch: Launch) -> str:
    """Check what must be checked before starting ``launch``; return the program's path.

    An absolute program path (the default shell's) is not checked here: if it or the
    working directory is unusable the spawn fails, and :func:`_explain` then makes the
    same checks for the message, so the common case makes no extra system calls
    (BENCHMARKS.md, spawn row). Other names are checked first,
    as before: a bare name must be found in PATH, and a relative path is checked against
    this process's working directory, not the child's.
    """
    _check_arguments(launch)
    name = launch.argv[0]
    if os.path.isabs(name) and not launch.parent_death_signal and not launch.wrapped:  # (not the wrapper)
        return name
    _check_working_directory(launch.cwd)
    return resolve_executable(name, launch.env)


def _explain(launch: Launch, path: str, failure: LaunchError) -> LaunchError:
    """Why starting ``path`` failed: the working directory or the program, checked in that
    order, else ``failure`` itself."""
    try:
        _check_working_directory(launch.cwd)
        resolve_executable(path, launch.env)
    except LaunchError as e:
        return e
    return failure


def set_window_size(fd: int, rows: int, cols: int) -> None:
    """Set a terminal's size; the kernel sends SIGWINCH to its foreground job."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def libc_spawner() -> PosixSpawn | None:
    """The ``posix_spawn`` path, or None where it is missing (then ``subprocess`` is used).

    Tests replace this to run everything through the ``subprocess`` path, macOS's only one.
    """
    return load()


def _popen(
    run: str, argv: Sequence[str], launch: Launch, stdin: int, stdout: int, ctty: bool
) -> subprocess.Popen[bytes]:
    """The portable path: ``subprocess`` with a new session (and a controlling terminal for PTYs);
    it closes every other fd itself (``close_fds``)."""
    limit = launch.open_files_limit
    parent = os.getpid()
    prctl = ctypes.CDLL(None).prctl if launch.parent_death_signal else None

    blocked = launch.blocked_signals

    def prepare_child() -> None:  # pragma: no cover - runs in the forked child
        if blocked:
            signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
        if ctty:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, open_files_limits(limit))
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != parent:  # the parent died before the signal was asked for
                os._exit(128 + signal.SIGKILL)

    return subprocess.Popen(
        list(argv),
        executable=run,
        stdin=stdin,
        stdout=stdout,
        stderr=stdout,
        cwd=launch.cwd,
        env=launch.env,
        start_new_session=True,
        close_fds=True,
        preexec_fn=prepare_child if ctty or blocked or limit is not None or prctl is not None else None,
    )


def _start_failed(path: str, err: OSError) -> LaunchError:
    if isinstance(err, SetupError):
        return LaunchError(f"Unable to spawn {shown(path)}: could not prepare the child ({err.strerror})")
    return LaunchError(f"Unable to spawn {shown(path)}: {_errno_text(err.errno or 0)}", err.errno)


def _no_pty(err: OSError) -> LaunchError:
    return LaunchError(f"could not open a pseudo-terminal: {_errno_text(err.errno or 0)}")


def spawn_pty(launch: Launch, cell: Cell, rows: int = ROWS, cols: int = COLS) -> Spawned:
    """Start ``launch`` in ``cell`` on a new PTY of ``rows`` x ``cols`` that is its controlling
    terminal.

    With libc's posix_spawn the child opens the slave itself, by path; with subprocess this
    process opens it and passes the fd, and closes its copy once the child has it.
    """
    path = _program(launch)
    command = _command(path, launch)
    spawner = libc_spawner()
    run, argv = _with_death_signal(*command, launch) if spawner is not None else command
    try:
        master, slave = spawner.open_pty() if spawner is not None else os.openpty()
    except OSError as e:
        raise _explain(launch, path, _no_pty(e)) from e
    popen = None
    try:
        set_window_size(master, rows, cols)
        with cell.entered():
            if spawner is not None:
                assert isinstance(slave, str)
                terminal = [(0, slave)]
                pid = spawner(
                    run,
                    argv,
                    launch.env,
                    launch.cwd,
                    terminal,
                    [(0, 1), (0, 2)],
                    launch.open_files_limit,
                    launch.blocked_signals,
                )
            else:
                assert isinstance(slave, int)
                popen = _popen(*command, launch, slave, slave, ctty=True)
                pid = popen.pid
    except OSError as e:
        os.close(master)
        raise _explain(launch, path, _start_failed(path, e)) from e
    finally:
        if isinstance(slave, int):
            os.close(slave)
    os.set_blocking(master, False)
    return _started(Spawned(pid, master, master, popen, cell))


def _started(spawned: Spawned) -> Spawned:
    spawned.cell.started(spawned.pid)
    return spawned


def _pipes() -> tuple[int, int, int, int]:
    """Two pipes (stdin's, then stdout's), or a LaunchError saying why not (out of fds)."""
    fds: list[int] = []
    try:
        for _ in range(2):
            fds.extend(os.pipe())
    except OSError as e:
        for fd in fds:
            os.close(fd)
        raise LaunchError(f"could not create pipes: {_errno_text(e.errno or 0)}") from e
    in_read, in_write, out_read, out_write = fds
    return in_read, in_write, out_read, out_write


def spawn_pipes(launch: Launch, cell: Cell) -> Spawned:
    """Start ``launch`` in ``cell`` with stdin on one pipe and stdout+stderr on another (no
    terminal)."""
    path = _program(launch)
    command = _command(path, launch)
    spawner = libc_spawner()
    run, argv = _with_death_signal(*command, launch) if spawner is not None else command
    in_read, in_write, out_read, out_write = _pipes()
    try:
        with cell.entered():
            if spawner is not None:
                dups = [(in_read, 0), (out_write, 1), (out_write, 2)]
                pid = spawner(
                    run,
                    argv,
                    launch.env,
                    launch.cwd,
                    [],
                    dups,
                    launch.open_files_limit,
                    launch.blocked_signals,
                )
                popen = None
            else:
                popen = _popen(*command, launch, in_read, out_write, ctty=False)
                pid = popen.pid
    except OSError as e:
        os.close(in_write)
        os.close(out_read)
        raise _explain(launch, path, _start_failed(path, e)) from e
    finally:
        os.close(in_read)
        os.close(out_write)
    os.set_blocking(in_write, False)
    os.set_blocking(out_read, False)
    return _started(Spawned(pid, out_read, in_write, popen, cell))
