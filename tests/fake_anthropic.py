"""A scripted fake Anthropic Messages API (streaming and not) for driving Claude Code.

Vendored from the reference's claude-harness (fake_anthropic.py), made importable: ``start_server``
serves it on a free loopback port in a thread instead of reading ``sys.argv``. The behaviour is the
harness's: stateless, it counts the ``tool_result`` blocks whose ``tool_use_id`` starts with
``toolu_h`` in the request's messages and hands out the next scripted ``tool_use`` (or the text
``HARNESS_DONE``). Requests that do not carry the scripted tools (title generation and the like) get
a short text. Every request goes to ``LOGDIR/requests.jsonl``, every tool result (exactly what Claude
Code sent back) to ``LOGDIR/tool_results.jsonl``.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DONE = "HARNESS_DONE"


def tid(i: int) -> str:
    return f"toolu_h{i:03d}"


def usage() -> dict[str, int]:
    return {
        "input_tokens": 10,
        "output_tokens": 5,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


class Script:
    """The scripted calls and what came back, logged to ``log_dir``."""

    def __init__(self, calls: list[dict[str, Any]], log_dir: Path, tool_prefix: str) -> None:
        self.calls = calls
        self.tool_prefix = tool_prefix
        self.lock = threading.Lock()
        self.seen: set[str] = set()
        log_dir.mkdir(parents=True, exist_ok=True)
        self.requests = (log_dir / "requests.jsonl").open("a", buffering=1)
        self.results = (log_dir / "tool_results.jsonl").open("a", buffering=1)

    def plan(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """Content blocks of the answer."""
        tools = [t.get("name", "") for t in body.get("tools", []) or []]
        if not any(n.startswith(self.tool_prefix) for n in tools):
            return [{"type": "text", "text": "ok"}]
        results = {}
        for m in body.get("messages", []):
            if isinstance(m.get("content"), list):
                for b in m["content"]:
                    if b.get("type") == "tool_result" and str(b.get("tool_use_id", "")).startswith("toolu_h"):
                        results[b["tool_use_id"]] = b
        with self.lock:
            for k, v in results.items():
                if k not in self.seen:
                    self.seen.add(k)
                    self.results.write(json.dumps({"tool_use_id": k, "result": v}) + "\n")
        step = 0
        while step < len(self.calls) and tid(step) in results:
            step += 1
        if step >= len(self.calls):
            return [{"type": "text", "text": DONE}]
        call = self.calls[step]
        return [{"type": "tool_use", "id": tid(step), "name": call["name"], "input": call["arguments"]}]

    def close(self) -> None:
        self.requests.close()
        self.results.close()


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _json(self, payload: dict[str, Any]) -> None:
            out = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def do_POST(self) -> None:
            n = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(n)
            try:
                body = json.loads(raw)
            except ValueError:
                body = {}
            script.requests.write(json.dumps({"t": time.time(), "path": self.path, "body": body}) + "\n")
            if not self.path.startswith("/v1/messages") or self.path.startswith("/v1/messages/count_tokens"):
                self._json({"input_tokens": 10})
                return
            blocks = script.plan(body)
            stop = "tool_use" if blocks[0]["type"] == "tool_use" else "end_turn"
            msg = {
                "id": f"msg_{int(time.time() * 1000)}",
                "type": "message",
                "role": "assistant",
                "model": body.get("model", "claude"),
                "stop_reason": None,
                "stop_sequence": None,
                "usage": usage(),
            }
            if not body.get("stream"):
                self._json({**msg, "content": blocks, "stop_reason": stop})
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()

            def ev(t: str, d: dict[str, Any]) -> None:
                self.wfile.write(f"event: {t}\ndata: {json.dumps({**d, 'type': t})}\n\n".encode())
                self.wfile.flush()

            ev("message_start", {"message": {**msg, "content": []}})
            for i, b in enumerate(blocks):
                if b["type"] == "text":
                    ev("content_block_start", {"index": i, "content_block": {"type": "text", "text": ""}})
                    ev(
                        "content_block_delta",
                        {"index": i, "delta": {"type": "text_delta", "text": b["text"]}},
                    )
                else:
                    start = {"type": "tool_use", "id": b["id"], "name": b["name"], "input": {}}
                    ev("content_block_start", {"index": i, "content_block": start})
                    delta = {"type": "input_json_delta", "partial_json": json.dumps(b["input"])}
                    ev("content_block_delta", {"index": i, "delta": delta})
                ev("content_block_stop", {"index": i})
            ev(
                "message_delta",
                {"delta": {"stop_reason": stop, "stop_sequence": None}, "usage": {"output_tokens": 5}},
            )
            ev("message_stop", {})
            self.close_connection = True

    return Handler


@contextmanager
def fake_anthropic(
    calls: list[dict[str, Any]], log_dir: Path, tool_prefix: str = "mcp__streamshell"
) -> Iterator[tuple[str, Script]]:
    """Serve ``calls`` on a free loopback port; yields the base URL (for ``ANTHROPIC_BASE_URL``)."""
    script = Script(calls, log_dir, tool_prefix)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    finally:
        httpd.shutdown()
        httpd.server_close()
        script.close()


def tool_results(log_dir: Path) -> list[dict[str, Any]]:
    """What Claude Code sent back for each scripted call, in order."""
    lines = (log_dir / "tool_results.jsonl").read_text().splitlines()
    found = {json.loads(line)["tool_use_id"]: json.loads(line)["result"] for line in lines}
    return [found[k] for k in sorted(found)]


__all__ = ["DONE", "fake_anthropic", "os", "tool_results"]
