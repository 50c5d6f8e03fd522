"""The escape table: how a session's processes try to outlive it, and how a session ends.

Each technique starts processes that leave the session's process group, its terminal
session, or both (``setsid``, daemons, job control, ``setpgid``), ignore or never see
SIGHUP and SIGTERM, stop themselves, or keep forking. Each cleanup path ends the session.
After every pair, no process of the test may be left: they are counted by the marker
every test's processes carry in their environment (``helpers.MARK``).

``tests/test_escapes.py`` runs every technique through every cleanup path under each kill
mechanism (``SETUPS``). Another setup (a sandbox mode, say) runs the same table by adding
its manager options to ``SETUPS``: the techniques and paths do not change.
"""

from __future__ import annotations

from dataclasses import dataclass

ESCAPEE = 'touch "$READY/$$"; exec sleep 1000'
"""What every technique tries to keep alive (run as ``sh -c "$ESCAPEE"``): a ``sleep 1000`` that
first leaves a file named after its pid in ``$READY``, so a test knows it runs."""

PYTHON = "$STREAMSHELL_TEST_PYTHON"
"""The test's own interpreter (in the session's environment): no PATH lookup, no shims."""


def environment(ready: str, python: str) -> dict[str, str]:
    """What a session running a technique needs in its environment."""
    return {"READY": ready, "ESCAPEE": ESCAPEE, "STREAMSHELL_TEST_PYTHON": python}


@dataclass(frozen=True)
class Escape:
    """One way out: ``script`` (bash, run as the session's command) starts escapees."""

    name: str
    script: str

    def __str__(self) -> str:
        return self.name


_EXEC_ESCAPEE = 'os.execvp("sh", ["sh", "-c", os.environ["ESCAPEE"]])'

ESCAPES: tuple[Escape, ...] = (
    Escape("setsid-background", 'setsid sh -c "$ESCAPEE" &'),
    Escape("setsid-fork", 'setsid -f sh -c "$ESCAPEE"'),
    Escape(
        "double-fork-daemon",
        f"{PYTHON} -c 'import os\nif os.fork(): os._exit(0)\nos.setsid()\n"
        f"if os.fork(): os._exit(0)\n{_EXEC_ESCAPEE}'",
    ),
    Escape("job-control", 'set -m; sh -c "$ESCAPEE" &'),
    Escape("setpgid", f"{PYTHON} -c 'import os; os.setpgid(0, 0); {_EXEC_ESCAPEE}' &"),
    Escape("signal-proof", """setsid -f sh -c 'trap "" HUP INT TERM; exec sh -c "$ESCAPEE"'"""),
    Escape("stopped", """setsid -f sh -c 'touch "$READY/$$"; kill -STOP $$; exec sleep 1000'"""),
    Escape(
        "respawner",
        """setsid -f sh -c 'trap "" HUP TERM; while :; do setsid sh -c "$ESCAPEE" & sleep 0.05; done'""",
    ),
    Escape("new-terminal", """setsid -f script -qfc 'sh -c "$ESCAPEE"' /dev/null"""),
    Escape("nohup-disowned", 'nohup sh -c "$ESCAPEE" >/dev/null 2>&1 </dev/null & disown'),
    Escape("detached-stdio", '(setsid sh -c "$ESCAPEE" </dev/null >/dev/null 2>&1 &)'),
)
"""Eleven techniques. Before issue 10 every one that leaves the process group (all but
``nohup-disowned``) survived every cleanup path."""

ENV_WIPED = Escape(
    "env-wiped",
    'env -i PATH="$PATH" READY="$READY" ESCAPEE="$ESCAPEE" STREAMSHELL_TEST_RUN="$STREAMSHELL_TEST_RUN" '
    'setsid -f sh -c "$ESCAPEE"',
)
"""A daemon that also drops its environment (the test's marker put back, to count it): only the
cgroup mechanism contains it; under the subreaper fallback it escapes (README)."""

CLEANUPS = ("kill_session", "exit", "close", "server-sigkill")
"""How a session ends: killed by kill_session; its leader exits and a call reports it; the
manager closes; the server (``streamshell serve``) is SIGKILLed and its watchdog acts."""
