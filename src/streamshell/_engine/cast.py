"""One session's asciicast v2 file on disk, capped: what the transcript store's writer thread does.

The format (https://docs.asciinema.org/manual/asciicast/v2/): a header line (a JSON object:
``version``, ``width``, ``height``, ``timestamp``, ``command``, ``env``), then one JSON array
per event: ``[seconds, "o", text]`` output, ``[seconds, "i", text]`` input, ``[seconds, "r",
"COLSxROWS"]`` a resize, ``[seconds, "m", label]`` a marker. Text is UTF-8: bytes that are not
become U+FFFD (an incremental decoder per direction, so a character split between two reads
stays whole), as asciinema's own recorder does.

A cast is capped at ``cap`` bytes (plus two events), the way a session's output buffer keeps
its head and tail: the header and events go to the file until it holds half the cap; later
events go to two tail segments beside it (``NAME.cast.tail0`` / ``.tail1``), a quarter of
the cap each, used in turn, the older emptied when the newer is full. :meth:`CastFile.finish`
then appends, when something was elided, a marker event and a visible line that count the
elided output bytes, and the surviving tail. Until then the tail lives in the segments (a
crashed server leaves them beside a cast that holds its head).

Nothing here runs on the event loop: every method does disk I/O.
"""

from __future__ import annotations

import codecs
import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Iterable, Mapping
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


def _line(event: list[Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode() + b"\n"


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


@dataclass
class _Segment:
    """One tail segment: its file, its size, and the output bytes its events hold."""

    path: str
    file: BinaryIO
    started: float
    """When its first event happened (where a marker for what was elided before it goes)."""
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
        self._decoders = {
            OUTPUT: codecs.getincrementaldecoder("utf-8")("replace"),
            INPUT: codecs.getincrementaldecoder("utf-8")("replace"),
        }
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
        """Encode and append ``events`` (in time order); return the bytes written."""
        if self.failed or self._finished:
            return 0
        before = self.size
        try:
            if self._file is None:
                self._open()
            for at, kind, text, output_bytes in self._encode(events):
                self._append(_line([round(at, 6), kind, text]), output_bytes, at)
            self._flush()
        except OSError as e:
            self._fail(e)
        return max(0, self.size - before)

    def finish(self) -> None:
        """Append the tail (after a marker, when something was elided) and let go of the file."""
        if self._finished:
            return
        self._finished = True
        if self.failed or self._file is None:
            return
        try:
            if self._elided:
                at = self._tail[0].started
                label = elided_line(self._elided, self._cap).strip()
                self._write_head(_line([round(at, 6), MARKER, label]))
                self._write_head(_line([round(at, 6), OUTPUT, elided_line(self._elided, self._cap)]))
            for segment in self._tail:
                segment.file.flush()
                with open(segment.path, "rb") as f:
                    while chunk := f.read(1 << 20):
                        self._write_head(chunk)
            self._flush()
        except OSError as e:
            self._fail(e)
        finally:
            self._close()

    # ----- encoding --------------------------------------------------------------------------

    def _encode(self, events: Iterable[Event]) -> Iterable[tuple[float, str, str, int]]:
        """``(time, type, text, output bytes)`` per asciicast event: output chunks close in time
        merged, bytes decoded, lost output turned into a marker and a visible line."""
        merged: list[bytes] = []
        merged_at = 0.0
        merged_size = 0
        for at, kind, payload in events:
            if kind == OUTPUT and merged and at - merged_at < MERGE_SECONDS and merged_size < MERGE_BYTES:
                merged.append(payload)
                merged_size += len(payload)
                continue
            if merged:
                yield self._output(merged_at, merged, merged_size)
                merged = []
            if kind == OUTPUT:
                merged, merged_at, merged_size = [payload], at, len(payload)
            elif kind == INPUT:
                yield at, INPUT, self._decoders[INPUT].decode(payload), 0
            elif kind == RESIZE:
                rows, cols = payload
                yield at, RESIZE, f"{cols}x{rows}", 0
            elif kind == LOST:
                yield at, MARKER, lost_line(payload).strip(), 0
                yield at, OUTPUT, lost_line(payload), 0
        if merged:
            yield self._output(merged_at, merged, merged_size)

    def _output(self, at: float, chunks: list[bytes], size: int) -> tuple[float, str, str, int]:
        data = b"".join(chunks)
        if self._pipes:  # a pipe's bare newlines, as a terminal would show them
            data = data.replace(b"\n", b"\r\n")
        return at, OUTPUT, self._decoders[OUTPUT].decode(data), size

    # ----- the file and its tail -------------------------------------------------------------

    def _open(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_SH)
        self._file = os.fdopen(fd, "wb")
        self._write_head(json.dumps(self._header, ensure_ascii=False).encode() + b"\n")

    def _append(self, line: bytes, output_bytes: int, at: float) -> None:
        if not self._tail and self._size + len(line) <= self._cap // 2:
            self._write_head(line)
            return
        segment = self._tail[-1] if self._tail else None
        if segment is None or (segment.size and segment.size + len(line) > self._cap // 4):
            segment = self._new_segment(at)
        segment.file.write(line)
        segment.size += len(line)
        segment.output_bytes += output_bytes

    def _new_segment(self, at: float) -> _Segment:
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
        segment = _Segment(path, open(path, "wb"), at)  # noqa: SIM115 (closed in _close or on rotation)
        self._tail.append(segment)
        return segment

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
