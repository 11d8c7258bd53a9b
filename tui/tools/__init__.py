"""Tools from MCP servers: the servers, the user's approval of each call, and the call loop.

Nothing here imports Textual; the UI reaches it through a controller in tui/ui.
"""
