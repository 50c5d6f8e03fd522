"""The behaviours streamshell can present to a model: each Codex generation's, declared once.

``reference`` is Codex PR #2574 as released in Codex 0.29.0 (the default); ``unified`` is
current Codex's ``unified_exec`` (recorded from Codex 0.171.0 in ``tests/data/``). Models
trained on one read its texts best. What differs between them is stated here, as data,
and nowhere else: the parameters' schemas and defaults live with each parameter
(:mod:`streamshell.params`, as a :class:`~streamshell.params.Unified` override), and the
engine, the results text, the error texts and the tools read these rules.

streamshell's own fixes stay on in both: no output lost between calls, process groups
owned and killed, exits reported by ``write_stdin``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


class Profile(enum.StrEnum):
    """Which Codex generation's tools, texts and rules a session manager follows."""

    REFERENCE = "reference"
    """Codex 0.29.0 (PR #2574): sequential session ids, PTY by default, ``Wall time: X.XXX``."""
    UNIFIED = "unified"
    """Current Codex's unified exec: random session ids, pipes by default, ``Chunk ID``, yield clamps."""


@dataclass(frozen=True)
class Clamp:
    """The range a requested yield time is brought into (milliseconds)."""

    low: int
    high: int

    def apply(self, ms: int, cap: int | None = None) -> int:
        """``ms`` within the range, and at most ``cap`` (the manager's ``max_yield_time_ms``) if set."""
        ms = min(max(ms, self.low), self.high)
        return ms if cap is None else min(ms, cap)


@dataclass(frozen=True)
class Rules:
    """What a profile does differently, beyond its parameters' schemas."""

    exec_yield: Clamp
    """``exec_command``'s yield time."""
    write_yield: Clamp
    """``write_stdin``'s yield time when it types something."""
    poll_yield: Clamp
    """``write_stdin``'s yield time when ``chars`` is empty (a poll)."""
    random_session_ids: bool
    """Session ids drawn at random from ``session_ids`` (else counted up from 0)."""
    session_ids: range
    env: Mapping[str, str] = field(default_factory=dict)
    """Variables set for every command, on top of streamshell's own (pagers off, ``NO_COLOR``)."""
    stdin_needs_tty: bool = False
    """A session without a terminal starts with its stdin closed; only Ctrl-C can be sent to it."""


RULES: Mapping[Profile, Rules] = MappingProxyType(
    {
        Profile.REFERENCE: Rules(
            exec_yield=Clamp(0, 30_000),
            write_yield=Clamp(0, 30_000),
            poll_yield=Clamp(0, 30_000),
            random_session_ids=False,
            session_ids=range(0, 2**32),
        ),
        Profile.UNIFIED: Rules(
            exec_yield=Clamp(250, 30_000),
            write_yield=Clamp(250, 30_000),
            poll_yield=Clamp(5_000, 300_000),
            random_session_ids=True,
            session_ids=range(1_000, 100_000),
            env=MappingProxyType(
                {
                    "LANG": "C.UTF-8",
                    "LC_CTYPE": "C.UTF-8",
                    "LC_ALL": "C.UTF-8",
                    "COLORTERM": "",
                    "CODEX_CI": "1",
                }
            ),
            stdin_needs_tty=True,
        ),
    }
)
"""Each profile's rules (the reference's 30 s cap is later Codex's fix for models that asked for
120 s waits and stalled; unified's numbers: Codex's ``MIN_YIELD_TIME_MS``, ``MAX_YIELD_TIME_MS``,
``MIN_EMPTY_YIELD_TIME_MS``, ``DEFAULT_MAX_BACKGROUND_TERMINAL_TIMEOUT_MS``, process ids)."""


def profile_of(value: str | Profile) -> Profile:
    """``value`` as a :class:`Profile`; ValueError naming the choices otherwise."""
    try:
        return Profile(value)
    except ValueError:
        choices = ", ".join(p.value for p in Profile)
        raise ValueError(f"unknown profile {value!r}; choose one of {choices}") from None
