"""Writing config.toml: the settings that differ from the defaults, then every default as a comment."""

from __future__ import annotations

import os
import tempfile
from dataclasses import MISSING, asdict, fields, is_dataclass
from pathlib import Path
from typing import Any

from tui.config import Config

_HEADER = """\
# lchat's settings. Only what differs from the defaults is set; add any table the README shows
# below. lchat rewrites this file when a setting changes in the app: values stay, comments go.
"""


def save_config(config: Config, path: Path) -> None:
    """Write the settings that differ from the defaults, then the defaults as comments, replacing
    the old file in one step (mode 0600).

    Leaving the defaults' tables out is what lets a user append any table (`[[servers]]`,
    `[ollama]`, `[keys]`) to the file lchat wrote: TOML refuses a table defined twice.
    """
    payload = config_text(config).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(payload)
            temp.flush()
            os.fsync(temp.fileno())
        os.chmod(temp_name, 0o600)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def config_text(config: Config) -> str:
    """config.toml's text for `config`: its own values, then every default commented out."""
    import tomli_w

    changed = _differences(config)
    arrays = {key: value for key, value in changed.items() if isinstance(value, list)}
    own = tomli_w.dumps({key: value for key, value in changed.items() if key not in arrays})
    for key, entries in arrays.items():  # tomli_w would inline short ones, and [[key]] could not follow.
        own += "".join(f"{chr(10) if own else ''}[[{key}]]\n{tomli_w.dumps(entry)}" for entry in entries)
    reference = tomli_w.dumps(_without_empty_tables(asdict(Config())))
    commented = "".join(f"# {line}\n" if line else "#\n" for line in reference.splitlines())
    return f"{_HEADER}\n{own}{chr(10) if own else ''}# The defaults, for reference:\n{commented}"


def _differences(value: Any) -> Any:
    """A dataclass as a dict of the fields that differ from their defaults (recursively, with
    unset optional fields left out: TOML has no null); other values as plain data."""
    if is_dataclass(value) and not isinstance(value, type):
        changed: dict[str, Any] = {}
        for item in fields(value):
            current = getattr(value, item.name)
            default = item.default_factory() if item.default_factory is not MISSING else item.default
            if current is not None and current != default:
                changed[item.name] = _differences(current)
        return changed
    if isinstance(value, dict):
        return {key: _differences(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_differences(item) for item in value]
    return value


def _without_empty_tables(data: dict[str, Any]) -> dict[str, Any]:
    """The defaults minus empty tables and the empty `servers` array: a commented `servers = []`
    would, uncommented, forbid the `[[servers]]` tables the README adds."""
    return {
        key: _without_empty_tables(value) if isinstance(value, dict) else value
        for key, value in data.items()
        if value != {} and not (key == "servers" and value == [])
    }
