"""The hostile-input matrix: each input surface against each hostile case.

A cell is tested by a function in this package named `test_<surface>__<case>` (words after the
case say more; `_and_<case>` names a further case the same test covers), or it is marked not
applicable with the reason. `test_matrix.py` checks that the two agree, and that
docs/reliability.md shows the table: `python -m tests.hostile.matrix` prints it.

Every tested cell asserts what applies of: one clear line, the documented exit code, memory
bounded (peak RSS under 300 MB), nothing written that should not be, nothing run that was not
approved, and a terminal byte stream free of outside control sequences.
"""

from __future__ import annotations

import ast
from pathlib import Path

HERE = Path(__file__).resolve().parent

CASES = ("endless", "blocking", "huge", "bomb", "escapes", "markup", "shadowing", "typed_ahead", "signal_midway")
"""The hostile cases, in the table's order."""

SURFACES = {
    "attachment_path": "a file attached with -f or alt+a",
    "pasted_path": "a file path pasted into the composer",
    "stdin": "text piped into `lchat ask`",
    "image": "an attached image",
    "clipboard_copy": "an answer copied with ctrl+t",
    "tool_name": "a tool name an MCP server offers",
    "tool_result": "what a tool returns",
    "mcp_stdout": "an MCP server's stdout",
    "mcp_stderr": "an MCP server's stderr",
    "allow_entry": "`[mcp] allow` and `--allow-tool`",
    "approval_keys": "keys around the tool approval dialog",
    "import_file": "a file given to `lchat import`",
    "mcp_import_file": "a server list given to `lchat mcp import`",
    "restore_file": "a backup given to `lchat restore`",
    "config_value": "config.toml and theme files",
    "search_query": "a search query",
    "model_name": "a model name a backend lists",
    "server_error_text": "an error a backend sends",
    "server_stream": "an answer a backend streams",
    "tui_session": "the TUI at work (ctrl+q, SIGTERM, SIGHUP)",
}
"""Each surface, with what it is in a user's words."""

_NOT_READ_FROM_A_STREAM = "a short string from the command line or config, never read from a stream"
_NOT_RENDERED = "never rendered as markup: it goes to a log or is parsed, not shown"
_NOT_TYPED = "not something the user types; keys are the approval_keys row"
_NOTHING_LONG = "nothing runs long enough to interrupt: the open never blocks and the read stops at its limit"

NOT_APPLICABLE: dict[tuple[str, str], str] = {
    ("attachment_path", "bomb"): "a file's bytes are capped by the size limit; decoding bombs are the image row",
    ("attachment_path", "shadowing"): "a path names one file; nothing is looked up by it",
    ("attachment_path", "typed_ahead"): "the path prompt takes a line, then the file is read once",
    ("attachment_path", "signal_midway"): _NOTHING_LONG,
    ("pasted_path", "huge"): "read by the same reader as attachment_path (its huge cell)",
    ("pasted_path", "bomb"): "checked as attachment_path and image are",
    ("pasted_path", "shadowing"): "a path names one file; nothing is looked up by it",
    ("pasted_path", "typed_ahead"): "the offer is a yes/no dialog over a file read only on yes",
    ("pasted_path", "signal_midway"): _NOTHING_LONG,
    ("stdin", "bomb"): "stdin's bytes are judged as a file's: nothing in them is expanded",
    ("stdin", "escapes"): "stdin's name is lchat's own ('stdin'); its bytes go to the model, not the terminal",
    ("stdin", "markup"): "stdin's name is lchat's own; its text is never shown as markup",
    ("stdin", "shadowing"): "stdin names nothing",
    ("stdin", "typed_ahead"): "stdin is a pipe, not the keyboard",
    ("image", "endless"): "an image is read by the attachment reader first (attachment_path endless)",
    ("image", "blocking"): "an image is read by the attachment reader first (attachment_path blocking)",
    ("image", "markup"): "an image's name reaches a toast with markup off or stderr; the path rows cover it",
    ("image", "shadowing"): "an image names nothing",
    ("image", "typed_ahead"): "no dialog asks about an image",
    ("image", "signal_midway"): "a bomb is refused from its header, before any decode to interrupt",
    ("clipboard_copy", "endless"): "the copy is of text already in memory",
    ("clipboard_copy", "blocking"): "the copy is of text already in memory; nothing is waited for",
    ("clipboard_copy", "bomb"): "the copy is of text already in memory; nothing is decoded",
    ("clipboard_copy", "shadowing"): "a copy names nothing",
    ("clipboard_copy", "typed_ahead"): "ctrl+t asks nothing",
    ("clipboard_copy", "signal_midway"): "the copy is one write of text already in memory",
    ("tool_name", "endless"): "a name is one field of one size-limited message (tool_result huge)",
    ("tool_name", "blocking"): "a name arrives with the tool list; a silent server is the call timeout",
    ("tool_name", "bomb"): "a name is one field of one size-limited message",
    ("tool_name", "typed_ahead"): _NOT_TYPED,
    ("tool_name", "signal_midway"): "a name is read with the tool list, before anything runs",
    ("tool_result", "markup"): "checked in the escapes cell: the same text is shown literally",
    ("tool_result", "shadowing"): "a result belongs to the call it answers; it names nothing",
    ("tool_result", "typed_ahead"): _NOT_TYPED,
    (
        "tool_result",
        "signal_midway",
    ): "kill -9 between a call and its result is test_tools_ask's own test; quitting is tui_session",
    ("mcp_stdout", "endless"): "read by the same bounded line reader as tool_result (its endless cell)",
    ("mcp_stdout", "blocking"): "a silent server is the call timeout (tool_result blocking)",
    ("mcp_stdout", "huge"): "read by the same bounded line reader as tool_result (its huge cell)",
    ("mcp_stdout", "bomb"): "lines are parsed as JSON-RPC, never decoded further",
    ("mcp_stdout", "markup"): _NOT_RENDERED,
    ("mcp_stdout", "shadowing"): "stdout names nothing; tool names are the tool_name row",
    ("mcp_stdout", "typed_ahead"): _NOT_TYPED,
    ("mcp_stdout", "signal_midway"): "quitting with servers running is tui_session",
    ("mcp_stderr", "endless"): "stderr goes to the server's log file, never into lchat's memory",
    ("mcp_stderr", "blocking"): "stderr is drained by the SDK; a silent server is the call timeout",
    ("mcp_stderr", "huge"): "stderr goes to the server's log file, never into lchat's memory",
    ("mcp_stderr", "bomb"): "stderr is written to a log as it comes, never decoded",
    ("mcp_stderr", "markup"): _NOT_RENDERED,
    ("mcp_stderr", "shadowing"): "stderr names nothing",
    ("mcp_stderr", "typed_ahead"): _NOT_TYPED,
    ("mcp_stderr", "signal_midway"): "quitting with servers running is tui_session",
    ("allow_entry", "endless"): _NOT_READ_FROM_A_STREAM,
    ("allow_entry", "blocking"): _NOT_READ_FROM_A_STREAM,
    ("allow_entry", "bomb"): _NOT_READ_FROM_A_STREAM,
    ("allow_entry", "markup"): "an entry is matched against names, and reported through the safe-text helper",
    ("allow_entry", "typed_ahead"): "an entry is configured, not typed in a dialog",
    ("allow_entry", "signal_midway"): "an entry is read once at start",
    ("approval_keys", "endless"): "keys, not a stream lchat reads to its end",
    ("approval_keys", "blocking"): "the dialog waits for the user by design; quitting it is tui_session",
    ("approval_keys", "huge"): "a flood of keys is the typed-ahead cell; key_flood has its own tests",
    ("approval_keys", "bomb"): "keys are not decoded",
    ("approval_keys", "escapes"): "keys are taken as keys; what the dialog shows is the tool_name row",
    ("approval_keys", "markup"): "keys are taken as keys; what the dialog shows is the tool_name row",
    ("approval_keys", "shadowing"): "the allow_entry row: what runs without asking",
    ("approval_keys", "signal_midway"): "a signal with the dialog open is tui_session's approval-dialog cell",
    ("import_file", "markup"): "imported text is stored; the TUI shows titles and messages literally (escapes cell)",
    ("import_file", "shadowing"): "an import adds conversations; it replaces nothing",
    ("import_file", "typed_ahead"): "`lchat import` asks nothing",
    ("import_file", "signal_midway"): "every file is read and checked before one transaction writes",
    ("mcp_import_file", "markup"): "server names are printed through the safe-text helper, never as markup",
    ("mcp_import_file", "shadowing"): "an imported server of an existing name is refused by name (test_tools_cli)",
    ("mcp_import_file", "typed_ahead"): "`lchat mcp import` asks nothing",
    ("mcp_import_file", "signal_midway"): "the file is read whole, within its limit, before the config is written",
    ("restore_file", "bomb"): "SQLite reads pages on demand and nothing in a backup expands (the huge cell)",
    ("restore_file", "markup"): "a backup is checked, not shown",
    ("restore_file", "shadowing"): "a restore says what it replaces and asks (test_backup_export)",
    ("restore_file", "typed_ahead"): "the confirmation reads one answer after the backup is checked",
    ("restore_file", "signal_midway"): "the backup is checked before the history is touched",
    ("config_value", "markup"): "values are checked, and errors printed through the safe-text helper",
    ("config_value", "shadowing"): "a table set twice is refused with what to do (test_config)",
    ("config_value", "typed_ahead"): "config is a file, not keys",
    ("config_value", "signal_midway"): "the config is read whole, within its limit, at start",
    ("search_query", "endless"): "a query is one finite argument; no file is read",
    ("search_query", "blocking"): "a query is one finite argument; no file is read",
    ("search_query", "bomb"): "a query's words are capped at 32; nothing is expanded",
    ("search_query", "shadowing"): "a query names nothing",
    ("search_query", "typed_ahead"): "search-as-you-type runs each query to its end; nothing asks for approval",
    ("search_query", "signal_midway"): "one short read; quitting is tui_session",
    ("model_name", "endless"): "a name arrives in the model list (the huge cell bounds the list)",
    ("model_name", "blocking"): "a silent server is the read timeout (server_stream blocking)",
    ("model_name", "shadowing"): "equal names on two backends are told apart as BACKEND/NAME",
    ("model_name", "typed_ahead"): "no dialog takes keys over a model name",
    ("model_name", "signal_midway"): "the list is read once per refresh; quitting is tui_session",
    ("server_error_text", "blocking"): "a silent server is the read timeout (server_stream blocking)",
    ("server_error_text", "shadowing"): "an error names nothing",
    ("server_error_text", "typed_ahead"): "no dialog takes keys over an error",
    ("server_error_text", "signal_midway"): "nothing runs once an error is shown",
    (
        "server_stream",
        "huge",
    ): "a long answer is kept whole, shown up to 64 KB (test_faults); one huge line is the endless cell",
    ("server_stream", "bomb"): "each line or event is bounded after decompression (the other server rows' gzip bombs)",
    ("server_stream", "escapes"): "the answer's text is shown through the safe-text helper (test_faults' escape test)",
    (
        "server_stream",
        "markup",
    ): "the answer is Markdown rendered literally (test_toasts and test_faults' markup tests)",
    ("server_stream", "shadowing"): "a stream names nothing",
    ("server_stream", "typed_ahead"): "keys typed while streaming are the key_flood tests",
    ("server_stream", "signal_midway"): "a signal while an answer streams is tui_session's streaming cell",
    ("tui_session", "endless"): "the session's inputs are the other rows",
    ("tui_session", "blocking"): "the session's inputs are the other rows",
    ("tui_session", "huge"): "the session's inputs are the other rows",
    ("tui_session", "bomb"): "the session's inputs are the other rows",
    ("tui_session", "escapes"): "the session's inputs are the other rows",
    ("tui_session", "markup"): "the session's inputs are the other rows",
    ("tui_session", "shadowing"): "the session's inputs are the other rows",
    ("tui_session", "typed_ahead"): "keys typed ahead are the approval_keys row and the key_flood tests",
}
"""Cells that cannot apply, each with its reason."""

COVERED = "tested"


def cells_of() -> dict[str, list[tuple[str, str]]]:
    """Every test function in this package's modules, with the cells its name claims."""
    found: dict[str, list[tuple[str, str]]] = {}
    for module in sorted(HERE.glob("test_*.py")):
        if module.name == "test_matrix.py":
            continue
        for node in ast.parse(module.read_text()).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_"):
                found[f"{module.name}::{node.name}"] = cells_named(node.name)
    return found


def cells_named(name: str) -> list[tuple[str, str]]:
    """The cells a test name claims: `test_image__bomb_and_huge_in_the_tui` -> image x bomb, huge."""
    surface, _, rest = name.removeprefix("test_").partition("__")
    parts = rest.split("_and_") if rest else []
    cells = [(surface, case) for part in parts for case in CASES if part.startswith(case)]
    first_ok = bool(parts) and any(parts[0].startswith(case) for case in CASES)
    return cells if first_ok else []


def covered_cells() -> set[tuple[str, str]]:
    return {cell for cells in cells_of().values() for cell in cells}


def holes(tested: set[tuple[str, str]]) -> list[tuple[str, str]]:
    """Cells neither tested nor marked not applicable."""
    return [(s, c) for s in SURFACES for c in CASES if (s, c) not in tested and (s, c) not in NOT_APPLICABLE]


def markdown_table() -> str:
    """The matrix as docs/reliability.md shows it."""
    tested = covered_cells()
    head = "| surface | " + " | ".join(case.replace("_", " ") for case in CASES) + " |"
    rule = "|---|" + "---|" * len(CASES)
    rows = [
        f"| {surface.replace('_', ' ')} ({what}) | "
        + " | ".join(COVERED if (surface, case) in tested else "–" for case in CASES)
        + " |"
        for surface, what in SURFACES.items()
    ]
    return "\n".join([head, rule, *rows])


if __name__ == "__main__":
    print(markdown_table())
