"""Everything a GGUF file says about itself, for the embedded engine's details view (header only, no weights)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tui.engines.base import ModelLoadError
from tui.engines.embedded.gguf_info import read_gguf_info
from tui.engines.manage import Details
from tui.fit.units import count_text
from tui.gguf.header import header_fields, read_header

SHOWN_FIRST = {
    "general.architecture",
    "general.license",
    "general.name",
    "general.file_type",
    "tokenizer.chat_template",
}


def gguf_metadata(path: Path) -> dict[str, Any]:
    """Every scalar and string field of the file's header (arrays such as vocabularies are left out)."""
    try:
        fields = header_fields(read_header(path))
    except Exception as exc:  # gguf raises ValueError, IndexError... on broken files
        raise ModelLoadError(f"{path} is not a usable GGUF file: {exc or type(exc).__name__}") from None
    return {
        key: value
        for key, value in fields.items()
        if value is not None and not isinstance(value, list) and not key.startswith("GGUF.")
    }


def gguf_details(path: Path) -> Details:
    """Rows for the details view: the usual facts first, then every other header field."""
    info = read_gguf_info(path)
    meta = gguf_metadata(Path(info.path or path))
    arch = info.architecture
    rows: Details = [
        ("File", str(path)),
        ("Architecture", arch),
        ("Parameters", f"{info.parameters:,} ({count_text(info.parameters)})" if info.parameters else ""),
        ("Quantization", info.quantization),
        ("Context length", str(info.context_length or "")),
        ("Capabilities", "chat" if info.has_chat_template else "completion (no chat template: ChatML is used)"),
        (
            "Default parameters",
            ", ".join(
                f"{k.removeprefix('general.sampling.')} {v}"
                for k, v in meta.items()
                if k.startswith("general.sampling.")
            ),
        ),
        ("Template", str(meta.get("tokenizer.chat_template", ""))),
        ("License", str(meta.get("general.license", ""))),
    ]
    rows += [
        (key, str(value))
        for key, value in sorted(meta.items())
        if key not in SHOWN_FIRST and not key.startswith("general.sampling.") and key != f"{arch}."
    ]
    return [(label, value) for label, value in rows if value]
