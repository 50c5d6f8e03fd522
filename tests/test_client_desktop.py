"""Claude Desktop's and Cursor's configuration from the README (both desktop apps: not runnable here).

The block is parsed as those apps parse it, and exactly its command and arguments are started over
stdio with the MCP SDK's own client, which lists the tools and makes a call, as the apps would.
"""

from __future__ import annotations

import json

from mcp import ClientSession, StdioServerParameters, stdio_client

from helpers import call_tool
from readme_clients import client_config


async def test_the_desktop_config_starts_a_working_server() -> None:
    config = json.loads(client_config("claude-desktop"))
    entry = config["mcpServers"]["streamshell"]
    params = StdioServerParameters(command=entry["command"], args=entry["args"])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        listed = await session.list_tools()
        assert [t.name for t in listed.tools] == [
            "exec_command",
            "write_stdin",
            "list_sessions",
            "kill_session",
        ]
        text, error = await call_tool(session, "exec_command", {"cmd": "echo desktop", "login": False})
    assert not error and text.endswith("Process exited with code 0\nOutput:\ndesktop\r\n")
