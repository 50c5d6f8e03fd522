"""libc's ``posix_spawn`` through ctypes, with a working-directory action and every return code checked.

``os.posix_spawn`` has no working-directory action, and CPython's ``preexec_fn`` (the
other way to run code in the child) makes ``subprocess`` fork instead of vfork. glibc
(>= 2.29) and musl (>= 1.1.24) have ``posix_spawn_file_actions_addchdir_np``, so the
function is called from libc directly. libc is loaded on first use, not at import.

The child inherits nothing but fds 0-2: ``posix_spawn_file_actions_addclosefrom_np`` (glibc
>= 2.34) closes the rest, whatever this process holds (an HTTP listen socket, an embedding
program's pipes); without it each inheritable fd gets its own close action.

Every call's result is checked: the ``posix_spawn*`` functions return an error number,
``sigfillset``/``sigemptyset``/``sigaddset``/``posix_openpt``/``grantpt``/``unlockpt`` return -1 and set
``errno``. A failed file action raises before anything is started, so a child never
starts in the wrong directory or on the wrong terminal.

The opaque C types are given their sizes on 64-bit glibc and musl (the largest of the
ABIs streamshell runs on; 32-bit ABIs are smaller). ``tests/test_spawn.py`` compiles a C
program that checks them against the real ``sizeof``.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import os
import resource
import sys
from collections.abc import Iterator, Sequence

SIGSET_BYTES = 128
"""``sizeof(sigset_t)``: 1024 bits on glibc and musl."""
SPAWNATTR_BYTES = 336
"""``sizeof(posix_spawnattr_t)`` on 64-bit glibc and musl."""
FILE_ACTIONS_BYTES = 80
"""``sizeof(posix_spawn_file_actions_t)`` on 64-bit glibc and musl."""

POSIX_SPAWN_SETSIGDEF = 0x04
POSIX_SPAWN_SETSIGMASK = 0x08
POSIX_SPAWN_SETSID = 0x80
"""glibc's flag values (``<spawn.h>``); ``POSIX_SPAWN_SETSID`` needs glibc >= 2.26."""

FIRST_PRIVATE_FD = 3
"""Every fd from this one up is closed in the child: it gets only stdin, stdout and stderr."""


def _opaque(size: int) -> type[ctypes.Array[ctypes.c_uint64]]:
    """A buffer of ``size`` bytes, 8-byte aligned, standing for an opaque C type."""
    return ctypes.c_uint64 * (size // 8)


SigSet = _opaque(SIGSET_BYTES)
SpawnAttr = _opaque(SPAWNATTR_BYTES)
FileActions = _opaque(FILE_ACTIONS_BYTES)


class SetupError(OSError):
    """A libc call that prepares a spawn failed; nothing was started. ``strerror`` names the call."""


def _check_result(result: int, what: str) -> None:
    """Raise for a ``posix_spawn*`` result, which is an error number (0: success)."""
    if result:
        raise SetupError(result, f"{what}: {os.strerror(result)}")


def _check_minus_one(result: int, what: str) -> int:
    """Raise for a -1 result (the error is in ``errno``); return the result otherwise."""
    if result == -1:
        err = ctypes.get_errno()
        raise SetupError(err, f"{what}: {os.strerror(err)}")
    return result


class PosixSpawn:
    """``posix_spawn`` with shared attributes (new session, default signals) and per-call file actions."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
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
        libc.ptsname_r.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]
        libc.posix_spawn_file_actions_addclose.argtypes = [ptr, ctypes.c_int]
        libc.sigaddset.argtypes = [ptr, ctypes.c_int]
        self._closefrom = getattr(libc, "posix_spawn_file_actions_addclosefrom_np", None)
        if self._closefrom is not None:
            self._closefrom.argtypes = [ptr, ctypes.c_int]
        self._libc = libc
        self._attrs: dict[tuple[int, ...], ctypes.Array[ctypes.c_uint64]] = {}
        self._attributes(())
        self._last_env: tuple[dict[str, str], ctypes.Array[ctypes.c_char_p]] | None = None

    def __repr__(self) -> str:
        closing = "closefrom" if self._closefrom is not None else "close actions"
        return f"<PosixSpawn libc {closing}>"

    def _attributes(self, blocked: tuple[int, ...]) -> ctypes.Array[ctypes.c_uint64]:
        """The spawn attributes: new session, every signal at its default, ``blocked`` blocked
        (none but for a sandbox's bwrap, see :mod:`.sandbox`).

        Resetting signals matters: a server started in the background by a shell
        has SIGINT ignored and Python ignores SIGPIPE; children would inherit
        that, and Ctrl-C in a session would do nothing. Built once per ``blocked`` and shared:
        ``posix_spawn`` only reads them.
        """
        if blocked in self._attrs:
            return self._attrs[blocked]
        libc = self._libc
        attr, sigdef, sigmask = SpawnAttr(), SigSet(), SigSet()
        _check_result(libc.posix_spawnattr_init(attr), "posix_spawnattr_init")
        _check_minus_one(libc.sigfillset(sigdef), "sigfillset")
        _check_minus_one(libc.sigemptyset(sigmask), "sigemptyset")
        for sig in blocked:
            _check_minus_one(libc.sigaddset(sigmask, sig), "sigaddset")
        _check_result(libc.posix_spawnattr_setsigdefault(attr, sigdef), "posix_spawnattr_setsigdefault")
        _check_result(libc.posix_spawnattr_setsigmask(attr, sigmask), "posix_spawnattr_setsigmask")
        flags = POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK
        _check_result(libc.posix_spawnattr_setflags(attr, flags), "posix_spawnattr_setflags")
        self._attrs[blocked] = attr
        return attr

    def _envp(self, env: dict[str, str]) -> ctypes.Array[ctypes.c_char_p]:
        """``env`` as a C ``envp``, reusing the previous one when ``env`` is equal to it.

        It nearly always is (a manager's environment rarely changes), so encoding it
        again for each spawn would be wasted work. The array keeps its bytes alive and
        is never written to, so sharing it is safe.
        """
        last = self._last_env
        if last is not None and last[0] == env:
            return last[1]
        encoded = [os.fsencode(f"{k}={v}") for k, v in env.items()]
        envp = (ctypes.c_char_p * (len(encoded) + 1))(*encoded, None)
        self._last_env = (dict(env), envp)
        return envp

    def open_pty(self) -> tuple[int, str]:
        """A new PTY master and the path of its slave, which only the child opens.

        ``os.openpty`` opens the slave in this process as well, and the child then
        opens it again by path to make it its controlling terminal: not opening it
        here saves system calls on every spawn. The child has opened it by the time
        ``posix_spawn`` returns, so the master never reads EIO before that.
        """
        libc = self._libc
        master = _check_minus_one(libc.posix_openpt(os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC), "posix_openpt")
        name = ctypes.create_string_buffer(64)
        try:
            _check_minus_one(libc.grantpt(master), "grantpt")
            _check_minus_one(libc.unlockpt(master), "unlockpt")
            _check_result(libc.ptsname_r(master, name, len(name)), "ptsname_r")
        except OSError:
            os.close(master)
            raise
        return master, os.fsdecode(name.value)

    def _file_actions(
        self,
        actions: ctypes.Array[ctypes.c_uint64],
        cwd: str,
        opens: Sequence[tuple[int, str]],
        dups: Sequence[tuple[int, int]],
    ) -> None:
        """In this order: fds held here become 0-2 (``dups`` from fds >= 3), every other fd is
        closed, ``opens`` happen (so they never need an fd above the child's limit), then the
        remaining ``dups`` (among 0-2) and the working directory."""
        libc = self._libc
        inherited = [(src, dst) for src, dst in dups if src >= FIRST_PRIVATE_FD]
        for src, dst in inherited:
            self._dup2(actions, src, dst)
        self._close_private_fds(actions)
        for fd, path in opens:
            result = libc.posix_spawn_file_actions_addopen(actions, fd, os.fsencode(path), os.O_RDWR, 0)
            _check_result(result, f"opening {path} in the child")
        for src, dst in dups:
            if src < FIRST_PRIVATE_FD:
                self._dup2(actions, src, dst)
        result = libc.posix_spawn_file_actions_addchdir_np(actions, os.fsencode(cwd))
        _check_result(result, "posix_spawn_file_actions_addchdir_np")

    def _dup2(self, actions: ctypes.Array[ctypes.c_uint64], src: int, dst: int) -> None:
        result = self._libc.posix_spawn_file_actions_adddup2(actions, src, dst)
        _check_result(result, "posix_spawn_file_actions_adddup2")

    def _close_private_fds(self, actions: ctypes.Array[ctypes.c_uint64]) -> None:
        """Close every fd >= 3 in the child: one action where libc has closefrom, else one close
        per fd that would survive the exec (close-on-exec ones go by themselves)."""
        if self._closefrom is not None:
            result = self._closefrom(actions, FIRST_PRIVATE_FD)
            _check_result(result, "posix_spawn_file_actions_addclosefrom_np")
            return
        for fd in _inheritable_fds():
            result = self._libc.posix_spawn_file_actions_addclose(actions, fd)
            _check_result(result, "posix_spawn_file_actions_addclose")

    def __call__(
        self,
        path: str,
        argv: Sequence[str],
        env: dict[str, str],
        cwd: str,
        opens: Sequence[tuple[int, str]],
        dups: Sequence[tuple[int, int]],
        open_files_limit: int | None = None,
        blocked: tuple[int, ...] = (),
    ) -> int:
        """Start ``path`` in ``cwd`` with ``opens`` (fd, path) and ``dups`` (src, dst) as its fds
        0-2 and nothing else (see :meth:`_file_actions` for the order).

        ``blocked``: signals blocked in the child. ``open_files_limit`` is the child's soft
        RLIMIT_NOFILE when this process raised its own
        (see :func:`soft_open_files_limit`). Returns the child's pid; raises OSError when a file
        action cannot be recorded or the spawn fails (the child then never ran).
        """
        libc = self._libc
        actions = FileActions()
        _check_result(libc.posix_spawn_file_actions_init(actions), "posix_spawn_file_actions_init")
        try:
            self._file_actions(actions, cwd, opens, dups)
            encoded = [os.fsencode(a) for a in argv]
            c_argv = (ctypes.c_char_p * (len(encoded) + 1))(*encoded, None)
            pid = ctypes.c_int()
            with soft_open_files_limit(open_files_limit):
                result = libc.posix_spawn(
                    ctypes.byref(pid),
                    os.fsencode(path),
                    actions,
                    self._attributes(blocked),
                    c_argv,
                    self._envp(env),
                )
        finally:
            libc.posix_spawn_file_actions_destroy(actions)
        if result:
            raise OSError(result, os.strerror(result), path)
        return pid.value


def _inheritable_fds() -> list[int]:
    """This process's fds >= 3 without close-on-exec (Python makes its own close-on-exec)."""
    found = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd < FIRST_PRIVATE_FD:
            continue
        with contextlib.suppress(OSError):  # the listing's own fd, already closed
            if not fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC:
                found.append(fd)
    return found


@contextlib.contextmanager
def soft_open_files_limit(limit: int | None) -> Iterator[None]:
    """While the block runs, this process's soft RLIMIT_NOFILE is ``limit`` (None: unchanged), so
    a child started in it inherits that one, not the raised limit of a server that needs many fds.

    ``posix_spawn`` cannot run code in the child, so the parent's limit is lowered around it:
    the call allocates no fd here, and the child's file actions close every fd >= 3 before
    opening any, so nothing needs an fd above the lowered limit. Fds already open above it stay
    valid. (Another thread opening an fd at that very moment could get EMFILE.)
    """
    if limit is None:
        yield
        return
    current = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = open_files_limits(limit)
    if wanted == current:
        yield
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, wanted)
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, current)


def open_files_limits(soft: int) -> tuple[int, int]:
    """The (soft, hard) RLIMIT_NOFILE pair for a child whose soft limit should be ``soft``: the
    hard limit stays, and a soft one above it is cut to it."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return (soft if hard == resource.RLIM_INFINITY else min(soft, hard)), hard


@functools.cache
def load() -> PosixSpawn | None:
    """The libc spawner, loaded on first use; None off Linux or where libc lacks a function."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return PosixSpawn()
    except (OSError, AttributeError):
        return None
