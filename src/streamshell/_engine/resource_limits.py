"""What resource limits a session may be given (:class:`ResourceLimits`), without how they are
enforced (:mod:`.limits`): parsing the manager's options imports nothing of the spawning code."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"(\d+)\s*([kmgt]?)(?:i?b)?", re.IGNORECASE)

SIZE_EXPECTED = "a size in bytes >= 1, with an optional unit: 256M, 1G, 512MiB, 1048576"


def parse_size(value: object) -> int:
    """``value`` as a number of bytes: a whole number, or text like ``256M``, ``1GiB``;
    ``ValueError`` otherwise."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    if isinstance(value, str):
        match = _SIZE.fullmatch(value.strip())
        if match and int(match[1]) >= 1:
            return int(match[1]) * _UNITS[match[2].lower()]
    raise ValueError(f"{value!r} is not {SIZE_EXPECTED}")


def _positive(name: str, value: object) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"ResourceLimits.{name} = {value!r} is not a whole number >= 1 (or None: no limit)")


@dataclass(frozen=True)
class ResourceLimits:
    """Limits for each session; None: no limit. ``memory_bytes`` accepts ``"256M"`` too."""

    memory_bytes: int | None = None
    processes: int | None = None
    cpu_seconds: int | None = None

    def __post_init__(self) -> None:
        if self.memory_bytes is not None:
            object.__setattr__(self, "memory_bytes", parse_size(self.memory_bytes))
        for f in dataclasses.fields(self):
            _positive(f.name, getattr(self, f.name))

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) is not None for f in dataclasses.fields(self))

    def describe(self) -> str:
        """One line for people."""
        parts = []
        if self.memory_bytes is not None:
            parts.append(f"memory {self.memory_bytes} bytes")
        if self.processes is not None:
            parts.append(f"{self.processes} processes")
        if self.cpu_seconds is not None:
            parts.append(f"{self.cpu_seconds} s of CPU per process")
        return "limits: " + (", ".join(parts) if parts else "none")


def limits_from(value: Any) -> ResourceLimits:
    """The ``limits`` option: a :class:`ResourceLimits`, or a mapping of its fields."""
    if isinstance(value, ResourceLimits):
        return value
    if isinstance(value, dict):
        return ResourceLimits(**value)
    raise ValueError(f"limits = {value!r} is not a ResourceLimits")
