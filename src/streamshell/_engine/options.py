"""A session manager's options: one frozen dataclass, one set of defaults, one validation.

Each option is a field declared with :func:`option`: its default, a :class:`Rule` (what it
accepts, in words, and how a value is checked and normalized) and a help line. The
manager, the ``serve`` command line, the agent's config file and the agent all read
these declarations, so a default or a check is written once. Options marked ``user``
are the ones people set on the command line (``--max-sessions``) and in config files
(``max_sessions = 8``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..profiles import Profile, profile_of
from .environment import DEFAULT_DROP_ENV_CONTAINING, check_env_entry
from .resource_limits import SIZE_EXPECTED, ResourceLimits, limits_from, parse_size
from .sandbox import MODES, SandboxMode, SandboxPolicy

MECHANISMS = ("cgroup", "subreaper", "process-group")
"""The kill mechanisms (:mod:`.containment`), best first; declared here, where the option that
names them is, so parsing options imports none of the spawning code."""

_RULE = "streamshell.option"


class Rejected(ValueError):
    """A value an option does not accept."""


@dataclass(frozen=True)
class Rule:
    """What an option accepts: ``expected`` says it in words; ``convert`` returns the value as
    the option holds it, or raises :class:`Rejected` (optionally with a more precise reason)."""

    expected: str
    convert: Callable[[Any], Any]

    def problem(self, name: str, value: Any) -> str:
        """The one-line complaint about ``value`` for option ``name``."""
        shown = json.dumps(value, default=str, ensure_ascii=False)
        return f"{name} = {shown} is not {self.expected}"

    def apply(self, name: str, value: Any) -> Any:
        """``value`` converted, or :class:`Rejected` whose text names the option."""
        try:
            return self.convert(value)
        except Rejected as e:
            detail = str(e)
            raise Rejected(detail if detail else self.problem(name, value)) from None


_SAME = object()
"""``command_default``'s default: the commands use the library's default."""


@dataclass(frozen=True)
class Part:
    """One attribute of an option whose value has several (``limits``), set on its own by people:
    ``name`` is its flag (``max_memory``: ``--max-memory``) and config key."""

    attribute: str
    name: str
    rule: Rule
    help: str


@dataclass(frozen=True)
class OptionDoc:
    """An option's rule, its help line, and whether people set it (flags, config keys).

    ``flag`` and ``key`` name the flag and config key when they are not the option's name
    (``--transcripts`` for ``transcript_dir``; Codex's names: ``sandbox_mode``,
    ``sandbox_workspace_write.network_access``, a dot for a table); ``command_default`` is the
    default of ``serve`` and ``agent`` when it differs from the library's (a function when it
    reads the environment); an optional option whose command default is not None also gets
    ``--no-FLAG`` for None, helped by ``off_help``; ``parts`` are set one by one (see
    :class:`Part`); ``repeat``: the flag is given once per item of a list.
    """

    rule: Rule
    help: str
    user: bool
    flag: str | None = None
    key: str | None = None
    command_default: Any = _SAME
    off_help: str = ""
    parts: tuple[Part, ...] = ()
    repeat: bool = False


def option(default: Any, rule: Rule, help: str, *, user: bool = False, **naming: Any) -> Any:
    """Declare an option: a dataclass field with its :class:`OptionDoc` (``naming``: its other
    fields)."""
    return field(default=default, metadata={_RULE: OptionDoc(rule, help, user, **naming)})


def cast_bytes(default: int, what: str) -> Any:
    """A user option capping the bytes of casts (``what``); at least 64 KiB, room for a cast's
    header and first screens."""
    return option(default, whole_number(64 << 10), f"bytes {what}", user=True)


def option_doc(f: dataclasses.Field[Any]) -> OptionDoc:
    """The :class:`OptionDoc` of an option's field."""
    doc: OptionDoc = f.metadata[_RULE]
    return doc


# ----- rules ---------------------------------------------------------------------------------


def _whole(value: Any, minimum: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= minimum:
        return value
    raise Rejected


def whole_number(minimum: int) -> Rule:
    return Rule(f"a whole number >= {minimum}", lambda v: _whole(v, minimum))


def _seconds(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0:
        return float(value)
    raise Rejected


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise Rejected


def _directory(value: Any) -> str:
    if isinstance(value, str | os.PathLike) and os.fspath(value):
        try:
            path = os.path.abspath(os.path.expanduser(os.fspath(value)))
        except (FileNotFoundError, ValueError):  # relative to a deleted directory; a NUL byte
            raise Rejected from None
        if os.path.isdir(path):
            return path
    raise Rejected


def _directory_path(value: Any) -> str:
    if isinstance(value, str | os.PathLike) and os.fspath(value) and "\0" not in os.fspath(value):
        return os.path.abspath(os.path.expanduser(os.fspath(value)))
    raise Rejected


def default_transcript_dir(environ: Mapping[str, str] = os.environ) -> str:
    """``$XDG_STATE_HOME/streamshell/casts`` (``~/.local/state/streamshell/casts``; a relative
    XDG_STATE_HOME is ignored, as the XDG spec says): where ``streamshell serve`` records."""
    base = environ.get("XDG_STATE_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "streamshell", "casts")


def _environment(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise Rejected
    for name, item in value.items():
        if not isinstance(name, str) or not isinstance(item, str):
            raise Rejected
        problem = check_env_entry(name, item)
        if problem:
            raise Rejected(f"env: {problem}")
    return dict(value)


def _names(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise Rejected
    names = tuple(value)
    if not all(isinstance(n, str) and n for n in names):
        raise Rejected
    return names


def _profile(value: Any) -> Profile:
    if isinstance(value, str):
        try:
            return profile_of(value)
        except ValueError:
            pass
    raise Rejected


def _directories(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise Rejected
    return tuple(_directory(item) for item in value)


def _size(value: Any) -> int:
    try:
        return parse_size(value)
    except ValueError:
        raise Rejected from None


def _limits(value: Any) -> ResourceLimits:
    try:
        return limits_from(value)
    except (TypeError, ValueError) as e:
        raise Rejected(f"limits: {e}") from None


def choice(*values: str) -> Rule:
    """One of ``values``."""

    def convert(value: Any) -> str:
        if value in values:
            return str(value)
        raise Rejected

    return Rule("one of " + ", ".join(values), convert)


def optional(rule: Rule) -> Rule:
    """``rule``, or None (the option's default: nobody types a null)."""
    return Rule(rule.expected, lambda v: None if v is None else rule.convert(v))


BOOLEAN = Rule("true or false", _boolean)
SECONDS = Rule("a number of seconds >= 0", _seconds)
DIRECTORY = Rule("an existing directory", _directory)
DIRECTORY_PATH = Rule("a directory path (created when missing)", _directory_path)
ENVIRONMENT = Rule("a map of variable names to string values", _environment)
NAMES = Rule("a list of non-empty strings", _names)
DIRECTORIES = Rule("a list of existing directories", _directories)
SIZE = Rule(SIZE_EXPECTED, _size)
LIMITS = Rule("a ResourceLimits(memory_bytes, processes, cpu_seconds)", _limits)
PROFILE = Rule(" or ".join(f'"{p.value}"' for p in Profile), _profile)


# ----- the options ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ManagerOptions:
    """Everything a :class:`~streamshell.SessionManager` can be configured with.

    ``SessionManager(**kwargs)`` builds one of these; a bad value is a ``ValueError`` that
    names the option and says what it accepts.
    """

    max_sessions: int = option(
        64,
        whole_number(1),
        "open sessions at most; starting one more prunes one (exited ones first, then the least "
        "recently used)",
        user=True,
    )
    keep_unread_output: bool = option(
        True,
        BOOLEAN,
        "return output printed between calls with the next call; false: a call sees only output "
        "from its own start on, as the reference",
        user=True,
    )
    protected_sessions: int | None = option(
        None,
        optional(whole_number(0)),
        "the most recently used sessions that are never pruned (default: min(8, max_sessions // 8))",
    )
    max_unread_bytes: int = option(
        1 << 20,
        whole_number(2),
        "output kept for a session between calls: head and tail halves; the middle is counted",
    )
    max_yield_time_ms: int | None = option(
        None,
        optional(whole_number(0)),
        "cap every call's wait at this many ms (default: the profile's, 30000; unified empty polls "
        "300000); below a client's request timeout, long commands come back as running sessions",
        user=True,
    )
    cwd: str | None = option(
        None,
        optional(DIRECTORY),
        "working directory of new sessions (default: this process's when the manager is made)",
        user=True,
    )
    env: Mapping[str, str] | None = option(None, optional(ENVIRONMENT), "variables set for every session")
    drop_env_containing: tuple[str, ...] = option(
        DEFAULT_DROP_ENV_CONTAINING,
        NAMES,
        "inherited variables whose upper-cased name, with an underscore added at each end, contains "
        "one of these are not passed on (nor values that are URLs with a password)",
    )
    kill_grace: float = option(0.5, SECONDS, "seconds between SIGTERM and SIGKILL when killing a group")
    exit_drain_timeout: float = option(
        0.1,
        SECONDS,
        "after a process exits, how long to wait for the end of its output when a background child "
        "keeps the terminal open",
    )
    return_on_input_wait: bool = option(
        True,
        BOOLEAN,
        "a call returns as soon as the program waits for input on its terminal (or stdin), read from "
        "the kernel's state; false: wait out yield_time_ms unless it exits (no effect without /proc, "
        "as on macOS)",
        user=True,
    )
    exit_notices: bool = option(
        True,
        BOOLEAN,
        "the next result after a session exits with nobody waiting on it names it in a header line "
        '("Session 3 exited with code 0 (make); its unread output is kept.")',
        user=True,
    )
    open_files_limit: int | None = option(
        None,
        optional(whole_number(1)),
        "the soft limit on open files (RLIMIT_NOFILE) sessions start with (default: this process's); "
        "`serve` raises its own limit for its many sessions and gives them the one it started with",
    )
    watchdog: bool = option(
        True,
        BOOLEAN,
        "start a helper process that kills the sessions' processes if this process dies "
        "without closing the manager",
    )
    profile: Profile = option(  # noqa: RUF009 (a field declaration, not a shared default)
        Profile.REFERENCE,
        PROFILE,
        "whose tools and texts to follow: Codex 0.29's (reference) or current Codex's unified exec (unified)",
        user=True,
    )
    parent_death_signal: bool = option(
        False,
        BOOLEAN,
        "give each session's process PR_SET_PDEATHSIG (SIGKILL when this process dies), through an "
        "exec of setpriv (util-linux), ~0.5 ms per spawn; the watchdog already kills every session "
        "process, not only the direct child, when this process dies",
        user=True,
    )
    containment: str = option(
        "auto",
        choice("auto", *MECHANISMS),
        "how every process of a session is found and killed: cgroup (a cgroup v2 per session), "
        "subreaper (this process adopts orphans; a marker in the environment), process-group "
        "(the group only: setsid escapes), or auto, the best this process may use",
        user=True,
    )

    transcript_dir: str | None = option(
        None,
        optional(DIRECTORY_PATH),
        "record every session as an asciicast v2 file (asciinema's format) in this directory "
        "(created, private to the user, when missing)",
        user=True,
        flag="transcripts",
        command_default=default_transcript_dir,
        off_help="record no session",
    )
    max_cast_bytes: int = cast_bytes(
        64 << 20,
        "one session's cast may take: past that, the middle of its output is elided (a marker says how much) "
        "and its head and tail kept",
    )
    max_transcripts_bytes: int = cast_bytes(
        1 << 30,
        "the casts in transcript_dir may take together: past that, the oldest are removed "
        "(never one being recorded)",
    )

    sandbox: str = option(
        SandboxMode.DANGER_FULL_ACCESS.value,
        choice(*MODES),
        "what sessions may write and reach: read-only (nothing but a private /tmp), workspace-write "
        "(the working directory and --writable-root too; .git read-only), danger-full-access (no "
        "sandbox); bubblewrap on Linux",
        user=True,
        key="sandbox_mode",
        command_default=SandboxMode.WORKSPACE_WRITE.value,
    )
    writable_roots: tuple[str, ...] = option(
        (),
        DIRECTORIES,
        "another directory sessions may write under workspace-write (repeatable)",
        user=True,
        flag="writable_root",
        key="sandbox_workspace_write.writable_roots",
        repeat=True,
    )
    network_access: bool = option(
        False,
        BOOLEAN,
        "sandboxed sessions reach the network (off: a network namespace with only its own loopback)",
        user=True,
        flag="network",
        key="sandbox_workspace_write.network_access",
        command_default=True,
    )
    limits: ResourceLimits = option(  # noqa: RUF009 (a field declaration, not a shared default)
        ResourceLimits(),
        LIMITS,
        "limits for each session",
        user=True,
        parts=(
            Part(
                "memory_bytes",
                "max_memory",
                optional(SIZE),
                "memory per session (cgroup; else RLIMIT_AS per process)",
            ),
            Part(
                "processes",
                "max_processes",
                optional(whole_number(1)),
                "processes and threads per session (cgroup pids)",
            ),
            Part(
                "cpu_seconds", "max_cpu", optional(whole_number(1)), "seconds of CPU per process (RLIMIT_CPU)"
            ),
        ),
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = option_doc(f).rule.apply(f.name, getattr(self, f.name))
            object.__setattr__(self, f.name, value)
        if self.protected_sessions is not None and self.protected_sessions >= self.max_sessions:
            raise Rejected(
                f"protected_sessions = {self.protected_sessions} must be less than "
                f"max_sessions ({self.max_sessions})"
            )
        if self.max_transcripts_bytes < self.max_cast_bytes:
            raise Rejected(
                f"max_transcripts_bytes = {self.max_transcripts_bytes} must be at least "
                f"max_cast_bytes ({self.max_cast_bytes})"
            )

    @property
    def policy(self) -> SandboxPolicy:
        """The sandbox these options ask for (what ``ToolsConfig`` describes to the model, too)."""
        return SandboxPolicy(SandboxMode(self.sandbox), self.network_access, self.writable_roots)

    def workspace(self) -> str:
        """Where sessions run by default: ``cwd``, else this process's working directory now."""
        return self.cwd or os.getcwd()

    def confinement(self) -> str:
        """What sessions may do, for people: the sandbox and the limits (printed at start)."""
        return f"{self.policy.describe(self.workspace())}; {self.limits.describe()}"

    @property
    def protected(self) -> int:
        """The number of most recently used sessions that pruning spares."""
        if self.protected_sessions is not None:
            return self.protected_sessions
        return min(8, self.max_sessions // 8)


def user_options() -> tuple[dataclasses.Field[Any], ...]:
    """The options people set on the command line and in config files, in declaration order."""
    return tuple(f for f in dataclasses.fields(ManagerOptions) if option_doc(f).user)


@dataclass(frozen=True)
class Setting:
    """One thing people set, as a flag and a config key: a user option, or a :class:`Part` of one.

    ``name`` is the flag's (``--max-memory``: ``max_memory``) and the agent config's field name;
    ``key`` the config key (a dot for a table); ``default`` what ``serve`` and ``agent`` use;
    ``kind``: ``bool`` (``--x/--no-x``), ``list`` (a repeated flag) or ``value``; ``off_help``
    (a value whose command default is not None): what ``--no-x``, None, means.
    """

    name: str
    option: str
    attribute: str | None
    key: str
    rule: Rule
    help: str
    default: Any
    kind: str
    type: Any
    off_help: str = ""

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def settings() -> tuple[Setting, ...]:
    """Every flag and config key the session manager's options give, in declaration order."""
    found = []
    for f in user_options():
        doc = option_doc(f)
        if doc.parts:
            for part in doc.parts:
                default = getattr(f.default, part.attribute)
                found.append(
                    Setting(
                        part.name,
                        f.name,
                        part.attribute,
                        part.name,
                        part.rule,
                        part.help,
                        default,
                        "value",
                        int | None,
                    )
                )
            continue
        default = f.default if doc.command_default is _SAME else doc.command_default
        if callable(default):  # it reads the environment: now, when the commands start
            default = default()
        kind = "list" if doc.repeat else "bool" if str(f.type) == "bool" else "value"
        name, key = doc.flag or f.name, doc.key or f.name
        found.append(
            Setting(name, f.name, None, key, doc.rule, doc.help, default, kind, f.type, doc.off_help)
        )
    return tuple(found)


def options_from(values: Mapping[str, Any]) -> ManagerOptions:
    """The options that :func:`settings`' values (by setting name) give: parts are put together."""
    kwargs: dict[str, Any] = {}
    parts: dict[str, dict[str, Any]] = {}
    for s in settings():
        if s.attribute is None:
            kwargs[s.option] = values[s.name]
        else:
            parts.setdefault(s.option, {})[s.attribute] = values[s.name]
    kwargs.update(parts)  # each such option's rule takes a mapping of its parts
    return ManagerOptions(**kwargs)
