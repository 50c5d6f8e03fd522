"""Casts: every session recorded from its first byte as asciicast v2, played back by the real
``asciinema`` player, whatever tool results truncated and the unread buffer dropped; input and
resizes; the per-cast and total caps; a writer that falls behind; nothing on the event loop."""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casts import cast_files, events, played
from helpers import read_until, sh, start, start_until, wait_until
from streamshell import ExecCommandParams, Exited, SessionManager, WriteStdinParams
from streamshell._engine import cast as cast_module
from streamshell._engine import transcripts
from streamshell._engine.transcripts import TranscriptStore
from streamshell.tools.dispatch import handle_function_call

LOST_LINE = re.compile("\r\n…(\\d+) bytes of output not recorded: the disk did not keep up…\r\n".encode())
"""What stands in for output the writer could not keep; the count is captured."""

SEQ_LINES = 150_000
"""``seq 150000``: 1 MB of output, more than the unread buffer keeps and any result shows."""


def seq_bytes(n: int = SEQ_LINES) -> bytes:
    """What ``seq n`` prints through a terminal (ONLCR: each newline becomes ``\\r\\n``)."""
    return b"".join(b"%d\r\n" % i for i in range(1, n + 1))


def only_cast(directory: Path) -> Path:
    [path] = cast_files(directory)
    return path


async def test_a_cast_plays_back_every_byte_the_session_printed(tmp_path: Path) -> None:
    """A flood the unread buffer could not keep (64 KiB here) and the results cut to 100 tokens
    is in the cast whole: ``asciinema cat`` prints exactly what the terminal received."""
    async with SessionManager(transcript_dir=tmp_path, max_unread_bytes=64 << 10) as manager:
        sid = await start(manager, f"seq {SEQ_LINES}; read x")
        out = await manager.write_stdin(
            WriteStdinParams(sid, "", yield_time_ms=30_000, max_output_tokens=100)
        )
        while out.waiting_for_input is False:  # until `read` waits: every line printed
            out = await manager.write_stdin(
                WriteStdinParams(sid, "", yield_time_ms=1000, max_output_tokens=100)
            )
        assert out.original_token_count is not None  # the results were cut
        out = await manager.write_stdin(WriteStdinParams(sid, "bye\n", yield_time_ms=30_000))
        assert out.exit_status == Exited(0)
    path = only_cast(tmp_path)
    assert played(path) == seq_bytes() + b"bye\r\n"  # the echo of the typed line
    header, recorded = events(path)
    assert header["version"] == 2
    assert (header["width"], header["height"]) == (80, 24)
    assert header["command"] == f"seq {SEQ_LINES}; read x"
    assert header["env"] == {"TERM": "xterm", "SHELL": "/bin/bash"}
    assert isinstance(header["timestamp"], int)
    assert [e[1:] for e in recorded if e[1] == "i"] == [["i", "bye\n"]]
    times = [e[0] for e in recorded]
    assert times == sorted(times)


async def test_characters_split_between_reads_and_bad_bytes(tmp_path: Path) -> None:
    """A UTF-8 character whose bytes arrive in two reads stays whole; bytes that are not UTF-8 become
    U+FFFD, as asciinema's own recorder writes them."""
    async with SessionManager(transcript_dir=tmp_path) as manager:
        flag = tmp_path.parent / f"{tmp_path.name}.half"
        wait = f"until [ -e {flag}.go ]; do sleep 0.01; done"
        cmd = f"printf 'caf\\303'; touch {flag}; {wait}; printf '\\251 \\377 ok\\n'"
        out = await manager.exec_command(sh(cmd, yield_time_ms=0))
        sid = out.exit_status.session_id  # type: ignore[union-attr]
        await wait_until(flag.exists, what="the first half of the character")
        await read_until(manager, sid, "caf", out.output)  # the first byte of é has been read by now
        Path(f"{flag}.go").touch()
        out = await manager.write_stdin(WriteStdinParams(sid, "", yield_time_ms=30_000))
        assert out.exit_status == Exited(0)
    path = only_cast(tmp_path)
    assert played(path) == "café \ufffd ok\r\n".encode()


async def test_input_and_resizes_are_recorded(tmp_path: Path) -> None:
    async with SessionManager(transcript_dir=tmp_path) as manager:
        sid = await start(manager, "cat")
        await manager.write_stdin(WriteStdinParams(sid, "héllo\n", yield_time_ms=200))
        await manager.resize(sid, 30, 100)
        await manager.send_input(sid, "typed by a person\n")
        await read_until(manager, sid, "typed by a person\r\ntyped by a person")
        await manager.kill_session(sid)
    _, recorded = events(only_cast(tmp_path))
    kinds = [(kind, data) for _, kind, data in recorded if kind != "o"]
    assert kinds == [("i", "héllo\n"), ("r", "100x30"), ("i", "typed by a person\n")]
    assert b"h\xc3\xa9llo\r\nh\xc3\xa9llo\r\n" in played(only_cast(tmp_path))


async def test_a_pipes_session_is_recorded_as_a_terminal_shows_it(tmp_path: Path) -> None:
    async with SessionManager(transcript_dir=tmp_path) as manager:
        out = await manager.exec_command(sh("printf 'a\\nb\\n'", tty=False, yield_time_ms=30_000))
        assert out.exit_status == Exited(0)
        assert out.output == "a\nb\n"
    assert played(only_cast(tmp_path)) == b"a\r\nb\r\n"


async def test_a_cast_keeps_its_head_and_tail_past_its_cap(tmp_path: Path) -> None:
    """At ``max_cast_bytes`` the middle is elided: a marker event and a visible line say how many
    bytes of output; the head and the tail are exact."""
    cap = 64 << 10
    async with SessionManager(transcript_dir=tmp_path, max_cast_bytes=cap) as manager:
        out = await manager.exec_command(sh(f"seq {SEQ_LINES}", yield_time_ms=60_000))
        assert out.exit_status == Exited(0)
    path = only_cast(tmp_path)
    assert path.stat().st_size <= cap + 2 * 2 * cast_module.MERGE_BYTES  # + two events' JSON at most
    whole = seq_bytes()
    shown = played(path)
    head, marker, tail = shown.partition(b"\r\n\xe2\x80\xa6")  # the line starts with "…"
    assert marker, shown[:200]
    counted, _, tail = tail.partition(b"\r\n")
    assert counted.endswith(f"at {cap} bytes…".encode())
    elided = int(counted.split(b" ")[0])
    assert whole.startswith(head) and whole.endswith(tail)
    assert len(head) + elided + len(tail) == len(whole)
    assert len(tail) >= cap // 8  # a quarter of the cap's JSON at least
    _, recorded = events(path)
    [mark] = [e for e in recorded if e[1] == "m"]
    assert mark[2] == f"…{elided} bytes of output elided: the cast is capped at {cap} bytes…"
    assert not [p for p in cast_files(tmp_path) if p != path]  # no tail segment left behind


async def test_the_oldest_casts_go_when_the_directory_is_full(tmp_path: Path) -> None:
    """Past ``max_transcripts_bytes`` the oldest casts are removed, never one still recorded (the
    oldest here), and stray tail segments a killed server left count and go too."""
    stray = tmp_path / "20200101T000000Z-0-000000.cast.tail0"
    stray.write_bytes(b"x" * (100 << 10))
    os.utime(stray, (0, 0))
    total = 200 << 10
    store = TranscriptStore(str(tmp_path), max_cast_bytes=64 << 10, max_total_bytes=total)
    try:
        async with SessionManager(transcripts=store) as manager:
            live = await start(manager, "cat")
            await manager.send_input(live, "x" * 100 + "\n")
            await read_until(manager, live, "x" * 100 + "\r\n" + "x" * 100)
            await store.written()
            live_cast = Path(manager.session_info(live).cast or "")
            os.utime(live_cast, (1, 1))  # the oldest of all
            ended = []
            for _ in range(8):
                out = await manager.exec_command(sh("seq 9000", yield_time_ms=30_000))  # ~46 KiB of JSON
                assert out.exit_status == Exited(0)
                await store.written()
                ended += [info.cast for info in manager.ended_sessions()[-1:]]
            files = cast_files(tmp_path)
            assert sum(p.stat().st_size for p in files) <= total
            assert live_cast in files and not stray.exists()
            assert Path(ended[-1] or "") in files and Path(ended[0] or "") not in files
    finally:
        await store.aclose()


async def test_list_sessions_and_kill_session_name_the_cast(tmp_path: Path) -> None:
    async with SessionManager(transcript_dir=tmp_path) as manager:
        await handle_function_call(
            manager, "exec_command", '{"cmd": "cat", "login": false, "yield_time_ms": 0}'
        )
        listed = await handle_function_call(manager, "list_sessions", "{}")
        [info] = json.loads(listed.content)
        cast = info["cast"]
        assert Path(cast).parent == tmp_path and cast.endswith(".cast")
        killed = await handle_function_call(manager, "kill_session", '{"session_id": 0}')
        assert f"\nTranscript: {cast}\nOutput:\n" in killed.content
    assert played(cast) == b""


async def test_without_a_transcript_dir_nothing_is_recorded_or_named(manager: SessionManager) -> None:
    """The library records only when asked: texts stay the reference's."""
    await handle_function_call(manager, "exec_command", '{"cmd": "cat", "login": false, "yield_time_ms": 0}')
    [info] = json.loads((await handle_function_call(manager, "list_sessions", "{}")).content)
    assert "cast" not in info
    killed = await handle_function_call(manager, "kill_session", '{"session_id": 0}')
    assert "Transcript" not in killed.content


def test_bad_transcript_settings_are_refused_with_reasons(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(
        ValueError, match=r"transcript_dir = '.*file/casts' cannot be created: Not a directory"
    ):
        SessionManager(transcript_dir=blocker / "casts", watchdog=False)
    with pytest.raises(ValueError, match=r"max_transcripts_bytes = 65536 must be at least max_cast_bytes"):
        SessionManager(max_transcripts_bytes=64 << 10, max_cast_bytes=1 << 20)
    with pytest.raises(ValueError, match=r"max_cast_bytes = 100 is not a whole number >= 65536"):
        SessionManager(max_cast_bytes=100)
    with pytest.raises(ValueError, match=r"transcript_dir = \"\" is not a directory path"):
        SessionManager(transcript_dir="")


async def test_a_disk_that_hangs_never_holds_up_the_sessions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the writer thread is stuck in a write, sessions go on (the event loop never writes);
    past the writer's backlog bound, output is counted and a marker says how much was not kept."""
    monkeypatch.setattr(transcripts, "MAX_QUEUED_BYTES", 64 << 10)
    monkeypatch.setattr(transcripts, "FLUSH_BYTES", 4096)  # handed over at once: the backlog grows
    stuck = threading.Event()
    entered = threading.Event()
    write = cast_module.CastFile.write

    def hanging_write(self: cast_module.CastFile, batch: object) -> int:
        entered.set()
        stuck.wait(120)
        return write(self, batch)  # type: ignore[arg-type]

    monkeypatch.setattr(cast_module.CastFile, "write", hanging_write)
    async with SessionManager(transcript_dir=tmp_path) as manager:
        try:
            sid, _ = await start_until(manager, "printf 'first\\n'; read x; seq 100000; read y", "first")
            await wait_until(entered.is_set, what="the writer to be stuck")
            await manager.send_input(sid, "go\n")
            seen = await read_until(manager, sid, "100000\r\n")  # the session runs on
            assert seen.endswith("100000\r\n")
        finally:
            stuck.set()
        out = await manager.write_stdin(WriteStdinParams(sid, "end\n", yield_time_ms=30_000))
        assert out.exit_status == Exited(0)
    pieces = re.split(LOST_LINE, played(only_cast(tmp_path)))
    assert len(pieces) >= 3, pieces[:1]  # something was lost, and said so
    whole = b"first\r\ngo\r\n" + seq_bytes(100_000) + b"end\r\n"
    at = 0
    for kept, lost in zip(pieces[::2], [*pieces[1::2], b"0"], strict=True):
        assert whole[at : at + len(kept)] == kept
        at += len(kept) + int(lost)
    assert at == len(whole)
    assert pieces[0].startswith(b"first\r\ngo\r\n")


async def test_every_write_happens_on_the_writer_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads = set()
    write = cast_module.CastFile.write

    def noting(self: cast_module.CastFile, batch: object) -> int:
        threads.add(threading.current_thread().name)
        return write(self, batch)  # type: ignore[arg-type]

    monkeypatch.setattr(cast_module.CastFile, "write", noting)
    async with SessionManager(transcript_dir=tmp_path) as manager:
        out = await manager.exec_command(ExecCommandParams(cmd="seq 1000", login=False, yield_time_ms=30_000))
        assert out.exit_status == Exited(0)
    assert threads and all(name.startswith("streamshell-casts") for name in threads)
    assert threading.main_thread().name not in threads


@given(st.text())
def test_json_text_is_what_json_writes(text: str) -> None:
    """The fast encoder gives json.dumps's bytes for any text (terminal output or not)."""
    assert cast_module.json_text(text) == json.dumps(text, ensure_ascii=False).encode()


def test_a_tail_of_escapes_is_cut_to_fit_the_cap(tmp_path: Path) -> None:
    """Output whose JSON is six times its size (control characters) still fits: the tail's oldest
    events are left out too, and counted."""
    cap = 64 << 10
    path = tmp_path / "x.cast"
    head = cast_module.header(width=80, height=24, timestamp=0, command="x", env={}, title="x")
    recorded = cast_module.CastFile(str(path), head, cap)
    chunks = [bytes([i % 8]) * 4096 for i in range(200)]  # \x00..\x07: \u00XX each
    for i, chunk in enumerate(chunks):
        recorded.write([(i * 0.01, cast_module.OUTPUT, chunk)])
    recorded.finish()
    assert path.stat().st_size <= cap
    pieces = played(path).split(b"\r\n\xe2\x80\xa6")
    head_part, rest = pieces
    counted, _, tail = rest.partition(b"\r\n")
    whole = b"".join(chunks)
    assert whole.startswith(head_part) and whole.endswith(tail)
    assert len(head_part) + int(counted.split(b" ")[0]) + len(tail) == len(whole)
