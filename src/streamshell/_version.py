"""The package version, in one place (the facade, the CLI and the MCP server read it)."""

__version__ = "0.1.0"
