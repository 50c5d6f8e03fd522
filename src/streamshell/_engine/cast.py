"""One session's asciicast v2 file on disk, capped: what the transcript store's writer thread does.

The format (https://docs.asciinema.org/manual/asciicast/v2/): a header line (a JSON object:
``version``, ``width``, ``height``, ``timestamp``, ``command``, ``env``), then one JSON array
per event: ``[seconds, "o", text]`` output, ``[seconds, "i", text]`` input, ``[seconds, "r",
"COLSxROWS"]`` a resize, ``[seconds, "m", label]`` a marker. Text is UTF-8: bytes that are not
become U+FFFD (an incremental decoder per direction, so a character split between two reads
stays whole), as asciinema's own recorder does.

A cast is capped at ``cap`` bytes (plus two events), the way a session's output buffer keeps
its head and tail: the header and events go to the file until it holds half the cap; later
events go, as they came (not yet encoded: most of a flood is never kept), to two tail segments
beside it (``NAME.cast.tail0`` / ``.tail1``), a quarter of the cap each, used in turn, the older
emptied when the newer is full. :meth:`CastFile.finish` then encodes the surviving tail (its
oldest events left out too if their JSON would not fit) and appends it, after a marker event and
a visible line that count the elided output bytes when something was left out. Until then the
tail lives in the segments (a crashed server leaves them beside a cast that holds its head).

Terminal output is mostly text, newlines and escape sequences: :func:`json_text` encodes it
about twice as fast as ``json.dumps`` and falls back to it for anything else.

Nothing here runs on the event loop: every method does disk I/O.
"""

from __future__ import annotations

import codecs
import contextlib
import fcntl
import json
import logging
import os
import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

OUTPUT = "o"
INPUT = "i"
RESIZE = "r"
MARKER = "m"
LOST = "lost"
"""Not an asciicast event type: output the recorder could not keep (the writer fell behind);
written as a marker and a visible line, like an elision."""

MERGE_SECONDS = 0.005
"""Output chunks closer together than this become one event (a flood is thousands per second)."""

MERGE_BYTES = 16 << 10
"""Chunks are merged into an event while it holds less than this (a PTY hands out 4 KiB a read)."""

TAIL_SUFFIX = ".tail"
"""A tail segment is the cast's path with this and 0 or 1 appended."""

log = logging.getLogger(__name__)

Event = tuple[float, str, Any]
"""``(seconds since the session started, type, payload)``: bytes for output and input, ``(rows,
cols)`` for a resize, a byte count for lost output."""


def header(
    *, width: int, height: int, timestamp: float, command: str, env: Mapping[str, str], title: str
) -> dict[str, Any]:
    """An asciicast v2 header."""
    return {
        "version": 2,
        "width": width,
        "height": height,
        "timestamp": int(timestamp),
        "command": command,
        "title": title,
        "env": dict(env),
    }


def elided_line(count: int, cap: int) -> str:
    """The visible line that stands in for output left out of a cast capped at ``cap`` bytes."""
    return f"\r\n…{count} bytes of output elided: the cast is capped at {cap} bytes…\r\n"


def lost_line(count: int) -> str:
    """The visible line that stands in for output the recorder could not keep."""
    return f"\r\n…{count} bytes of output not recorded: the disk did not keep up…\r\n"


_ESCAPES = (
    (b"\\", b"\\\\"),
    (b'"', b'\\"'),
    (b"\n", b"\\n"),
    (b"\r", b"\\r"),
    (b"\t", b"\\t"),
    (b"\x1b", b"\\u001b"),
)
"""What JSON escapes in terminal output's usual characters, backslash first (json.dumps's spellings)."""

_OTHER_CONTROLS = bytes(c for c in range(0x20) if c not in b"\t\n\r\x1b")
"""The rest of what JSON must escape: when output holds one of these, json.dumps encodes it."""


def json_text(text: str) -> bytes:
    """``json.dumps(text, ensure_ascii=False).encode()``, faster for terminal output."""
    data = text.encode()
    if len(data.translate(None, _OTHER_CONTROLS)) != len(data):
        return json.dumps(text, ensure_ascii=False).encode()
    for raw, escaped in _ESCAPES:
        if raw in data:
            data = data.replace(raw, escaped)
    return b'"' + data + b'"'


def _line(at: float, kind: str, text: str) -> bytes:
    """One event's line: what ``json.dumps([round(at, 6), kind, text], ensure_ascii=False)`` writes."""
    return b'[%s, "%s", %s]\n' % (repr(round(at, 6)).encode(), kind.encode(), json_text(text))


def is_cast_file(name: str) -> bool:
    """A cast or one of its tail segments (what the store's total cap counts)."""
    return name.endswith(".cast") or (TAIL_SUFFIX in name and name.split(TAIL_SUFFIX)[0].endswith(".cast"))


def cast_of(name: str) -> str:
    """The cast a file belongs to: itself, or the cast whose tail segment it is."""
    return name.split(TAIL_SUFFIX)[0] if not name.endswith(".cast") else name


def in_use(path: str) -> bool:
    """Whether a writer holds the cast at ``path`` open (its lock), in this process or another."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing drops a lock taken here
    return False


_FRAME = struct.Struct("<dcI")
"""A tail segment holds events as they came: time, type, payload length, then the payload."""


SEGMENT_BUFFER = 1 << 20
"""A tail segment's write buffer: a flood reaches it in 4 KiB reads, written out 1 MiB at a time."""


def _payload(kind: str, payload: Any) -> bytes:
    """An event's payload as its frame holds it."""
    data: bytes = b"%d %d" % payload if kind == RESIZE else b"%d" % payload if kind == LOST else payload
    return data


def _unframed(data: bytes) -> Iterator[Event]:
    kinds = {k[0]: k for k in (OUTPUT, INPUT, RESIZE, LOST)}
    at_byte = 0
    while at_byte < len(data):
        at, code, size = _FRAME.unpack_from(data, at_byte)
        at_byte += _FRAME.size
        payload: Any = data[at_byte : at_byte + size]
        at_byte += size
        kind = kinds[code.decode()]
        if kind == RESIZE:
            payload = tuple(int(n) for n in payload.split())
        elif kind == LOST:
            payload = int(payload)
        yield at, kind, payload


@dataclass
class _Segment:
    """One tail segment: its file, its size, and the output bytes its events hold."""

    path: str
    file: BinaryIO
    size: int = 0
    output_bytes: int = 0


class CastFile:
    """One session's cast being written (see the module's docstring for the cap).

    The file is created on the first :meth:`write` (``O_EXCL``: never another's) and holds a
    shared ``flock`` until :meth:`finish`, so a total-cap sweep (:func:`in_use`) leaves it alone.
    The first I/O error ends the recording: it is logged once and :attr:`failed` is set.
    """

    def __init__(self, path: str, head: Mapping[str, Any], cap: int, *, pipes: bool = False) -> None:
        self.path = path
        self.failed = False
        self._header = head
        self._cap = cap
        self._pipes = pipes
        self._file: BinaryIO | None = None
        self._size = 0
        self._tail: list[_Segment] = []  # the older first
        self._next_segment = 0
        self._elided = 0
        self._decoders = _decoders()
        self._finished = False

    def __repr__(self) -> str:
        state = "failed" if self.failed else "finished" if self._finished else "open"
        return (
            f"<CastFile {os.path.basename(self.path)} {state} size={self._size} "
            f"tail={[s.size for s in self._tail]} elided={self._elided}>"
        )

    @property
    def size(self) -> int:
        """Bytes on disk: the cast and its tail segments."""
        return self._size + sum(s.size for s in self._tail)

    def write(self, events: Iterable[Event]) -> int:
        """Append ``events`` (in time order): encoded into the cast while its head has room, as they
        are into the tail after that. Returns the bytes written."""
        if self.failed or self._finished:
            return 0
        before = self.size
        try:
            if self._file is None:
                self._open()
            for group in _groups(events):
                if not self._tail:
                    lines = _encoded(group, self._decoders, pipes=self._pipes)
                    if self._size + sum(len(line) for line, _ in lines) <= self._cap // 2:
                        for line, _ in lines:
                            self._write_head(line)
                        continue
                self._to_tail(group)
            self._flush()
        except OSError as e:
            self._fail(e)
        return max(0, self.size - before)

    def finish(self) -> None:
        """Encode and append the tail (after a marker, when something was elided); let go of the file."""
        if self._finished:
            return
        self._finished = True
        if self.failed or self._file is None:
            return
        try:
            if self._tail:
                self._append_tail()
            self._flush()
        except OSError as e:
            self._fail(e)
        finally:
            self._close()

    # ----- the file and its tail -------------------------------------------------------------

    def _open(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_SH)
        self._file = os.fdopen(fd, "wb")
        self._write_head(json.dumps(self._header, ensure_ascii=False).encode() + b"\n")

    def _to_tail(self, group: list[Event]) -> None:
        """A group into the tail: one frame (merged output is one event already)."""
        at, kind, payload = group[0]
        pieces = [p for _, _, p in group] if kind == OUTPUT else [_payload(kind, payload)]
        length = sum(len(p) for p in pieces)
        size = _FRAME.size + length
        segment = self._tail[-1] if self._tail else None
        if segment is None or (segment.size and segment.size + size > self._cap // 4):
            segment = self._new_segment()
        segment.file.write(_FRAME.pack(at, kind[0].encode(), length))
        for piece in pieces:  # into the segment's buffer as they are: no joined copy
            segment.file.write(piece)
        segment.size += size
        if kind == OUTPUT:
            segment.output_bytes += length

    def _new_segment(self) -> _Segment:
        """Start the next tail segment; with two already, the older one's events are elided."""
        if len(self._tail) == 2:
            older = self._tail.pop(0)
            older.file.close()
            os.unlink(older.path)
            if not self._elided:
                log.info(
                    "cast %s reached its cap of %d bytes: eliding the middle of its output",
                    self.path,
                    self._cap,
                )
            self._elided += older.output_bytes
        path = f"{self.path}{TAIL_SUFFIX}{self._next_segment % 2}"
        self._next_segment += 1
        segment = _Segment(path, open(path, "wb", buffering=SEGMENT_BUFFER))  # noqa: SIM115 (closed in _close or on rotation)
        self._tail.append(segment)
        return segment

    def _append_tail(self) -> None:
        """The surviving tail, encoded; as much of its oldest part left out as its JSON needs to fit
        in the cap's second half. A decoder goes on from the head's only when nothing was elided."""
        events: list[Event] = []
        for segment in self._tail:
            segment.file.flush()
            with open(segment.path, "rb") as f:
                events += _unframed(f.read())
        decoders = self._decoders if not self._elided else _decoders()
        lines = [line for group in _groups(events) for line in _encoded(group, decoders, pipes=self._pipes)]
        room = self._cap - self._size
        kept = len(lines)
        while kept and sum(len(line) for line, _ in lines[len(lines) - kept :]) > room:
            kept -= 1
        left_out = lines[: len(lines) - kept]
        self._elided += sum(output for _, output in left_out)
        if self._elided:
            at = events[0][0]
            self._write_head(_line(at, MARKER, elided_line(self._elided, self._cap).strip()))
            self._write_head(_line(at, OUTPUT, elided_line(self._elided, self._cap)))
        for line, _ in lines[len(lines) - kept :]:
            self._write_head(line)

    def _write_head(self, data: bytes) -> None:
        assert self._file is not None
        self._file.write(data)
        self._size += len(data)

    def _flush(self) -> None:
        for f in (self._file, *(s.file for s in self._tail)):
            if f is not None:
                f.flush()

    def _fail(self, error: OSError) -> None:
        log.warning("recording %s stopped: %s", self.path, error)
        self.failed = True
        self._close()

    def _close(self) -> None:
        for segment in self._tail:
            with contextlib.suppress(OSError):
                segment.file.close()
            with contextlib.suppress(OSError):
                os.unlink(segment.path)
        self._tail.clear()
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()  # closing drops the lock
            self._file = None


# ----- encoding ------------------------------------------------------------------------------

Decoders = dict[str, codecs.IncrementalDecoder]


def _decoders() -> Decoders:
    """One incremental UTF-8 decoder per direction: a character split between reads stays whole."""
    return {kind: codecs.getincrementaldecoder("utf-8")("replace") for kind in (OUTPUT, INPUT)}


def _groups(events: Iterable[Event]) -> Iterator[list[Event]]:
    """The events that become one asciicast event each: output chunks close in time merged (up to
    :data:`MERGE_BYTES`), every other event alone."""
    merged: list[Event] = []
    size = 0
    for event in events:
        at, kind, payload = event
        if kind == OUTPUT and merged and at - merged[0][0] < MERGE_SECONDS and size < MERGE_BYTES:
            merged.append(event)
            size += len(payload)
            continue
        if merged:
            yield merged
            merged = []
        if kind == OUTPUT:
            merged, size = [event], len(payload)
        else:
            yield [event]
    if merged:
        yield merged


def _encoded(group: list[Event], decoders: Decoders, *, pipes: bool) -> list[tuple[bytes, int]]:
    """A group's lines, each with the output bytes it stands for: bytes decoded, a resize as
    ``COLSxROWS``, lost output as a marker and a visible line."""
    at, kind, payload = group[0]
    if kind == OUTPUT:
        data = b"".join(p for _, _, p in group)
        size = len(data)
        if pipes:  # a pipe's bare newlines, as a terminal would show them
            data = data.replace(b"\n", b"\r\n")
        return [(_line(at, OUTPUT, decoders[OUTPUT].decode(data)), size)]
    if kind == INPUT:
        return [(_line(at, INPUT, decoders[INPUT].decode(payload)), 0)]
    if kind == RESIZE:
        rows, cols = payload
        return [(_line(at, RESIZE, f"{cols}x{rows}"), 0)]
    return [(_line(at, MARKER, lost_line(payload).strip()), 0), (_line(at, OUTPUT, lost_line(payload)), 0)]
