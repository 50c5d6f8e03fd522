"""progress bar: 2001 ``\\r`` frames (64 kB) through ``view="text"``, against the raw view.

No timing: what the model receives. The raw view returns the frames cut to the default token
budget (the final frame survives only by luck of where the cut falls); the text view returns
the final frame.
"""

from __future__ import annotations

from streamshell import ExecCommandParams, Exited, SessionManager

from .report import Row, size, verdict
from .sizes import Sizes

TARGET = 250
FRAMES = 2001
PROGRESS = (
    "python3 -c 'import sys\n"
    'for i in range(2001): sys.stdout.write("\\r[%-25s] %3d%%" % ("#" * (i * 25 // 2000), i * 100 // 2000))\n'
    'sys.stdout.write("\\n")\''
)
FINAL = "[" + "#" * 25 + "] 100%\n"


async def rows(sizes: Sizes) -> list[Row]:
    async with SessionManager() as manager:
        raw = await manager.exec_command(ExecCommandParams(cmd=PROGRESS, login=False))
        text = await manager.exec_command(ExecCommandParams(cmd=PROGRESS, login=False, view="text"))
    if raw.exit_status != Exited(0) or text.exit_status != Exited(0):
        raise RuntimeError(f"the progress bar failed: {raw.to_text_output()[:300]}")
    printed = (raw.original_token_count or 0) * 4 or len(raw.output.encode())
    raw_bytes, text_bytes = len(raw.output.encode()), len(text.output.encode())
    final = text.output == FINAL
    survived = "present" if FINAL.strip() in raw.output else "lost"
    return [
        Row(
            metric=f'progress bar: {FRAMES} `\\r` frames ({size(printed)}) with `view="text"`',
            floor=f"raw view: {size(raw_bytes)}, final frame {survived}",
            streamshell=f"{size(text_bytes)}, final frame {'present' if final else 'MISSING'}",
            ratio=f"{text_bytes / raw_bytes:.4f}x",
            target=f"≤ {TARGET} B, final frame present",
            verdict=verdict(text_bytes <= TARGET and final),
        )
    ]
