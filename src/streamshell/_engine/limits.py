"""How the resource limits per session (memory, processes, CPU time) are enforced here.

:class:`~.resource_limits.ResourceLimits` is what is asked for; a :class:`Limiter`, made at
manager start, works out how each requested limit is enforced on this machine and refuses to
start when one cannot be (never a silent "unlimited"):

``processes`` and ``memory_bytes``
    A cgroup per session where this process may make them: the ``pids`` and ``memory``
    controllers of a cgroup v1 hierarchy (a v1/v2 hybrid, as on these machines), under this
    process's own cgroup there. Like the kill mechanism's cgroup v2 (:mod:`.containment`), this
    process moves itself into the session's cgroups around the spawn, so the child is born
    in them. ``pids.max`` counts every process and thread of the session (the sandbox's own
    bwrap processes included); ``memory.limit_in_bytes`` (and the memory+swap limit) makes the
    kernel's OOM killer kill in that session only. Without such a cgroup: ``RLIMIT_AS`` for
    memory (per process: address space, not resident memory), ``RLIMIT_NPROC`` for processes
    where it holds (per *user*, and ignored for root: then processes cannot be limited).
``cpu_seconds``
    ``RLIMIT_CPU``: each process gets that many seconds of CPU, then SIGXCPU (exit code 152),
    then SIGKILL a second later.

rlimits are set by exec'ing util-linux's ``prlimit`` before the command (``posix_spawn`` runs
no code in the child).

A session that hits a limit gets a header line naming it (:meth:`LimitCell.hits`), read from
the cgroups' counters (``pids.events`` max, ``memory.oom_control`` oom_kill) or from the exit
code (152: SIGXCPU).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

from .containment import CGROUP_PREFIX, _move, _remove_stale, _remove_tree, _write
from .posix_spawn import SetupError
from .resource_limits import ResourceLimits

log = logging.getLogger(__name__)


class LimitsUnavailable(Exception):
    """A requested limit cannot be enforced here; ``str()`` says which and why."""


# ----- cgroup v1 controllers -----------------------------------------------------------------


def _v1_home(controller: str) -> Path | None:
    """This process's own cgroup in the v1 hierarchy of ``controller``, or None (no such
    hierarchy: cgroup v2 only, or not Linux)."""
    try:
        with open("/proc/self/mountinfo") as f:
            mounts = f.read().splitlines()
        with open("/proc/self/cgroup") as f:
            memberships = f.read().splitlines()
    except OSError:
        return None
    mount_point = None
    for line in mounts:
        fields, _, rest = line.partition(" - ")
        kind, _, options = rest.split(" ", 2) if rest.count(" ") >= 2 else (rest, "", "")
        if kind == "cgroup" and controller in options.split(","):
            mount_point = fields.split(" ")[4]
            break
    if mount_point is None:
        return None
    for line in memberships:
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return Path(mount_point) / path.lstrip("/")
    return None


class _Hierarchy:
    """A ``streamshell-PID-NONCE`` cgroup in one v1 controller's hierarchy, with a cgroup per
    session under it."""

    def __init__(self, controller: str, home: Path) -> None:
        self.controller = controller
        self.home = home
        self.path = home / f"{CGROUP_PREFIX}{os.getpid()}-{secrets.token_hex(3)}"
        _remove_stale(home)
        try:
            self.path.mkdir()
            _move(os.getpid(), self.path)  # the spawn's move, tried once: both ways must work
            _move(os.getpid(), home)
        except OSError as e:
            _remove_tree(self.path)
            raise LimitsUnavailable(f"cannot use the {controller} cgroup {home}: {e.strerror}") from None

    def __repr__(self) -> str:
        return f"<{self.controller} cgroup {self.path}>"

    def close(self) -> None:
        for cgroup in self.path.glob("s*"):
            _kill_members(cgroup)
        if not _remove_tree(self.path):
            log.warning("could not remove the cgroup %s: processes are still dying in it", self.path)


def _kill_members(cgroup: Path) -> None:
    with contextlib.suppress(OSError):
        for pid in (cgroup / "cgroup.procs").read_text().split():
            with contextlib.suppress(OSError):
                os.kill(int(pid), signal.SIGKILL)


class LimitCell:
    """One session's limit cgroups (none when rlimits do the work)."""

    def __init__(self, limits: ResourceLimits, cgroups: dict[str, Path], home: dict[str, Path]) -> None:
        self.limits = limits
        self._cgroups = cgroups
        self._home = home
        self._made: list[Path] = []

    def __repr__(self) -> str:
        return f"<LimitCell {', '.join(str(p) for p in self._cgroups.values()) or 'rlimits'}>"

    def _make(self) -> None:
        for controller, path in self._cgroups.items():
            path.mkdir()
            self._made.append(path)
            if controller == "pids":
                _write(path / "pids.max", str(self.limits.processes))
            else:
                _write(path / "memory.limit_in_bytes", str(self.limits.memory_bytes))
                swap = path / "memory.memsw.limit_in_bytes"
                if swap.exists():
                    _write(swap, str(self.limits.memory_bytes))

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """Around the spawn: this process sits in the session's cgroups, so its child is born there."""
        if not self._cgroups:
            yield
            return
        pid = os.getpid()
        try:
            self._make()
            for path in self._made:
                _move(pid, path)
        except OSError as e:
            self._leave(pid)
            self.release()
            raise SetupError(e.errno or 0, f"creating the session's limit cgroups: {e.strerror}") from None
        try:
            yield
        finally:
            self._leave(pid)

    def _leave(self, pid: int) -> None:
        for controller in self._cgroups:
            try:
                _move(pid, self._home[controller])
            except OSError:  # never seen; this process must not stay in a session's limits
                log.critical("could not move this process out of its session's %s cgroup", controller)
                raise

    def _counter(self, file: str, name: str) -> int:
        path = next((p for p in self._made if (p / file).exists()), None)
        if path is None:
            return 0
        with contextlib.suppress(OSError, ValueError):
            for line in (path / file).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == name:
                    return int(value)
        return 0

    def hits(self, exit_code: int | None) -> tuple[str, ...]:
        """The limits the session ran into, as header lines for its result."""
        found = []
        if self._counter("memory.oom_control", "oom_kill"):
            found.append(
                f"Limit: the memory limit ({self.limits.memory_bytes} bytes) was reached; "
                "the kernel killed a process of this session"
            )
        if self._counter("pids.events", "max"):
            found.append(
                f"Limit: the process limit ({self.limits.processes}) was reached; "
                "starting a process or thread failed"
            )
        if self.limits.cpu_seconds is not None and exit_code == 128 + signal.SIGXCPU:
            found.append(f"Limit: the CPU time limit ({self.limits.cpu_seconds} s per process) was reached")
        return tuple(found)

    def release(self) -> bool:
        """Remove the session's cgroups once empty; False when a process is still in one."""
        done = True
        for path in list(self._made):
            if _remove_tree(path):
                self._made.remove(path)
            else:
                _kill_members(path)
                done = False
        return done


class Limiter:
    """How a manager's :class:`ResourceLimits` are enforced here; :class:`LimitsUnavailable` at
    start when one of them cannot be."""

    def __init__(self, limits: ResourceLimits) -> None:
        self.limits = limits
        self._hierarchies: dict[str, _Hierarchy] = {}
        self.rlimits: list[str] = []
        self.mechanisms: list[str] = []
        self._next = 0
        try:
            self._choose()
        except LimitsUnavailable:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"<Limiter {self.limits.describe()} by {', '.join(self.mechanisms) or 'nothing'}>"

    def _cgroup(self, controller: str) -> _Hierarchy | None:
        home = _v1_home(controller)
        if home is None:
            return None
        try:
            hierarchy = _Hierarchy(controller, home)
        except LimitsUnavailable as e:
            log.info("%s", e)
            return None
        self._hierarchies[controller] = hierarchy
        return hierarchy

    def _choose(self) -> None:
        limits = self.limits
        if limits.processes is not None:
            if self._cgroup("pids") is not None:
                self.mechanisms.append("processes: cgroup pids.max")
            elif os.geteuid() != 0:
                self.rlimits.append(f"--nproc={limits.processes}")
                self.mechanisms.append("processes: RLIMIT_NPROC (counts every process of this user)")
            else:
                raise LimitsUnavailable(
                    "processes cannot be limited here: no cgroup pids controller this process may use, "
                    "and RLIMIT_NPROC does not hold for root (mount the cgroup v1 pids controller, or "
                    "run as another user)"
                )
        if limits.memory_bytes is not None:
            if self._cgroup("memory") is not None:
                self.mechanisms.append("memory: cgroup memory.limit_in_bytes")
            else:
                self.rlimits.append(f"--as={limits.memory_bytes}")
                self.mechanisms.append("memory: RLIMIT_AS per process")
        if limits.cpu_seconds is not None:
            self.rlimits.append(f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 1}")
            self.mechanisms.append("cpu: RLIMIT_CPU per process")
        if self.rlimits and _prlimit() is None:
            raise LimitsUnavailable("rlimits need prlimit (util-linux), which is not installed")
        if self.mechanisms:
            log.info("session limits: %s", "; ".join(self.mechanisms))

    def prefix(self) -> list[str]:
        """What runs before the command to set its rlimits (nothing when there are none)."""
        if not self.rlimits:
            return []
        prlimit = _prlimit()
        return [prlimit, *self.rlimits, "--"] if prlimit is not None else []

    def cell(self) -> LimitCell:
        self._next += 1
        cgroups = {c: h.path / f"s{self._next}" for c, h in self._hierarchies.items()}
        return LimitCell(self.limits, cgroups, {c: h.home for c, h in self._hierarchies.items()})

    def close(self) -> None:
        for hierarchy in self._hierarchies.values():
            hierarchy.close()
        self._hierarchies.clear()


def _prlimit() -> str | None:
    return shutil.which("prlimit")
