"""Starting a session's process: its own session and process group, on a PTY or on pipes.

On Linux the child is started with ``posix_spawn`` (no fork of the interpreter:
CPython's ``preexec_fn`` forces fork, 2.5-3x slower than vfork) and still gets the
PTY as its controlling terminal: glibc runs ``setsid()`` before the file actions,
and a session leader that opens a terminal without ``O_NOCTTY`` acquires it. So
``\\x03`` interrupts the foreground job whatever the shell (bash grabs a terminal
by itself, ``sh`` and python do not). ``os.posix_spawn`` has no working-directory
action, so the libc function is called through ctypes with
``posix_spawn_file_actions_addchdir_np`` (glibc >= 2.29, musl >= 1.1.24).

Elsewhere (macOS) ``subprocess.Popen`` with ``start_new_session`` and a
``TIOCSCTTY`` ``preexec_fn`` does the same, more slowly.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import shutil
import struct
import subprocess
import sys
import termios
from collections.abc import Sequence
from dataclasses import dataclass

ROWS = 24
COLS = 80


class LaunchError(Exception):
    """The process could not be started; ``str()`` says why, for the model."""


@dataclass(frozen=True)
class Launch:
    """What to start: an argv whose ``argv[0]`` is looked up in the child's PATH."""

    argv: Sequence[str]
    env: dict[str, str]
    cwd: str


@dataclass
class Spawned:
    """A started child: ``read_fd`` carries its output, ``write_fd`` its input.

    For a PTY both are the master. ``popen`` is set only on the non-Linux path,
    where ``subprocess`` must stay the one to reap the child.
    """

    pid: int
    read_fd: int
    write_fd: int
    popen: subprocess.Popen[bytes] | None = None


def _errno_text(err: int) -> str:
    """An errno as Rust's nix crate prints it (``ENOENT: No such file or directory``)."""
    return f"{errno.errorcode.get(err, str(err))}: {os.strerror(err)}"


def resolve_executable(name: str, env: dict[str, str]) -> str:
    """The path to run for ``name``, with the reference's (portable-pty's) error texts."""
    if not name:
        raise LaunchError("Unable to spawn an empty program name")
    if "\0" in name:
        raise LaunchError(f"Unable to spawn {name!r}: the name contains a NUL byte")
    if "/" not in name:
        path = env.get("PATH", os.defpath)
        found = shutil.which(name, path=path)
        if found is None:
            raise LaunchError(f'Unable to spawn {name} because:\nNo viable candidates found in PATH "{path}"')
        return found
    if os.path.isdir(name):
        raise LaunchError(f"Unable to spawn {name} because it is a directory")
    if not os.access(name, os.X_OK):
        if os.path.exists(name):
            raise LaunchError(
                f"Unable to spawn {name} because it is not executable ({_errno_text(errno.EACCES)})"
            )
        raise LaunchError(
            f"Unable to spawn {name} because it doesn't exist on the filesystem ({_errno_text(errno.ENOENT)})"
        )
    return name


def _check_launch(launch: Launch) -> None:
    for i, arg in enumerate(launch.argv):
        if "\0" in arg:
            where = "the command" if i == len(launch.argv) - 1 else f"argument {i}"
            raise LaunchError(
                f"{where} contains a NUL byte (at character {arg.index(chr(0))}); "
                "a NUL cannot be passed to a process"
            )
    if not os.path.isdir(launch.cwd):
        what = "is not a directory" if os.path.exists(launch.cwd) else "does not exist"
        raise LaunchError(f"working directory {launch.cwd} {what}")


def set_window_size(fd: int, rows: int, cols: int) -> None:
    """Set a terminal's size; the kernel sends SIGWINCH to its foreground job."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class _LibcSpawn:
    """``posix_spawn`` from libc with a chdir file action; None where libc lacks it."""

    SETSIGDEF = 0x04
    SETSIGMASK = 0x08
    SETSID = 0x80
    _OPAQUE = ctypes.c_uint64 * 128  # posix_spawnattr_t / file_actions_t / sigset_t: <= 1 KiB

    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self._libc = libc
        ptr = ctypes.c_void_p
        argv_t = ctypes.POINTER(ctypes.c_char_p)
        libc.posix_spawn.argtypes = [ctypes.POINTER(ctypes.c_int), ctypes.c_char_p, ptr, ptr, argv_t, argv_t]
        libc.posix_spawn_file_actions_addopen.argtypes = [
            ptr,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.c_uint,
        ]
        libc.posix_spawn_file_actions_adddup2.argtypes = [ptr, ctypes.c_int, ctypes.c_int]
        libc.posix_spawn_file_actions_addchdir_np.argtypes = [ptr, ctypes.c_char_p]
        libc.posix_spawnattr_setflags.argtypes = [ptr, ctypes.c_short]

    @classmethod
    def load(cls) -> _LibcSpawn | None:
        if not sys.platform.startswith("linux"):
            return None
        try:
            return cls()
        except (OSError, AttributeError):
            return None

    def __call__(
        self, path: str, launch: Launch, opens: Sequence[tuple[int, str]], dups: Sequence[tuple[int, int]]
    ) -> int:
        """Start ``path`` in a new session, every signal at its default and none blocked.

        Resetting signals matters: a server started in the background by a shell
        has SIGINT ignored and Python ignores SIGPIPE; children would inherit
        that, and Ctrl-C in a session would do nothing.
        """
        libc = self._libc
        actions, attr, sigdef, sigmask = self._OPAQUE(), self._OPAQUE(), self._OPAQUE(), self._OPAQUE()
        libc.posix_spawn_file_actions_init(actions)
        libc.posix_spawnattr_init(attr)
        try:
            for fd, name in opens:
                libc.posix_spawn_file_actions_addopen(actions, fd, os.fsencode(name), os.O_RDWR, 0)
            for src, dst in dups:
                libc.posix_spawn_file_actions_adddup2(actions, src, dst)
            libc.posix_spawn_file_actions_addchdir_np(actions, os.fsencode(launch.cwd))
            libc.sigfillset(sigdef)
            libc.sigemptyset(sigmask)
            libc.posix_spawnattr_setsigdefault(attr, sigdef)
            libc.posix_spawnattr_setsigmask(attr, sigmask)
            libc.posix_spawnattr_setflags(attr, self.SETSID | self.SETSIGDEF | self.SETSIGMASK)
            argv = [os.fsencode(a) for a in launch.argv]
            envp = [os.fsencode(f"{k}={v}") for k, v in launch.env.items()]
            c_argv = (ctypes.c_char_p * (len(argv) + 1))(*argv, None)
            c_envp = (ctypes.c_char_p * (len(envp) + 1))(*envp, None)
            pid = ctypes.c_int()
            err = libc.posix_spawn(ctypes.byref(pid), os.fsencode(path), actions, attr, c_argv, c_envp)
        finally:
            libc.posix_spawn_file_actions_destroy(actions)
            libc.posix_spawnattr_destroy(attr)
        if err:
            raise OSError(err, os.strerror(err), path)
        return pid.value


_libc_spawn = _LibcSpawn.load()


def _acquire_controlling_terminal() -> None:  # pragma: no cover - runs in the forked child
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _popen(path: str, launch: Launch, stdin: int, stdout: int, ctty: bool) -> subprocess.Popen[bytes]:
    """The portable path: ``subprocess`` with a new session (and a controlling terminal for PTYs)."""
    return subprocess.Popen(
        list(launch.argv),
        executable=path,
        stdin=stdin,
        stdout=stdout,
        stderr=stdout,
        cwd=launch.cwd,
        env=launch.env,
        start_new_session=True,
        preexec_fn=_acquire_controlling_terminal if ctty else None,
    )


def _start_failed(path: str, err: OSError) -> LaunchError:
    return LaunchError(f"Unable to spawn {path}: {_errno_text(err.errno or 0)}")


def spawn_pty(launch: Launch, rows: int = ROWS, cols: int = COLS) -> Spawned:
    """Start ``launch`` on a new PTY of ``rows`` x ``cols`` that is its controlling terminal."""
    _check_launch(launch)
    path = resolve_executable(launch.argv[0], launch.env)
    try:
        master, slave = os.openpty()
    except OSError as e:
        raise LaunchError(f"could not open a pseudo-terminal: {_errno_text(e.errno or 0)}") from e
    try:
        set_window_size(master, rows, cols)
        if _libc_spawn is not None:
            pid = _libc_spawn(path, launch, [(0, os.ttyname(slave))], [(0, 1), (0, 2)])
            popen = None
        else:
            popen = _popen(path, launch, slave, slave, ctty=True)
            pid = popen.pid
    except OSError as e:
        os.close(master)
        raise _start_failed(path, e) from e
    finally:
        os.close(slave)
    os.set_blocking(master, False)
    return Spawned(pid, master, master, popen)


def spawn_pipes(launch: Launch) -> Spawned:
    """Start ``launch`` with stdin on one pipe and stdout+stderr on another (no terminal)."""
    _check_launch(launch)
    path = resolve_executable(launch.argv[0], launch.env)
    in_read, in_write = os.pipe()
    out_read, out_write = os.pipe()
    try:
        if _libc_spawn is not None:
            pid = _libc_spawn(path, launch, [], [(in_read, 0), (out_write, 1), (out_write, 2)])
            popen = None
        else:
            popen = _popen(path, launch, in_read, out_write, ctty=False)
            pid = popen.pid
    except OSError as e:
        os.close(in_write)
        os.close(out_read)
        raise _start_failed(path, e) from e
    finally:
        os.close(in_read)
        os.close(out_write)
    os.set_blocking(in_write, False)
    os.set_blocking(out_read, False)
    return Spawned(pid, out_read, in_write, popen)
