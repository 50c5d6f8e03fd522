"""The kill mechanism: where a session's processes are kept, so that every one of them dies with it.

A session's process group is not enough. ``setsid sleep 1000 &``, ``setsid -f``, a
double-forked daemon, ``set -m`` job control and ``setpgid(0, 0)`` all leave the group (and
the terminal's session) and survive a group kill. Linux offers better, best first:

``cgroup``
    A cgroup v2 per session, made inside this process's own cgroup where this process may
    create cgroups and move itself (root, or a delegated subtree). Nothing a process does
    takes it out of its cgroup (short of writing another cgroup's ``cgroup.procs``, which
    needs rights over that cgroup), and ``cgroup.kill`` SIGKILLs every member at once, forks
    in flight included. ``posix_spawn`` cannot run code in the child, so this process moves
    itself into the session's cgroup around the spawn (two writes, ~0.1 ms) and the child is
    born there.
``subreaper``
    This process becomes a child subreaper (``PR_SET_CHILD_SUBREAPER``): orphans of its
    sessions (daemons) are re-parented to it instead of init, so they stay in its tree, and
    each session's environment carries a marker (``STREAMSHELL_SESSION``) that its processes
    inherit. A session's processes are those of this process's tree that carry its marker,
    and their descendants. A process that leaves the tree *and* drops the marker (``env -i``
    after a double fork) escapes.
``process-group``
    The session's process group only (macOS, or where nothing else is allowed).

Each session gets a :class:`Cell` from its manager's :class:`Containment`. A cell is entered
around the spawn, tells whether any of its processes is left (:meth:`Cell.occupied`),
signals them all, kills them all, and is released once empty. :meth:`Containment.watchdog_lines`
tells the watchdog how to kill every cell if this process dies.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import secrets
import signal
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from .options import MECHANISMS
from .posix_spawn import SetupError

"""The kill mechanisms, best first; ``auto`` picks the first this process may use."""

MARKER = "STREAMSHELL_SESSION"
"""The environment variable that marks a session's processes (the subreaper mechanism)."""

PR_SET_CHILD_SUBREAPER = 36
"""``prctl`` option (``<linux/prctl.h>``)."""

log = logging.getLogger(__name__)


class Unavailable(Exception):
    """A mechanism cannot be used by this process; ``str()`` says why."""


class Cell:
    """One session's processes beyond its own process group: nothing, for ``process-group``."""

    environment: Mapping[str, str] = {}
    """Variables the session's process starts with (a marker)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """Around the spawn: a child started in the block belongs to the cell."""
        yield

    def started(self, leader: int) -> None:
        """The session's process is ``leader``: the cell never reaps it (its owner does)."""

    def occupied(self) -> bool:
        """Whether any process of the cell is alive (zombies do not count)."""
        return False

    def signal(self, sig: int) -> None:
        """Send ``sig`` to every process of the cell."""

    def kill(self) -> None:
        """SIGKILL every process of the cell (at once where the mechanism can)."""

    def release(self) -> bool:
        """Forget the cell once it is empty; False when it is not (try again later)."""
        return True


class Containment:
    """A manager's kill mechanism: it makes one :class:`Cell` per session."""

    name = "process-group"

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def cell(self) -> Cell:
        return Cell()

    def watchdog_lines(self) -> list[bytes]:
        """What the watchdog must be told (once) to kill every cell if this process dies."""
        return []

    def close(self) -> None:
        """Remove what the containment made (its cells are empty by now: killed if not)."""


# ----- cgroup v2 -----------------------------------------------------------------------------


def _cgroup2_directory() -> Path:
    """This process's own cgroup v2 directory, or :class:`Unavailable`."""
    if not sys.platform.startswith("linux"):
        raise Unavailable("cgroups are Linux's")
    mount: tuple[str, str] | None = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields, _, rest = line.partition(" - ")
            if rest.split(" ", 1)[0] == "cgroup2":
                parts = fields.split(" ")
                mount = (parts[3], parts[4])
                break
    if mount is None:
        raise Unavailable("no cgroup v2 hierarchy is mounted")
    root, mount_point = mount
    with open("/proc/self/cgroup") as f:
        own = next((line.strip()[3:] for line in f if line.startswith("0::")), None)
    if own is None:
        raise Unavailable("this process is in no cgroup v2")
    if root != "/":
        if not own.startswith(root):
            raise Unavailable(f"this process's cgroup {own} is outside the mounted {root}")
        own = own[len(root) :]
    return Path(mount_point) / own.lstrip("/")


def _write(path: Path, text: str) -> None:
    """One ``write(2)`` to a control file (no buffered file object: two per spawn)."""
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _read(path: Path) -> bytes:
    """A small control file's contents, in one ``read(2)``."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, 65536)
    finally:
        os.close(fd)


def _move(pid: int, cgroup: Path) -> None:
    _write(cgroup / "cgroup.procs", str(pid))


def _remove_tree(directory: Path) -> bool:
    """rmdir a cgroup and the cgroups under it (a nested server's); False when one is not empty."""
    try:  # the common case, a session's cgroup without cgroups under it: one rmdir
        directory.rmdir()
    except FileNotFoundError:
        return True
    except OSError as e:
        if e.errno not in (errno.EBUSY, errno.ENOTEMPTY):
            raise
    else:
        return True
    try:  # scandir's d_type: no stat of each of the cgroup's ~20 control files
        with os.scandir(directory) as entries:
            children = [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return True
    removed = all([_remove_tree(child) for child in children])
    try:
        directory.rmdir()
    except FileNotFoundError:
        return True
    except OSError as e:
        if e.errno in (errno.EBUSY, errno.ENOTEMPTY):
            return False
        raise
    return removed


CGROUP_PREFIX = "streamshell-"
"""A containment's cgroup is named ``streamshell-PID-NONCE`` after the process that made it."""


def _remove_stale(home: Path) -> None:
    """Remove the empty cgroups left by processes that died without their watchdog (or before it
    could finish): their pid is gone. A cgroup that still holds processes is left alone."""
    with contextlib.suppress(OSError):
        for path in home.glob(f"{CGROUP_PREFIX}*-*"):
            pid = path.name[len(CGROUP_PREFIX) :].split("-", 1)[0]
            if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
                with contextlib.suppress(OSError):
                    _remove_tree(path)


class CgroupCell(Cell):
    """A session's own cgroup v2 (made when it is entered, removed once empty)."""

    def __init__(self, path: Path, home: Path) -> None:
        self.path = path
        self._home = home
        self._made = False
        self._leader = 0

    def __repr__(self) -> str:
        return f"<CgroupCell {self.path}>"

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """This process moves itself into the cell for the spawn and back: the child is born
        in it, before it can run anything (``posix_spawn`` runs no code of ours in the child).
        Another thread of this process that forks at that very moment puts its child here too."""
        pid = os.getpid()
        try:
            self.path.mkdir()
            self._made = True
            _move(pid, self.path)
        except OSError as e:
            self.release()
            raise SetupError(e.errno or 0, f"creating the session's cgroup: {e.strerror}") from None
        try:
            yield
        finally:
            try:
                _move(pid, self._home)
            except OSError:  # never seen; this process must not stay where its session is killed
                log.critical("could not move this process out of %s", self.path, exc_info=True)
                raise

    def started(self, leader: int) -> None:
        self._leader = leader

    def occupied(self) -> bool:
        if not self._made:
            return False
        try:
            events = _read(self.path / "cgroup.events")
        except FileNotFoundError:
            return False
        return b"populated 1" in events

    def _members(self) -> list[int]:
        try:
            return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
        except FileNotFoundError:
            return []

    def signal(self, sig: int) -> None:
        for pid in self._members():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    def kill(self) -> None:
        if self._made:
            with contextlib.suppress(FileNotFoundError):
                _write(self.path / "cgroup.kill", "1")

    def release(self) -> bool:
        return not self._made or _remove_tree(self.path)


class CgroupContainment(Containment):
    """A cgroup per session under ``streamshell-PID-NONCE`` in this process's own cgroup."""

    name = "cgroup"

    def __init__(self) -> None:
        self._home = _cgroup2_directory()
        self.path = self._home / f"{CGROUP_PREFIX}{os.getpid()}-{secrets.token_hex(3)}"
        self._next = 0
        _remove_stale(self._home)
        try:
            self.path.mkdir()
        except OSError as e:
            raise Unavailable(f"cannot create a cgroup in {self._home}: {e.strerror}") from None
        try:
            if not (self.path / "cgroup.kill").exists():
                raise Unavailable("this kernel has no cgroup.kill (Linux < 5.14)")
            _move(os.getpid(), self.path)  # the spawn's move, tried once: both ways must work
            _move(os.getpid(), self._home)
        except (OSError, Unavailable) as e:
            _remove_tree(self.path)
            reason = e if isinstance(e, Unavailable) else e.strerror
            raise Unavailable(f"cannot move this process between cgroups: {reason}") from None

    def __repr__(self) -> str:
        return f"<CgroupContainment {self.path}>"

    def cell(self) -> CgroupCell:
        self._next += 1
        return CgroupCell(self.path / f"s{self._next}", self._home)

    def watchdog_lines(self) -> list[bytes]:
        return [b"+c" + os.fsencode(self.path) + b"\n"]

    def close(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            _write(self.path / "cgroup.kill", "1")
        if not _remove_tree(self.path):
            log.warning("could not remove the cgroup %s: processes are still dying in it", self.path)


# ----- subreaper + marker --------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    """``pid``'s children (of every thread), zombies included."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{tid}/children") as f:
            found.extend(int(p) for p in f.read().split())
    return found


def _environment_has(pid: int, entry: bytes) -> bool:
    """Whether ``pid``'s environment holds ``entry`` (``NAME=value``; a prefix when it ends in '.')."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            environ = f.read()
    except OSError:
        return False
    if entry.endswith(b"."):
        return b"\0" + entry in b"\0" + environ
    return entry in environ.split(b"\0")


def _state(pid: int) -> str | None:
    """A process's one-letter state ('Z': zombie), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(b")") + 2 :][:1].decode()


def _set_subreaper(on: bool) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) != 0:
        raise Unavailable(f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}")


class MarkedCell(Cell):
    """A session's processes: those in this process's tree that carry the session's marker, and
    their descendants."""

    def __init__(self, value: str) -> None:
        self.environment = {MARKER: value}
        self._entry = f"{MARKER}={value}".encode()
        self._leader = 0

    def __repr__(self) -> str:
        return f"<MarkedCell {self._entry.decode()}>"

    def started(self, leader: int) -> None:
        self._leader = leader

    def _members(self) -> list[int]:
        """Walk this process's tree: a child of ours carrying the marker (the leader, or a daemon
        re-parented to us) and everything under it. Zombies of ours found on the way are reaped,
        except the leader, whose exit its owner reads."""
        me = os.getpid()
        members: list[int] = []
        stack = [(pid, False) for pid in _children(me)]
        while stack:
            pid, inherited = stack.pop()
            marked = inherited or _environment_has(pid, self._entry)
            if marked:
                if pid != self._leader and _state(pid) == "Z":
                    self._reap(pid)
                    continue
                members.append(pid)
                stack.extend((child, True) for child in _children(pid))
        return members

    def _reap(self, pid: int) -> None:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)

    def occupied(self) -> bool:
        return any(pid != self._leader or _state(pid) != "Z" for pid in self._members())

    def signal(self, sig: int) -> None:
        for pid in self._members():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    def kill(self) -> None:
        """SIGKILL every member found now; forks in flight are caught by the next call (the
        owner repeats until :meth:`occupied` says none is left)."""
        self.signal(signal.SIGKILL)

    def release(self) -> bool:
        return not self.occupied()


class SubreaperContainment(Containment):
    """This process as a child subreaper, and a marker per session.

    Being a subreaper is a property of the whole process, so it is counted: the process stops
    being one when the last open subreaper containment closes (children it adopted stay its own).
    """

    name = "subreaper"
    _open = 0
    """Subreaper containments open in this process (the flag they share is process-wide)."""

    def __init__(self) -> None:
        if not sys.platform.startswith("linux"):
            raise Unavailable("PR_SET_CHILD_SUBREAPER is Linux's")
        _set_subreaper(True)
        SubreaperContainment._open += 1
        self._closed = False
        self.nonce = secrets.token_hex(4)
        self._next = 0

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        SubreaperContainment._open -= 1
        if SubreaperContainment._open == 0:
            _set_subreaper(False)

    def __repr__(self) -> str:
        return f"<SubreaperContainment {MARKER}={self.nonce}.*>"

    def cell(self) -> MarkedCell:
        self._next += 1
        return MarkedCell(f"{self.nonce}.{self._next}")

    def watchdog_lines(self) -> list[bytes]:
        return [f"+m{MARKER}={self.nonce}.\n".encode()]


# ----- choosing ------------------------------------------------------------------------------

_MAKERS = {"cgroup": CgroupContainment, "subreaper": SubreaperContainment, "process-group": Containment}


def open_containment(mechanism: str) -> Containment:
    """The containment ``mechanism`` names; ``auto`` is the best this process may use (logged).

    Raises :class:`Unavailable` when a named mechanism cannot be used here.
    """
    if mechanism != "auto":
        return _MAKERS[mechanism]()
    reasons = []
    for name in MECHANISMS:
        try:
            containment = _MAKERS[name]()
        except Unavailable as e:
            reasons.append(f"{name}: {e}")
            continue
        log.info("sessions are contained by %s%s", containment, f" ({'; '.join(reasons)})" if reasons else "")
        return containment
    raise AssertionError("the process-group mechanism is always available")
