"""Small scripted fakes of the Chat Completions and Anthropic Messages APIs, on loopback.

Each POST gets the next scripted JSON reply and its body is recorded, so a test can run a real SDK
client against it and then read exactly what the client sent back (the tool results).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ScriptedApi:
    """The replies still to give and the request bodies received, in order."""

    def __init__(self, replies: list[dict[str, Any]]) -> None:
        self.replies = list(replies)
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.url = ""


def _handler(api: ScriptedApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            api.requests.append(body)
            api.paths.append(self.path)
            if api.replies:
                status, reply = 200, api.replies.pop(0)
            else:
                status, reply = 500, {"error": {"type": "api_error", "message": "the script is over"}}
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def serve(replies: list[dict[str, Any]]) -> Iterator[ScriptedApi]:
    """Serve ``replies`` on a free loopback port; ``api.url`` is its base URL."""
    api = ScriptedApi(replies)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    api.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield api
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def chat_completion(
    content: str | None = None, tool_calls: list[tuple[str, str, str]] = ()
) -> dict[str, Any]:
    """A Chat Completions reply: an assistant message with ``(id, name, arguments)`` tool calls."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
            for call_id, name, arguments in tool_calls
        ]
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "test-model",
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def anthropic_message(content: list[dict[str, Any]]) -> dict[str, Any]:
    """An Anthropic Messages reply with these content blocks."""
    tool_use = any(block["type"] == "tool_use" for block in content)
    return {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "model": "test-model",
        "content": content,
        "stop_reason": "tool_use" if tool_use else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
