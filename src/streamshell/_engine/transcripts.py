"""Where sessions' casts go: a directory, one writer thread, and a cap on the directory's total.

Every session of a manager with a ``transcript_dir`` is recorded from its first byte as an
asciicast v2 file (:mod:`.cast`): its output (what tool results truncated and what the
unread buffer dropped included), the input written to it, and its resizes.

On the event loop a session's :class:`Recorder` only notes each event (a tuple appended to a
list: no encoding, no I/O). Every :data:`FLUSH_SECONDS` (sooner past :data:`FLUSH_BYTES`) the
store hands the noted events to its one writer thread, which encodes and writes them. A file
write can block (a full page cache, a slow or network disk); this way the event loop never
waits for one. There is one writer thread per store, not one per session: a server's
managers share one store. When the writer falls more than :data:`MAX_QUEUED_BYTES` behind,
new output is counted instead of kept, and a marker in the cast says how much was lost.

Disk is bounded twice: each cast by ``max_cast_bytes`` (:class:`.cast.CastFile` elides the
middle), and the directory by ``max_total_bytes``: when the casts in it add up to more, the
oldest are removed (never one a writer holds open, in this process or another).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from .cast import INPUT, LOST, OUTPUT, RESIZE, CastFile, Event, cast_of, header, in_use, is_cast_file

FLUSH_SECONDS = 0.1
"""How long noted events wait on the loop before the writer thread gets them."""

FLUSH_BYTES = 1 << 20
"""A session that noted this many bytes is handed over at once."""

MAX_QUEUED_BYTES = 32 << 20
"""Bytes handed to the writer and not yet written, beyond which new output is counted, not kept."""

SWEEP_EVERY_BYTES = 8 << 20
"""The directory's total is checked after each finished cast and after this many bytes written."""

log = logging.getLogger(__name__)


def cast_name(session_id: int, started_at: float) -> str:
    """``20261201T101500Z-3-9f2c1a.cast``: sorts by start time; the random part keeps two
    managers' session 3 apart."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started_at))
    return f"{stamp}-{session_id}-{secrets.token_hex(3)}.cast"


class TranscriptStore:
    """The casts in ``directory`` (created, private to the user, when missing).

    Raises ``ValueError`` (naming the directory and the reason) when it cannot be created.
    Close it with :meth:`aclose` once its sessions are closed: that waits for the last writes.
    """

    def __init__(self, directory: str, *, max_cast_bytes: int, max_total_bytes: int) -> None:
        self.directory = os.path.abspath(os.path.expanduser(directory))
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
        except OSError as e:
            raise ValueError(f"transcript_dir = {directory!r} cannot be created: {e.strerror}") from None
        if not os.access(self.directory, os.W_OK | os.X_OK):
            raise ValueError(f"transcript_dir = {directory!r} is not a directory this process can write to")
        self.max_cast_bytes = max_cast_bytes
        self.max_total_bytes = max_total_bytes
        self._executor: ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._dirty: dict[Recorder, None] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._lock = threading.Lock()
        self._queued = 0
        self.congested = False
        """The writer is more than :data:`MAX_QUEUED_BYTES` behind (set by both threads, read by
        the recorders on the loop: one attribute, no lock)."""
        self._last: Future[None] | None = None
        self._closed = False
        # The writer thread's own state:
        self._written_since_sweep = 0
        self._swept = False

    def __repr__(self) -> str:
        return (
            f"<TranscriptStore {self.directory} dirty={len(self._dirty)} queued={self._queued}B "
            f"{'closed' if self._closed else 'open'}>"
        )

    def recorder(
        self, session_id: int, *, command: str, env: Mapping[str, str], pipes: bool, rows: int, cols: int
    ) -> Recorder:
        """A new session's recording (its file is created by the writer's first write)."""
        started_at = time.time()
        path = os.path.join(self.directory, cast_name(session_id, started_at))
        head = header(
            width=cols,
            height=rows,
            timestamp=started_at,
            command=command,
            env=env,
            title=f"streamshell session {session_id}: {command}",
        )
        return Recorder(self, CastFile(path, head, self.max_cast_bytes, pipes=pipes))

    async def written(self) -> None:
        """Hand over what is noted now and wait until the writer has written it (and everything
        handed over before)."""
        self._flush()
        if self._last is not None:
            await asyncio.wrap_future(self._last)

    async def aclose(self) -> None:
        """Write what is noted, wait for the writer, stop its thread. Idempotent."""
        if self._closed:
            return
        await self.written()
        self._closed = True
        if self._executor is not None:
            self._executor.shutdown(wait=False)

    # ----- the loop's side -------------------------------------------------------------------

    def _noted(self, recorder: Recorder, pending: int) -> None:
        """``recorder`` noted events: hand them over soon, or now when they are many."""
        if pending >= FLUSH_BYTES:
            self._dirty.pop(recorder, None)
            self._submit([(recorder.file, recorder.take())], ())
            return
        self._dirty[recorder] = None
        if self._timer is None and not self._closed:
            self._loop = self._loop or asyncio.get_running_loop()
            self._timer = self._loop.call_later(FLUSH_SECONDS, self._flush)

    def _finished(self, recorder: Recorder) -> None:
        """``recorder``'s session is closed: write its last events and finish its cast."""
        self._dirty.pop(recorder, None)
        self._submit([(recorder.file, recorder.take())], (recorder.file,))

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        batch = [(recorder.file, recorder.take()) for recorder in self._dirty]
        self._dirty.clear()
        if batch:
            self._submit(batch, ())

    def _submit(self, batch: list[tuple[CastFile, list[Event]]], finishing: tuple[CastFile, ...]) -> None:
        if self._closed:  # a session closed after its store: nothing may wait on a stopped writer
            log.warning("a recording ended after its transcript store closed; its last events are lost")
            return
        size = sum(_payload_size(events) for _, events in batch)
        with self._lock:
            self._queued += size
            self.congested = self._queued > MAX_QUEUED_BYTES
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="streamshell-casts")
        self._last = self._executor.submit(self._write, batch, finishing, size)

    # ----- the writer thread -----------------------------------------------------------------

    def _write(
        self, batch: list[tuple[CastFile, list[Event]]], finishing: tuple[CastFile, ...], size: int
    ) -> None:
        try:
            for cast, events in batch:
                self._written_since_sweep += cast.write(events)
            for cast in finishing:
                cast.finish()
            if finishing or not self._swept or self._written_since_sweep >= SWEEP_EVERY_BYTES:
                self._sweep()
        except Exception:  # the writer must go on for the other sessions
            log.exception("writing casts failed")
        finally:
            with self._lock:
                self._queued -= size
                self.congested = self._queued > MAX_QUEUED_BYTES

    def _sweep(self) -> None:
        """Remove the oldest casts (and stray tail segments) while the directory holds more than
        ``max_total_bytes``; casts a writer holds open stay."""
        self._swept, self._written_since_sweep = True, 0
        casts: dict[str, list[Any]] = {}  # name -> [size, newest mtime, files]
        total = 0
        try:
            with os.scandir(self.directory) as entries:
                for entry in entries:
                    if not is_cast_file(entry.name) or not entry.is_file(follow_symlinks=False):
                        continue
                    stat = entry.stat(follow_symlinks=False)
                    record = casts.setdefault(cast_of(entry.name), [0, 0.0, []])
                    record[0] += stat.st_size
                    record[1] = max(record[1], stat.st_mtime)
                    record[2].append(entry.path)
                    total += stat.st_size
        except OSError as e:
            log.warning("cannot look at the casts in %s: %s", self.directory, e.strerror)
            return
        if total <= self.max_total_bytes:
            return
        for name, (size, _, files) in sorted(casts.items(), key=lambda item: item[1][1]):
            if total <= self.max_total_bytes:
                break
            if in_use(os.path.join(self.directory, name)):
                continue
            for path in files:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
                except OSError as e:
                    log.warning("cannot remove %s: %s", path, e.strerror)
            total -= size
            log.info(
                "removed the cast %s (%d bytes): the casts in %s took more than %d bytes",
                name,
                size,
                self.directory,
                self.max_total_bytes,
            )


def _payload_size(events: list[Event]) -> int:
    return sum(len(payload) for _, kind, payload in events if kind in (OUTPUT, INPUT))


class Recorder:
    """One session's recording, on the event loop: each event is noted (a tuple appended; no
    encoding, no I/O) for the store's writer thread."""

    __slots__ = ("_closed", "_events", "_lost", "_pending", "_started", "_store", "file")

    def __init__(self, store: TranscriptStore, file: CastFile) -> None:
        self._store = store
        self.file = file
        self._started = time.monotonic()
        self._events: list[Event] = []
        self._pending = 0
        self._lost = 0
        self._closed = False

    def __repr__(self) -> str:
        return f"<Recorder {self.file!r} noted={len(self._events)} lost={self._lost}B>"

    @property
    def path(self) -> str | None:
        """The cast's path; None once recording failed (the writer logged why)."""
        return None if self.file.failed else self.file.path

    def output(self, data: bytes) -> None:
        if self._store.congested:
            if not self._lost:
                log.warning("cast %s: the writer is behind; output is counted, not kept", self.file.path)
            self._lost += len(data)
            return
        self._note(OUTPUT, data, len(data))

    def input(self, data: bytes) -> None:
        self._note(INPUT, data, len(data))

    def resize(self, rows: int, cols: int) -> None:
        self._note(RESIZE, (rows, cols), 0)

    def close(self) -> None:
        """The session is closed: its last events are written and its cast finished. Idempotent."""
        if self._closed:
            return
        if self._lost:
            self._events.append((time.monotonic() - self._started, LOST, self._lost))
            self._lost = 0
        self._closed = True
        self._store._finished(self)

    def take(self) -> list[Event]:
        """The events noted since the last take (for the store)."""
        events, self._events, self._pending = self._events, [], 0
        return events

    def _note(self, kind: str, payload: Any, size: int) -> None:
        if self._closed:
            return
        at = time.monotonic() - self._started
        fresh = not self._events
        if self._lost:
            self._events.append((at, LOST, self._lost))
            self._lost = 0
        self._events.append((at, kind, payload))
        self._pending += size
        if fresh or self._pending >= FLUSH_BYTES:  # else the store has it among the dirty ones
            self._store._noted(self, self._pending)
