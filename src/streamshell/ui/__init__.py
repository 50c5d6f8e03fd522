"""The page at ``/ui`` on the HTTP server, and what ``streamshell attach`` talks to: people watching
(and, with ``--ui-input``, joining) the sessions of every client of the server.

- :mod:`.directory`: one view over all the server's session managers.
- :mod:`.auth`: the token, the login cookie, the MCP endpoint's Host and Origin checks.
- :mod:`.wire`: sessions and watch events as JSON.
- :mod:`.app`: the routes (page, API, server-sent events).
- :mod:`.client`: the HTTP client ``streamshell attach`` uses.
- ``static/`` (the page) and ``vendor/`` (xterm.js and asciinema-player from npm, with their
  licences; ``scripts/vendor_ui.py`` replaces them): package data, served as they are.
"""
