"""How much each metric measures: the full run, ``--quick``, and a toy size for the smoke test."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    """Repetitions and volumes; the targets do not change with the size, only the confidence."""

    name: str
    spawn_pairs: int
    """Floor/streamshell pairs of one sequential spawn each."""
    throughput_input: int
    """Bytes ``head -c`` reads from /dev/zero; ``base64`` prints 4/3 of it plus newlines."""
    throughput_pairs: int
    memory_bytes: int
    """Output of the one ``exec_command`` whose peak memory is measured."""
    memory_runs: int
    sessions: int
    """Idle ``cat`` sessions held at once."""
    concurrency_pairs: int
    write_stdin_pairs: int
    mcp_pairs: int
    cluster_round_trip_pairs: int
    cluster_start_sessions: int
    """``cat`` sessions each start-rate run starts (capped by the PTYs available)."""
    cluster_start_pairs: int
    cluster_held_sessions: int
    """Idle pipe sessions held at once over a 4-node cluster."""
    repl_pairs: int
    """REPL round trips, pexpect and streamshell alternating."""
    reference_repl_runs: int
    """Round trips with return_on_input_wait=False (each waits the 250 ms yield)."""
    prompt_pairs: int
    server_runs: int
    raw_input: int
    """Bytes ``head -c`` reads for the raw-throughput comparison with the earlier engine."""
    raw_pairs: int
    idle_seconds: float
    """How long 100 idle sessions are watched for CPU, per sample."""
    idle_pairs: int
    recording_pairs: int
    """Transfers of the throughput row's size, without and with recording, alternating."""


FULL = Sizes(
    name="full",
    spawn_pairs=1000,
    throughput_input=150_000_000,
    throughput_pairs=3,
    memory_bytes=1_000_000_000,
    memory_runs=2,
    sessions=2000,
    concurrency_pairs=3,
    write_stdin_pairs=100,
    mcp_pairs=200,
    cluster_round_trip_pairs=200,
    cluster_start_sessions=1000,
    cluster_start_pairs=3,
    cluster_held_sessions=10_000,
    repl_pairs=200,
    reference_repl_runs=10,
    prompt_pairs=30,
    server_runs=10,
    raw_input=60_000_000,
    raw_pairs=7,
    idle_seconds=2.0,
    idle_pairs=3,
    recording_pairs=5,
)

QUICK = Sizes(
    name="quick",
    spawn_pairs=100,
    throughput_input=15_000_000,
    throughput_pairs=2,
    memory_bytes=100_000_000,
    memory_runs=1,
    sessions=200,
    concurrency_pairs=1,
    write_stdin_pairs=20,
    mcp_pairs=50,
    cluster_round_trip_pairs=40,
    cluster_start_sessions=300,
    cluster_start_pairs=1,
    cluster_held_sessions=1000,
    repl_pairs=50,
    reference_repl_runs=4,
    prompt_pairs=10,
    server_runs=4,
    raw_input=15_000_000,
    raw_pairs=6,
    idle_seconds=1.0,
    idle_pairs=2,
    recording_pairs=4,
)

TOY = Sizes(
    name="toy",
    spawn_pairs=3,
    throughput_input=300_000,
    throughput_pairs=1,
    memory_bytes=1_000_000,
    memory_runs=1,
    sessions=4,
    concurrency_pairs=1,
    write_stdin_pairs=2,
    mcp_pairs=2,
    cluster_round_trip_pairs=2,
    cluster_start_sessions=6,
    cluster_start_pairs=1,
    cluster_held_sessions=8,
    repl_pairs=2,
    reference_repl_runs=1,
    prompt_pairs=2,
    server_runs=1,
    raw_input=300_000,
    raw_pairs=1,
    idle_seconds=0.2,
    idle_pairs=1,
    recording_pairs=1,
)
