"""dev server ready: ``exec_command`` with ``wait_for`` on a server's ready line.

The server (Python's ``http.server`` on port 0) prints its own ``time.time()`` in the ready line;
the delay is from that timestamp to the moment the one ``exec_command`` returns. The floor is
the process's own timestamp (zero delay); the reference returned after the 10 s default yield.
"""

from __future__ import annotations

import re
import time

from streamshell import ExecCommandParams, SessionManager

from .report import Row, spread, verdict
from .sizes import Sizes
from .stats import summarize

TARGET = 0.020
SERVER = (
    "python3 -u -c 'import http.server as h, time; "
    's = h.ThreadingHTTPServer(("127.0.0.1", 0), h.SimpleHTTPRequestHandler); '
    'print("Serving HTTP on port %d at %.6f" % (s.server_port, time.time())); s.serve_forever()\''
)
READY = r"Serving HTTP on port \d+ at (\d+\.\d+)"


async def _delay(manager: SessionManager) -> float:
    out = await manager.exec_command(ExecCommandParams(cmd=SERVER, login=False, wait_for=READY + r"\r?\n"))
    returned = time.time()
    found = re.search(READY, out.output)
    if not out.matched or found is None:
        raise RuntimeError(f"the ready line was not matched: {out.to_text_output()}")
    assert out.session_id is not None
    await manager.kill_session(out.session_id)
    return returned - float(found.group(1))


async def rows(sizes: Sizes) -> list[Row]:
    async with SessionManager() as manager:
        await _delay(manager)  # warm-up
        delays = [await _delay(manager) for _ in range(sizes.server_runs)]
    d = summarize(delays)
    return [
        Row(
            metric="dev server ready: an `http.server` on port 0, `wait_for` its ready line, 1 call",
            floor="0 ms: the line's own timestamp (the reference: the 10 s yield)",
            streamshell=f"+{spread(d)}",
            ratio=f"+{d.median * 1000:.2f} ms",
            target=f"≤ +{TARGET * 1000:g} ms, 1 call",
            verdict=verdict(d.median <= TARGET),
        )
    ]
