"""The cluster's client-side pieces on their own (no cluster needed): placement rules and the
global session table."""

from __future__ import annotations

import pytest

from streamshell import SessionEndedError, SessionInfo, SessionLostError, UnknownSessionError
from streamshell.cluster.placement import Candidate, NodeInfo, Placement
from streamshell.cluster.table import SessionTable


def node(node_id: str, *, alive: bool = True, **resources: float) -> NodeInfo:
    return NodeInfo(node_id, alive, resources, {"zone": node_id})


def info(session_id: int, command: str = "cat") -> SessionInfo:
    return SessionInfo(session_id, command, 1000 + session_id, True, 1.0, 2.0, None)


@pytest.mark.parametrize(
    ("text", "eligible"),
    [("spread", "abc"), ("pack", "abc"), ("resource:gpu", "b"), ("label:zone=c", "c")],
)
def test_placement_rules_pick_their_nodes(text: str, eligible: str) -> None:
    placement = Placement.parse(text)
    nodes = [node("a"), node("b", gpu=1), node("c"), node("d", alive=False, gpu=1)]
    assert "".join(n.node_id for n in nodes if placement.eligible(n)) == eligible
    assert str(placement) == text


@pytest.mark.parametrize(
    "text", ["", "Spread", "resource:", "label:zone", "label:=x", "label:zone=", "lab:x=y"]
)
def test_a_bad_placement_says_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError) as raised:
        Placement.parse(text)
    assert str(raised.value) == (
        f'placement {text!r} is not one of "spread", "pack", "resource:NAME" or "label:KEY=VALUE"'
    )


def test_spread_takes_the_fewest_and_pack_fills_in_order() -> None:
    loads = [Candidate(0, 2), Candidate(1, 1), Candidate(2, 1)]
    assert Placement.parse("spread").choose(loads, cap=2) == 1
    assert Placement.parse("pack").choose(loads, cap=2) == 1
    assert Placement.parse("pack").choose(loads, cap=3) == 0
    assert Placement.parse("pack").choose([Candidate(0, 3), Candidate(1, 2)], cap=2) == 1, "all full: fewest"
    assert Placement.parse("spread").choose([], cap=2) is None


def test_the_table_routes_ids_and_answers_for_what_it_knows() -> None:
    table = SessionTable()
    a, b = table.add_node(), table.add_node()
    s0, s1, s2 = table.issue(), table.issue(), table.issue()
    table.assign(s0, a)
    table.assign(s1, b)
    assert (s0, s1, s2) == (0, 1, 2)
    assert (table.load(a), table.load(b)) == (1, 1), "starts count before they are answered"
    table.answered(s0, info(s0))
    table.answered(s1, None)  # exited within its first call
    assert (table.load(a), table.load(b)) == (1, 0)
    assert (table.route(s0), table.route(s1)) == (a, b), "the node answers for ended ones it remembers"
    table.end_here(s2, "never started: its process could not be created")
    with pytest.raises(SessionEndedError, match="session id 2 never started"):
        table.route(s2)
    with pytest.raises(UnknownSessionError):
        table.route(3)
    table.close(s0)
    assert table.load(a) == 0


def test_a_lost_node_lists_its_sessions_until_each_is_asked_about() -> None:
    table = SessionTable()
    a, b = table.add_node(), table.add_node()
    for node_index in (a, b, a):
        session_id = table.issue()
        table.assign(session_id, node_index)
        table.answered(session_id, info(session_id))
    assert table.lose_node(a, "node-a") == [0, 2]
    lost = table.lost_sessions()
    assert [(s.session_id, s.lost, s.node, s.running) for s in lost] == [(0, True, "node-a", False)] * 1 + [
        (2, True, "node-a", False)
    ]
    with pytest.raises(SessionLostError) as raised:
        table.route(0)
    assert str(raised.value).startswith(
        "session id 0 was lost with its node node-a, which left the cluster (last"
    )
    assert "running `cat` as pid 1000); start a new one with exec_command" in str(raised.value)
    assert [s.session_id for s in table.lost_sessions()] == [2]
    with pytest.raises(SessionLostError):
        table.route(0)
    assert table.route(1) == b and table.load(a) == 0


def test_a_restarted_client_adopts_what_a_node_still_holds() -> None:
    table = SessionTable()
    a = table.add_node()
    table.adopt(a, [info(4), info(9)], next_id=12)
    assert table.next_id == 12 and table.route(9) == a and table.load(a) == 2
    with pytest.raises(SessionEndedError, match="session id 5 has ended"):
        table.route(5)
    table.reconcile(a, [info(9)])
    assert table.load(a) == 1
