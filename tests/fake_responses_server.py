#!/usr/bin/env python3
# Vendored from the reference harness (codex-harness/fake_responses_server.py): the scripted fake
# OpenAI Responses API the real Codex CLI 0.29.0 was driven with. The tests drive `streamshell agent`
# and the real Codex releases with this same server, so that every agent meets one and the same model,
# and CI needs nothing outside the repo. Two extensions: a scripted argument "$SESSION" or
# "$SESSION:<i>" becomes the session id read from an earlier output (fill_placeholders), since
# current Codex hands out random session ids that a script cannot predict; and a call's optional
# "namespace" is passed on in its function_call item, as current Codex expects for MCP tools.
"""Minimal fake OpenAI *Responses API* server for driving `codex exec`.

It is stateless with respect to the conversation: every POST /v1/responses
carries the whole history in `input`, so we count how many of *our* scripted
function calls already have a `function_call_output` in that input and reply
with the next scripted call (or with a final assistant message once the
script is exhausted).

Every request body is appended verbatim (one JSON object per line) to
`<log_dir>/requests.jsonl`; the times at which each scripted call was handed
out and at which its output came back are written to `<log_dir>/timing.jsonl`.

Can be used as a library (see run_harness.py) or standalone:
    python3 fake_responses_server.py --port 8765 --script calls.json --log-dir logs
"""
from __future__ import annotations

import argparse
import json
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CALL_ID_PREFIX = "call_h"


def call_id_for(i: int) -> str:
    return f"{CALL_ID_PREFIX}{i:03d}"


SESSION_PLACEHOLDER = re.compile(r"^\$SESSION(?::(\d+))?$")
SESSION_IN_OUTPUT = re.compile(r"session ID (\d+)")


def _output_text(output) -> str:
    """An output's text: a string, or the text parts of a content list."""
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return "".join(str(part.get("text", "")) for part in output if isinstance(part, dict))
    return json.dumps(output)


def session_from_outputs(outputs: dict, index) -> int | None:
    """The session id that call ``index``'s output names (the latest output that names one when
    ``index`` is None)."""
    steps = [index] if index is not None else sorted(
        (int(cid[len(CALL_ID_PREFIX):]) for cid in outputs if cid.startswith(CALL_ID_PREFIX)), reverse=True
    )
    for step in steps:
        found = SESSION_IN_OUTPUT.search(_output_text(outputs.get(call_id_for(step), "")))
        if found:
            return int(found.group(1))
    return None


def fill_placeholders(args, outputs: dict):
    """``args`` with every string "$SESSION" / "$SESSION:<i>" replaced by that session id (raw
    string arguments: the same tokens inside the text). Left as it is when no output names one."""
    def fill(value):
        if isinstance(value, str):
            found = SESSION_PLACEHOLDER.match(value)
            if found:
                sid = session_from_outputs(outputs, int(found.group(1)) if found.group(1) else None)
                return value if sid is None else sid
            return value
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    if isinstance(args, str):
        def sub(m):
            sid = session_from_outputs(outputs, int(m.group(1)) if m.group(1) else None)
            return m.group(0) if sid is None else str(sid)
        return re.sub(r"\$SESSION(?::(\d+))?", sub, args)
    return fill(args)


def _sse(event_type: str, payload: dict) -> bytes:
    payload = dict(payload)
    payload["type"] = event_type
    return (f"event: {event_type}\n" f"data: {json.dumps(payload)}\n\n").encode()


def _usage() -> dict:
    return {
        "input_tokens": 10,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 5,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 15,
    }


class ScriptState:
    def __init__(self, script: list[dict], log_dir: str, final_message: str = "HARNESS_DONE"):
        self.script = script
        self.log_dir = log_dir
        self.final_message = final_message
        self.lock = threading.Lock()
        self.req_counter = 0
        self.sent_at: dict[str, float] = {}
        self.returned_at: dict[str, float] = {}
        os.makedirs(log_dir, exist_ok=True)
        self.req_log = open(os.path.join(log_dir, "requests.jsonl"), "a", buffering=1)
        self.timing_log = open(os.path.join(log_dir, "timing.jsonl"), "a", buffering=1)
        self.other_log = open(os.path.join(log_dir, "other_requests.log"), "a", buffering=1)

    def log_request(self, path: str, headers: dict, body_text: str) -> int:
        with self.lock:
            self.req_counter += 1
            n = self.req_counter
            rec = {"n": n, "t": time.time(), "path": path, "headers": headers}
            try:
                rec["body"] = json.loads(body_text)
            except Exception:  # noqa: BLE001
                rec["body_raw"] = body_text
            self.req_log.write(json.dumps(rec) + "\n")
            return n

    def next_response(self, body: dict) -> bytes:
        now = time.time()
        outputs = {}
        for item in body.get("input", []) or []:
            if isinstance(item, dict) and item.get("type") in ("function_call_output", "custom_tool_call_output"):
                cid = item.get("call_id", "")
                if cid.startswith(CALL_ID_PREFIX):
                    outputs[cid] = item.get("output")
        with self.lock:
            for cid in outputs:
                if cid not in self.returned_at:
                    self.returned_at[cid] = now
                    self.timing_log.write(json.dumps({"call_id": cid, "event": "output_received", "t": now}) + "\n")
            # next step = first scripted call whose output is not in input
            step = 0
            while step < len(self.script) and call_id_for(step) in outputs:
                step += 1
        resp_id = f"resp_{int(now*1000)}_{step}"
        chunks = [_sse("response.created", {"response": {"id": resp_id}})]
        if step < len(self.script):
            call = self.script[step]
            # optional: wait before handing out this call (simulates model latency,
            # lets a background process produce output "between" tool calls)
            delay_ms = call.get("delay_ms", 0)
            if delay_ms:
                time.sleep(delay_ms / 1000.0)
            args = fill_placeholders(call.get("arguments", {}), outputs)
            if not isinstance(args, str):
                args = json.dumps(args)
            cid = call_id_for(step)
            item = {
                "type": "function_call",
                "id": f"fc_{step}",
                "name": call["name"],
                "arguments": args,
                "call_id": cid,
            }
            if call.get("namespace"):  # current Codex puts MCP tools in a namespace (mcp__SERVER)
                item["namespace"] = call["namespace"]
            with self.lock:
                self.sent_at[cid] = time.time()
                self.timing_log.write(json.dumps({"call_id": cid, "event": "call_sent", "t": self.sent_at[cid], "step": step}) + "\n")
            chunks.append(_sse("response.output_item.done", {"output_index": 0, "item": item}))
        else:
            item = {
                "type": "message",
                "id": "msg_final",
                "role": "assistant",
                "content": [{"type": "output_text", "text": self.final_message}],
            }
            chunks.append(_sse("response.output_text.delta", {"delta": self.final_message}))
            chunks.append(_sse("response.output_item.done", {"output_index": 0, "item": item}))
        chunks.append(_sse("response.completed", {"response": {"id": resp_id, "usage": _usage()}}))
        return b"".join(chunks)


def make_handler(state: ScriptState):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet
            state.other_log.write(("%s - " + fmt + "\n") % ((self.address_string(),) + args))

        def _send(self, code: int, body: bytes, ctype: str):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()

        def do_GET(self):
            state.other_log.write(f"GET {self.path}\n")
            if self.path.rstrip("/").endswith("/models"):
                self._send(200, json.dumps({"object": "list", "data": [], "models": []}).encode(), "application/json")
            else:
                self._send(404, b'{"error":{"message":"not found"}}', "application/json")

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0") or 0)
            raw = self.rfile.read(length) if length else b""
            text = raw.decode("utf-8", "replace")
            state.log_request(self.path, {k: v for k, v in self.headers.items() if k.lower() != "authorization"}, text)
            if not self.path.rstrip("/").endswith("/responses"):
                self._send(404, b'{"error":{"message":"not found"}}', "application/json")
                return
            try:
                body = json.loads(text)
            except Exception:  # noqa: BLE001
                self._send(400, b'{"error":{"message":"bad json"}}', "application/json")
                return
            self._send(200, state.next_response(body), "text/event-stream")

    return Handler


def start_server(script: list[dict], log_dir: str, port: int = 0, final_message: str = "HARNESS_DONE"):
    state = ScriptState(script, log_dir, final_message)
    httpd = ThreadingHTTPServer(("127.0.0.1", port), make_handler(state))
    httpd.daemon_threads = True
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    return httpd, state


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--script", required=True)
    ap.add_argument("--log-dir", required=True)
    a = ap.parse_args()
    with open(a.script) as f:
        script = json.load(f)
    httpd, _ = start_server(script, a.log_dir, a.port)
    print(f"listening on http://127.0.0.1:{httpd.server_address[1]}/v1", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        httpd.shutdown()


if __name__ == "__main__":
    main()
