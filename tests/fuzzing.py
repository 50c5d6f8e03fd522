"""Fuzzing the two doors a model's input comes through: ``handle_function_call`` and the stdio server.

Any exception, any ``internal error`` result, any text that cannot be sent, any call that
hangs, and any request the stdio server leaves unanswered is a failure. The strategies make
hostile input (lone surrogates, huge and non-finite numbers, deep nesting, wrong types,
unknown fields, bytes that are not UTF-8) and calls that run: only commands from
:data:`SAFE_COMMANDS` ever run, so random text is never executed.

``tests/test_fuzz.py`` runs a bounded, derandomized number of examples in the suite;
``make fuzz`` runs this module for 10 minutes with fresh seeds and prints the tally:

    python tests/fuzzing.py --minutes 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from helpers import INITIALIZE
from streamshell import SessionManager, handle_function_call
from streamshell.params import declared
from streamshell.tools.registry import TOOLS

HANG_SECONDS = 60.0
"""A call or a request unanswered for this long is a hang (a generous bound: the machine is shared)."""

SAFE_COMMANDS = ("true", ":", "echo fuzz", "printf '%s' x", "exit 3", "echo $$", "echo err >&2", "kill -9 $$")
"""The only commands a fuzzed call may run (random text goes elsewhere: arguments of echo/printf)."""

SAFE_PROGRAMS = ("echo", "printf", "true", "/nonexistent/program", "")
"""argv[0] of the one-shot shell tool's fuzzed calls."""

SHELLS = ("/bin/sh", "/bin/bash", "/nonexistent/shell", "", "sh", "no-such-shell")

INTERNAL_ERROR = "internal error"

# ----- values --------------------------------------------------------------------------------

SURROGATES = st.sampled_from(["\ud800", "\udfff", "a\udc80b"])
TEXT = st.one_of(st.text(max_size=40), st.text(st.characters(codec="utf-8"), max_size=40), SURROGATES)
HUGE = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**64 - 1, 2**64, 2**32, -1, 10**400, -(10**400)]),
)
NUMBERS = st.one_of(HUGE, st.floats(allow_nan=True, allow_infinity=True))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(TEXT, children, max_size=4)),
    max_leaves=12,
)

# Per field: mostly plausible values, sometimes anything. Only safe commands ever run.
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "cmd": st.one_of(
        st.sampled_from(SAFE_COMMANDS),
        st.just("echo \0nul"),
        JSON_VALUES.filter(lambda v: not isinstance(v, str)),
    ),
    "shell": st.one_of(st.sampled_from(SHELLS), JSON_VALUES.filter(lambda v: not isinstance(v, str))),
    "command": st.one_of(
        st.tuples(st.sampled_from(SAFE_PROGRAMS), st.lists(TEXT, max_size=3)).map(lambda t: [t[0], *t[1]]),
        JSON_VALUES.filter(lambda v: not isinstance(v, list)),
    ),
    "session_id": st.one_of(st.integers(min_value=0, max_value=40), HUGE, JSON_VALUES),
    "chars": st.one_of(TEXT, st.sampled_from(["\u0003", "\u0004", "x\n"]), JSON_VALUES),
    "yield_time_ms": st.one_of(st.integers(min_value=0, max_value=300), HUGE, JSON_VALUES),
    "timeout_ms": st.one_of(st.integers(min_value=0, max_value=2000), HUGE, JSON_VALUES),
    "timeout": st.one_of(st.integers(min_value=0, max_value=2000), JSON_VALUES),
    "max_output_tokens": st.one_of(st.integers(min_value=0, max_value=100), HUGE, JSON_VALUES),
    "workdir": st.one_of(TEXT, st.sampled_from(["/", "/tmp\0/etc", "~", ".."]), JSON_VALUES),
    "env": st.one_of(st.dictionaries(TEXT, TEXT, max_size=3), JSON_VALUES),
    "login": st.one_of(st.booleans(), JSON_VALUES),
    "tty": st.one_of(st.booleans(), JSON_VALUES),
}
FIELDS = sorted(FIELD_VALUES)

ARGUMENT_OBJECTS = st.dictionaries(
    st.one_of(st.sampled_from(FIELDS), TEXT), st.just(None), max_size=5
).flatmap(lambda keys: st.fixed_dictionaries({k: FIELD_VALUES.get(k, JSON_VALUES) for k in keys}))
"""Arguments with any of every tool's fields (most calls fail to parse: an unknown field)."""


def _fields(tool: str) -> list[str]:
    return [d.field.name for d in declared(TOOLS[tool].params)]


def _plausible(tool: str) -> st.SearchStrategy[dict[str, Any]]:
    """A tool's own fields, each with its values: calls that often parse, and run."""
    names = _fields(tool)
    required = [d.field.name for d in declared(TOOLS[tool].params) if d.field.required]
    if not names:
        return st.just({})
    return st.lists(st.sampled_from(names), unique=True, max_size=len(names)).flatmap(
        lambda keys: st.fixed_dictionaries({k: FIELD_VALUES.get(k, JSON_VALUES) for k in {*required, *keys}})
    )


PLAUSIBLE_CALLS = st.sampled_from(sorted(TOOLS)).flatmap(
    lambda tool: st.tuples(st.just(tool), _plausible(tool))
)


def _as_text(call: tuple[str, dict[str, Any]]) -> tuple[str, str]:
    return call[0], json.dumps(call[1], allow_nan=True)


def _dumps(value: Any, ensure_ascii: bool) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, allow_nan=True)


ARGUMENT_TEXT = st.one_of(
    st.tuples(ARGUMENT_OBJECTS, st.booleans()).map(lambda t: _dumps(*t)),
    st.tuples(JSON_VALUES, st.booleans()).map(lambda t: _dumps(*t)),
    st.text(max_size=80),
    st.integers(min_value=1, max_value=200_000).map(lambda n: "[" * n),
    st.integers(min_value=1, max_value=2_000).map(lambda n: '{"session_id": 1' + "0" * n + ', "chars": ""}'),
)
"""A call's arguments as the JSON text OpenAI's APIs send, well-formed or not."""

ARGUMENTS = st.one_of(
    ARGUMENT_TEXT,
    ARGUMENT_OBJECTS,
    JSON_VALUES,
    st.binary(max_size=20),
    st.builds(object),
)
"""Whatever a caller may hand over: JSON text, a mapping (MCP, Anthropic), any other value."""

NAMES = st.one_of(st.sampled_from(sorted(TOOLS)), TEXT, st.integers(), st.none())

CALLS = st.one_of(
    st.tuples(NAMES, ARGUMENTS), PLAUSIBLE_CALLS, PLAUSIBLE_CALLS, PLAUSIBLE_CALLS.map(_as_text)
)
"""One call: anything at all, or a tool with its own fields (as a mapping or as JSON text)."""


# ----- the tally -----------------------------------------------------------------------------


@dataclass
class Tally:
    """What a fuzz run found; ``failures`` name each crash or hang with the input that made it."""

    calls: int = 0
    crashes: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.calls} calls, {len(self.crashes)} crashes, {len(self.hangs)} hangs"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 300 else text[:300] + f"... ({len(text)} characters)"


# ----- handle_function_call ------------------------------------------------------------------


async def one_call(manager: SessionManager, name: Any, arguments: Any, tally: Tally) -> None:
    """Make one call; record a crash (exception, internal error, unsendable text) or a hang."""
    tally.calls += 1
    what = f"{_shown(name)} {_shown(arguments)}"
    try:
        result = await asyncio.wait_for(handle_function_call(manager, name, arguments), HANG_SECONDS)
    except TimeoutError:
        tally.hangs.append(what)
        return
    except BaseException as e:
        tally.crashes.append(f"{what}: raised {type(e).__name__}: {e}")
        return
    try:
        result.content.encode()
    except UnicodeEncodeError:
        tally.crashes.append(f"{what}: content cannot be encoded")
    if not isinstance(result.content, str) or result.content.startswith(INTERNAL_ERROR):
        tally.crashes.append(f"{what}: {result.content[:300]}")


def _bounded(examples: int, seed: int | None) -> Callable[[Any], Any]:
    """``examples`` examples, derandomized unless a ``seed`` is given; no example database, no
    deadline (a call may wait on a process)."""
    return settings(
        max_examples=examples,
        derandomize=seed is None,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )


def fuzz_calls(examples: int, tally: Tally, seed: int | None = None) -> None:
    """``examples`` hypothesis examples of a few calls each, on one manager, derandomized
    unless ``seed`` is given. Sessions run in a scratch directory with a scratch HOME (a login
    shell reads no profile)."""
    with tempfile.TemporaryDirectory(prefix="streamshell-fuzz-") as scratch:
        loop = asyncio.new_event_loop()
        manager = SessionManager(cwd=scratch, env={"HOME": scratch}, max_sessions=8)

        @_bounded(examples, seed)
        @given(st.lists(CALLS, min_size=1, max_size=4))
        def example(calls: list[tuple[Any, Any]]) -> None:
            for name, arguments in calls:
                loop.run_until_complete(one_call(manager, name, arguments, tally))

        try:
            (hypothesis_seed(seed)(example) if seed is not None else example)()
        finally:
            loop.run_until_complete(manager.aclose())
            loop.close()


# ----- the stdio server ----------------------------------------------------------------------

REQUEST_IDS = st.one_of(st.integers(min_value=2, max_value=2**31), st.text(max_size=8), SURROGATES)


def _tool_call(request_id: Any, name: Any, arguments: Any) -> Any:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }


LINES = st.one_of(
    st.builds(_tool_call, REQUEST_IDS, NAMES, st.one_of(ARGUMENT_OBJECTS, JSON_VALUES)).map(
        lambda m: json.dumps(m)
    ),
    st.builds(
        lambda request_id, method, params: json.dumps(
            {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        ),
        REQUEST_IDS,
        st.one_of(
            st.sampled_from(["tools/list", "ping", "tools/call", "initialize", "resources/list"]), TEXT
        ),
        JSON_VALUES,
    ),
    st.text(max_size=60).map(lambda t: t.replace("\n", " ")),  # one line: a newline would make two
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b" ")),
    st.integers(min_value=100, max_value=50_000).map(
        lambda n: '{"jsonrpc":"2.0","id":7,"method":"ping","params":' + "[" * n
    ),
)
"""One line a client could send: a request (a tool call or anything), a notification, garbage."""


def expected_id(line: str | bytes) -> Any:
    """The id a line's answer must carry ("any" when it cannot be told, null then), or None when
    no answer is due: JSON-RPC answers neither notifications (a method, no id) nor responses."""
    if isinstance(line, bytes):
        try:
            line = line.decode()
        except UnicodeDecodeError:
            return "any"
    if not line.strip(" \t\r\n"):
        return None  # a blank line is no message
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):
        return "any"
    if not isinstance(message, dict):
        return "any"
    if "method" in message and "id" not in message:
        return None
    if "method" not in message and ("result" in message or "error" in message):
        return None
    request_id = message.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, int | str) or "method" not in message:
        return "any"
    try:
        request_id.encode() if isinstance(request_id, str) else None
    except UnicodeEncodeError:
        return "any"  # an id that is not Unicode cannot be echoed: answered with id null
    return request_id


class StdioServer:
    """``streamshell serve`` on pipes, spoken to line by line."""

    def __init__(self, scratch: str) -> None:
        env = {**os.environ, "HOME": scratch}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamshell", "serve", "--cwd", scratch, "--max-sessions", "8"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self.send(json.dumps(INITIALIZE))
        self.answer(HANG_SECONDS)
        self.send('{"jsonrpc":"2.0","method":"notifications/initialized"}')

    def send(self, line: str | bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(
            (line.encode("utf-8", "surrogatepass") if isinstance(line, str) else line) + b"\n"
        )
        self.process.stdin.flush()

    def answer(self, timeout: float) -> dict[str, Any] | None:
        """The next answer (notifications skipped), or None after ``timeout`` seconds."""
        import select

        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            line = self.process.stdout.readline()
            if not line:
                return None
            message: dict[str, Any] = json.loads(line)
            if "id" in message:
                return message
        return None

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def one_exchange(server: StdioServer, line: str | bytes, tally: Tally) -> None:
    """Send one line; a request must be answered (with its id) and the server must live on."""
    tally.calls += 1
    want = expected_id(line)
    server.send(line)
    if want is None:
        return
    answer = server.answer(HANG_SECONDS)
    if answer is None:
        (tally.crashes if server.process.poll() is not None else tally.hangs).append(
            f"no answer to {_shown(line)}"
        )
        return
    if want != "any" and answer.get("id") != want:
        tally.crashes.append(f"answer {_shown(answer)[:200]} to {_shown(line)}")


def fuzz_stdio(examples: int, tally: Tally, seed: int | None = None) -> None:
    """``examples`` hypothesis examples of a few lines each, to one server; then it must still
    answer a ping."""
    with tempfile.TemporaryDirectory(prefix="streamshell-fuzz-") as scratch:
        server = StdioServer(scratch)

        @_bounded(examples, seed)
        @given(st.lists(LINES, min_size=1, max_size=4))
        def example(lines: list[str | bytes]) -> None:
            for line in lines:
                if server.process.poll() is None:
                    one_exchange(server, line, tally)

        try:
            (hypothesis_seed(seed)(example) if seed is not None else example)()
            server.send('{"jsonrpc":"2.0","id":"last","method":"ping"}')
            last = server.answer(HANG_SECONDS)
            if last is None or last.get("id") != "last":
                tally.crashes.append(f"the server stopped answering (exit code {server.process.poll()})")
        finally:
            server.close()


# ----- the long run --------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Fuzz handle_function_call and the stdio server.")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=200, help="hypothesis examples per seed")
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.minutes * 60
    tallies = {"handle_function_call": Tally(), "stdio server": Tally()}
    runs: list[tuple[str, Callable[[int, Tally, int | None], None]]] = [
        ("handle_function_call", fuzz_calls),
        ("stdio server", fuzz_stdio),
    ]
    seeds = random.Random()
    while time.monotonic() < deadline:
        for name, run in runs:
            seed = seeds.randrange(2**32)
            tally = tallies[name]
            failed = len(tally.crashes) + len(tally.hangs)
            run(args.batch, tally, seed)
            print(f"{name}: seed {seed}: {tally}", flush=True)
            for failure in (tally.crashes + tally.hangs)[failed : failed + 3]:
                print(f"  {failure}", flush=True)
    print()
    for name, tally in tallies.items():
        print(f"{name}: {tally}")
        for failure in tally.crashes + tally.hangs:
            print(f"  {failure}")
    return 1 if any(t.crashes or t.hangs for t in tallies.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
