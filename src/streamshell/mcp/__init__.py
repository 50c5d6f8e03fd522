"""The MCP server: the registry's tools over stdio or Streamable HTTP, with the official ``mcp`` SDK.

Importing this package imports nothing; :mod:`.server` imports the SDK.
"""
