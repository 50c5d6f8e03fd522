"""Where a new session goes: the placement rule, and the nodes it chooses from.

A rule is one string: ``"spread"`` (the node with the fewest live sessions), ``"pack"``
(fill one node up to ``max_sessions`` before using the next, in the order the
client first saw them), ``"resource:NAME"`` (only
nodes that offer the Ray resource NAME, e.g. one started with ``--resources
'{"shell": 64}'``) or ``"label:KEY=VALUE"`` (only nodes whose Ray label KEY is VALUE,
e.g. one started with ``--labels zone=eu``); the last two spread among their nodes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SPREAD = "spread"
PACK = "pack"
RESOURCE_PREFIX = "resource:"
LABEL_PREFIX = "label:"
ACCEPTED = f'"{SPREAD}", "{PACK}", "{RESOURCE_PREFIX}NAME" or "{LABEL_PREFIX}KEY=VALUE"'


@dataclass(frozen=True)
class NodeInfo:
    """A Ray node as placement sees it (from ``ray.nodes()``)."""

    node_id: str
    alive: bool
    resources: Mapping[str, float]
    labels: Mapping[str, str]

    @classmethod
    def from_ray(cls, entry: Mapping[str, Any]) -> NodeInfo:
        return cls(
            str(entry["NodeID"]),
            bool(entry.get("Alive")),
            dict(entry.get("Resources") or {}),
            dict(entry.get("Labels") or {}),
        )


@dataclass(frozen=True)
class Candidate:
    """An eligible node, in the order the client first saw the nodes, with its live sessions (pending
    starts included)."""

    index: int
    live: int


@dataclass(frozen=True)
class Placement:
    """A parsed placement rule; ``str()`` gives it back as written."""

    text: str
    pack: bool = False
    resource: str | None = None
    label: tuple[str, str] | None = None

    @classmethod
    def parse(cls, text: str) -> Placement:
        """The rule ``text`` names; ValueError saying what is accepted otherwise."""
        if not isinstance(text, str):
            raise ValueError(f"placement must be a string: {ACCEPTED}, got {text!r}")
        if text == SPREAD:
            return cls(text)
        if text == PACK:
            return cls(text, pack=True)
        if text.startswith(RESOURCE_PREFIX) and text[len(RESOURCE_PREFIX) :]:
            return cls(text, resource=text[len(RESOURCE_PREFIX) :])
        key, sep, value = text.removeprefix(LABEL_PREFIX).partition("=")
        if text.startswith(LABEL_PREFIX) and sep and key and value:
            return cls(text, label=(key, value))
        raise ValueError(f"placement {text!r} is not one of {ACCEPTED}")

    def __str__(self) -> str:
        return self.text

    def eligible(self, node: NodeInfo) -> bool:
        """Whether new sessions may go to ``node`` (alive, and offering what the rule names)."""
        if not node.alive:
            return False
        if self.resource is not None:
            return node.resources.get(self.resource, 0) > 0
        if self.label is not None:
            key, value = self.label
            return node.labels.get(key) == value
        return True

    def choose(self, candidates: Sequence[Candidate], cap: int) -> int | None:
        """The index of the node for the next session, or None when there is no candidate.

        ``pack`` takes the first node below ``cap`` sessions; everything
        else, and ``pack`` when all are full, takes the fewest sessions (the earliest on a tie,
        so equal nodes are used in turn).
        """
        if not candidates:
            return None
        if self.pack:
            for candidate in candidates:
                if candidate.live < cap:
                    return candidate.index
        return min(candidates, key=lambda c: c.live).index

    def nothing_eligible(self) -> str:
        """Why no session can be placed, for the spawn error."""
        if self.resource is not None:
            return f"no live node of the Ray cluster offers the resource {self.resource!r} (placement {self})"
        if self.label is not None:
            key, value = self.label
            return f"no live node of the Ray cluster has the label {key}={value} (placement {self})"
        return "the Ray cluster has no live node"
