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


@dataclass(frozen=True)
class OptionDoc:
    """An option's rule, its help line, and whether people set it (flags, config keys).

    ``flag`` is its command-line name when that is not the field's (``--transcripts`` for
    ``transcript_dir``). ``serving`` gives what ``streamshell serve`` uses when the flag is not
    given, where that differs from the library's default (a function: it may read the
    environment); ``--no-FLAG`` (helped by ``serving_off``) then asks for the library's default.
    """

    rule: Rule
    help: str
    user: bool
    flag: str | None = None
    serving: Callable[[], Any] | None = None
    serving_off: str = ""


def option(
    default: Any,
    rule: Rule,
    help: str,
    *,
    user: bool = False,
    flag: str | None = None,
    serving: Callable[[], Any] | None = None,
    serving_off: str = "",
) -> Any:
    """Declare an option: a dataclass field with its :class:`OptionDoc`."""
    doc = OptionDoc(rule, help, user, flag, serving, serving_off)
    return field(default=default, metadata={_RULE: doc})


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
        serving=default_transcript_dir,
        serving_off="record no session",
    )
    max_cast_bytes: int = option(
        64 << 20,
        whole_number(64 << 10),
        "bytes one session's cast may take: past that, the middle of its output is elided (a marker "
        "says how much) and its head and tail kept",
        user=True,
    )
    max_transcripts_bytes: int = option(
        1 << 30,
        whole_number(64 << 10),
        "bytes the casts in transcript_dir may take together: past that, the oldest are removed "
        "(never one still being recorded)",
        user=True,
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

    def workspace(self) -> str:
        """Where sessions run by default: ``cwd``, else this process's working directory now."""
        return self.cwd or os.getcwd()

    @property
    def protected(self) -> int:
        """The number of most recently used sessions that pruning spares."""
        if self.protected_sessions is not None:
            return self.protected_sessions
        return min(8, self.max_sessions // 8)


def user_options() -> tuple[dataclasses.Field[Any], ...]:
    """The options people set on the command line and in config files, in declaration order."""
    return tuple(f for f in dataclasses.fields(ManagerOptions) if option_doc(f).user)
