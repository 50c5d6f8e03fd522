"""The sandbox policy, named as Codex names it, and the bubblewrap command line that enforces it.

A :class:`SandboxPolicy` says what a session's processes may do: ``danger-full-access`` (no
sandbox), ``read-only`` (nothing writable but a private ``/tmp``) or ``workspace-write`` (the
workspace and the writable roots too), and whether they reach the network. The same object
shapes what the model is told (``ToolsConfig``) and what is enforced (:class:`Sandbox`).

On Linux a sandboxed session runs under bubblewrap (``bwrap``, as Codex's Linux sandbox does):

- ``--ro-bind / /``: the whole filesystem read-only (submounts included);
- ``--dev /dev`` with ``/dev/pts`` bound back: the PTY stays the controlling terminal;
- ``--proc /proc`` in a new PID namespace (``--unshare-pid``): the session sees only its own
  processes, ``/proc/$PPID/environ`` is not the server's, and when the session's process
  exits the namespace's init dies and the kernel kills everything left in it (``setsid``
  and daemons included); ``--die-with-parent`` kills it if the server dies;
- ``--tmpfs /tmp``: a private, empty ``/tmp``; the workspace and writable roots are bound
  *after* it, so those under ``/tmp`` stay visible;
- each writable root bound read-write, then its ``.git`` (directory or ``gitdir:`` pointer
  file), the git directory a pointer names and that one's common directory bound read-only
  again: a hook or ``core.hooksPath`` planted there would run *outside* the sandbox at the
  user's next ``git commit``. (Codex protects ``.git``, the pointer's target and ``.codex``;
  the common directory, where a worktree's hooks and config actually live, is the addition.)
- ``--unshare-net`` when network is off: only a loopback of its own.

bwrap does not forward signals, and it sits in the session's process group with the command:
Ctrl-C (or Ctrl-\\) would kill bwrap itself, and the namespace with it, so a REPL could not
catch its KeyboardInterrupt; and a kill's SIGHUP would end a command that ignores it (the
session would say 129 where it says 137 without the sandbox). bwrap is therefore started with
SIGINT, SIGQUIT, SIGHUP and SIGTERM *blocked* (:data:`SHIELDED_SIGNALS`; the spawn's own
signal mask, so it costs nothing; a blocked signal stays pending, and bwrap and its
namespace's init never unblock it), and the command runs under ``env --default-signal=...``,
which unblocks them and sets them to their defaults. The process group stays the session's
own, as without the sandbox: Ctrl-C reaches every process in it, and bwrap exits with the
command's exit code (128+N for a death by signal N; :class:`~streamshell.results.Exited`'s
``signal`` cannot tell that from ``exit 128+N`` under a sandbox). Only SIGKILL ends bwrap
before its command. One exec of ``env``, no fork (a job-control wrapper, ``bash -c 'set -m;
...'``, cost a whole bash start per spawn).
"""

from __future__ import annotations

import contextlib
import enum
import functools
import logging
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


class SandboxMode(enum.StrEnum):
    """How commands are confined (Codex's ``sandbox_mode``)."""

    READ_ONLY = "read-only"
    WORKSPACE_WRITE = "workspace-write"
    DANGER_FULL_ACCESS = "danger-full-access"


MODES = tuple(m.value for m in SandboxMode)


def sandbox_mode(value: object) -> SandboxMode:
    """``value`` as a mode; a ``ValueError`` listing the three otherwise."""
    try:
        return SandboxMode(str(value)) if isinstance(value, str) else SandboxMode(value)  # type: ignore[arg-type]
    except ValueError:
        raise ValueError(
            f"sandbox = {value!r} is not a sandbox mode: use one of {', '.join(MODES)}"
        ) from None


@dataclass(frozen=True)
class SandboxPolicy:
    """A sandbox mode and what it allows.

    ``network_access`` and ``writable_roots`` matter only when sandboxed; writable roots only
    under workspace-write (the workspace itself, the manager's ``cwd``, is always one there).
    """

    mode: SandboxMode = SandboxMode.DANGER_FULL_ACCESS
    network_access: bool = False
    writable_roots: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", sandbox_mode(self.mode))

    @property
    def sandboxed(self) -> bool:
        return self.mode is not SandboxMode.DANGER_FULL_ACCESS

    def describe(self, workspace: str) -> str:
        """One line for people: what sessions may write and reach."""
        if not self.sandboxed:
            return "sandbox: danger-full-access (no sandbox: commands run with this process's rights)"
        if self.mode is SandboxMode.WORKSPACE_WRITE:
            roots = ", ".join([workspace, *self.writable_roots, "a private /tmp"])
            writes = f"writable: {roots} (.git inside them read-only)"
        else:
            writes = "writable: only a private /tmp"
        network = "network on" if self.network_access else "network off"
        return f"sandbox: {self.mode.value}; {writes}; {network}"


class SandboxUnavailable(Exception):
    """The sandbox cannot be set up on this machine; ``str()`` says what to install or enable."""


INSTALL_HINT = (
    "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap) "
    "or choose sandbox danger-full-access"
)

SHIELDED_SIGNALS = (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGTERM)
"""Signals the session's group gets from the keyboard (INT, QUIT) and from a kill (HUP, TERM)
that must reach only the command: blocked for bwrap, at their defaults again for the command
(see the module)."""


def _git_directories(root: Path) -> list[Path]:
    """What must stay read-only under ``root``: ``.git`` (a directory, or a ``gitdir:`` pointer
    file), the git directory a pointer names, and the common directory that one names."""
    dot_git = root / ".git"
    found = [dot_git] if dot_git.exists() or dot_git.is_symlink() else []
    git_dir = dot_git
    if dot_git.is_file():
        try:
            text = dot_git.read_text(errors="replace").strip()
        except OSError:
            text = ""
        if text.startswith("gitdir:"):
            git_dir = (root / text[len("gitdir:") :].strip()).resolve()
            found.append(git_dir)
    common = git_dir / "commondir"
    if common.is_file():
        with contextlib.suppress(OSError):
            found.append((git_dir / common.read_text(errors="replace").strip()).resolve())
    return found


def _inside(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


@functools.cache
def _bwrap() -> str | None:
    return shutil.which("bwrap")


@functools.cache
def _env() -> str | None:
    return shutil.which("env")


class Sandbox:
    """A policy made ready for one workspace: the bwrap command line every session gets.

    Made at manager start: :class:`SandboxUnavailable` when the policy cannot be enforced here
    (no bubblewrap, no namespaces, not Linux), never a silent fall back to full access.
    """

    def __init__(self, policy: SandboxPolicy, workspace: str | None) -> None:
        self.policy = policy
        self.workspace = workspace
        self._prefix: tuple[str, ...] = ()
        self._inner: tuple[str, ...] = ()
        self._writable: tuple[Path, ...] = ()
        if policy.sandboxed:
            self._prefix = self._prepare()

    def __repr__(self) -> str:
        policy = self.policy
        return f"<Sandbox {policy.mode.value} network={policy.network_access} writable={self._writable}>"

    @property
    def prefix(self) -> tuple[str, ...]:
        """The bwrap command line before a session's own part (empty: no sandbox)."""
        return self._prefix

    def _prepare(self) -> tuple[str, ...]:
        if not sys.platform.startswith("linux"):
            raise SandboxUnavailable(
                f"sandbox {self.policy.mode.value} is not supported on this platform ({sys.platform}): "
                "only Linux (bubblewrap) is; choose sandbox danger-full-access"
            )
        bwrap = _bwrap()
        if bwrap is None:
            raise SandboxUnavailable(
                f"sandbox {self.policy.mode.value} needs bubblewrap (bwrap): {INSTALL_HINT}"
            )
        env = _env()
        if env is None:
            raise SandboxUnavailable(f"sandbox {self.policy.mode.value} needs env (coreutils >= 8.31)")
        names = ",".join(signal.Signals(s).name.removeprefix("SIG") for s in SHIELDED_SIGNALS)
        self._inner = (env, f"--default-signal={names}")
        roots: list[Path] = []
        if self.policy.mode is SandboxMode.WORKSPACE_WRITE:
            roots += self._workspace()
            for given in self.policy.writable_roots:
                path = Path(given).resolve()
                if not path.is_dir():
                    raise SandboxUnavailable(f"writable root {given} is not an existing directory")
                roots.append(path)
        self._writable = tuple(roots)
        prefix = self._policy_arguments(bwrap, roots)
        self._check([*prefix, "--", *self._inner, "true"])
        return prefix

    def _policy_arguments(self, bwrap: str, roots: Sequence[Path]) -> tuple[str, ...]:
        """bwrap's command line for ``roots`` writable (and their ``.git`` read-only)."""
        prefix = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--dev-bind", "/dev/pts", "/dev/pts"]
        prefix += ["--proc", "/proc", "--tmpfs", "/tmp"]
        for root in roots:
            prefix += ["--bind", str(root), str(root)]
        for root in roots:
            for protected in _git_directories(root):
                if _inside(protected, roots):
                    prefix += ["--ro-bind", str(protected), str(protected)]
        prefix += ["--unshare-pid", "--die-with-parent"]
        if not self.policy.network_access:
            prefix += ["--unshare-net"]
        return tuple(prefix)

    def _current_prefix(self) -> tuple[str, ...]:
        """The prefix, without the writable roots deleted since the start (bwrap cannot bind a
        missing directory: every session would fail, not only those that need it)."""
        existing = [root for root in self._writable if os.path.isdir(root)]
        if len(existing) == len(self._writable):
            return self._prefix
        log.warning(
            "writable roots deleted since the start: %s",
            [str(r) for r in self._writable if r not in existing],
        )
        self._writable = tuple(existing)
        self._prefix = self._policy_arguments(self._prefix[0], existing)
        return self._prefix

    def _workspace(self) -> list[Path]:
        """The workspace as a writable root; none when it has been deleted (``rm -rf $PWD`` under
        a running server): a manager made then still starts, and only the calls that need the
        workspace fail, as without the sandbox."""
        path = Path(self.workspace).resolve() if self.workspace is not None else None
        if path is None or not path.is_dir():
            log.warning("the workspace %s does not exist: nothing of it is writable", self.workspace)
            return []
        return [path]

    @staticmethod
    def _check(command: Sequence[str]) -> None:
        """Run ``true`` under the policy once: namespaces that are not allowed here (user
        namespaces off, a container without them) fail now, with bwrap's own reason (an
        ``env`` too old for ``--default-signal`` fails here too, saying so)."""
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                timeout=30,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise SandboxUnavailable(f"bubblewrap cannot run here: {e}") from None
        if done.returncode != 0:
            reason = done.stderr.decode(errors="replace").strip() or f"exit code {done.returncode}"
            raise SandboxUnavailable(
                f"bubblewrap cannot set up the sandbox here: {reason} (it needs user namespaces, or root: "
                "enable kernel.unprivileged_userns_clone / user.max_user_namespaces, or run as root)"
            )

    def visible(self, cwd: str) -> list[str]:
        """Bind a working directory the private ``/tmp`` would hide, read-only (it is the
        session's own choice; writable roots under ``/tmp`` are bound already)."""
        path = Path(cwd)
        hidden = path == Path("/tmp") or Path("/tmp") in path.parents
        if hidden and not _inside(path.resolve(), self._writable):
            return ["--ro-bind", cwd, cwd]
        return []

    def wrap(self, argv: Sequence[str], cwd: str) -> list[str]:
        """The command line that runs ``argv`` in ``cwd`` under the policy (``argv`` itself when
        there is no sandbox). ``env`` finds ``argv[0]`` in the session's ``PATH``, as the spawn
        itself would."""
        if not self._prefix:
            return list(argv)
        return [*self._current_prefix(), *self.visible(cwd), "--chdir", cwd, "--", *self._inner, *argv]

    @property
    def blocked_signals(self) -> tuple[int, ...]:
        """Signals blocked in the process that runs :meth:`wrap`'s command line (see the module)."""
        return SHIELDED_SIGNALS if self._prefix else ()
