"""Typed settings read from config.toml, with defaults, and written back atomically."""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
import typing
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any


@dataclass
class EngineConfig:
    """The embedded llama.cpp engine."""

    threads: int = 0
    """llama.cpp threads; 0 picks the default measured for this machine (see README)."""
    context_length: int = 4096
    """Context window, in tokens, the embedded engine loads models with."""
    model_dirs: list[str] = field(default_factory=list)
    """Extra folders searched for GGUF files, besides the data dir's models/."""


@dataclass
class ChatConfig:
    """Defaults for new conversations."""

    model: str = ""
    """Model for new conversations; empty means the starter model, else the first found."""
    system_prompt: str = ""
    """System prompt for new conversations."""
    temperature: float = 0.7
    """Sampling temperature."""
    top_p: float = 0.95
    """Nucleus sampling threshold."""
    max_tokens: int = 1024
    """Longest answer, in tokens."""


@dataclass
class UiConfig:
    """How the app looks."""

    theme: str = "lchat-dark"
    """Theme name: a built-in one or a file in the config dir's themes/."""
    max_fps: int = 60
    """Most screen updates a second; lower it on slow SSH links."""
    mouse: bool = True
    """Let the terminal's mouse reach lchat (everything also works by keyboard)."""


@dataclass
class Config:
    """All of lchat's settings, one section per table in config.toml."""

    engine: EngineConfig = field(default_factory=EngineConfig)
    chat: ChatConfig = field(default_factory=ChatConfig)
    ui: UiConfig = field(default_factory=UiConfig)
    keys: dict[str, str] = field(default_factory=dict)
    """Remapped keys: binding id (see the help screen, F1) to keys, e.g. "chat.cancel" = "ctrl+g"."""


class ConfigError(Exception):
    """A config file lchat cannot use; str() is one line naming file, line and key."""


@dataclass(frozen=True)
class LoadedConfig:
    """A config and what was odd about it without being fatal."""

    config: Config
    warnings: list[str]


def load_config(path: Path) -> LoadedConfig:
    """Read `path`, or write the defaults there when it does not exist yet."""
    if not path.exists():
        config = Config()
        save_config(config, path)
        return LoadedConfig(config, [])
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None
    warnings: list[str] = []
    config = _build(Config, data, (), path, text, warnings)
    return LoadedConfig(config, warnings)


def save_config(config: Config, path: Path) -> None:
    """Write the whole config, replacing the old file in one step (mode 0600)."""
    import tomli_w

    payload = tomli_w.dumps(asdict(config)).encode()
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


def _build(cls: type, data: dict[str, Any], keys: tuple[str, ...], path: Path, text: str,
           warnings: list[str]) -> Any:
    """Turn a TOML table into the dataclass `cls`, checking every value's type."""
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    for name in data.keys() - known:
        dotted = ".".join((*keys, name))
        warnings.append(f"{path}:{_line_of(text, (*keys, name))}: unknown key {dotted!r} ignored")
    values: dict[str, Any] = {}
    for name in known & data.keys():
        hint, value, key_path = hints[name], data[name], (*keys, name)
        if is_dataclass(hint):
            if not isinstance(value, dict):
                raise _type_error(path, text, key_path, "a table", value)
            values[name] = _build(hint, value, key_path, path, text, warnings)
        else:
            values[name] = _check(hint, value, path, text, key_path)
    return cls(**values)


def _check(hint: Any, value: Any, path: Path, text: str, key_path: tuple[str, ...]) -> Any:
    if typing.get_origin(hint) is dict:
        _, value_type = typing.get_args(hint)
        if not isinstance(value, dict) or not all(isinstance(v, value_type) for v in value.values()):
            raise _type_error(path, text, key_path, f"a table of {value_type.__name__} values", value)
        return value
    if typing.get_origin(hint) is list:
        (item_type,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise _type_error(path, text, key_path, f"a list of {item_type.__name__}", value)
        if not all(isinstance(item, item_type) for item in value):
            raise _type_error(path, text, key_path, f"a list of {item_type.__name__}", value)
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if (hint is int and isinstance(value, bool)) or not isinstance(value, hint):
        raise _type_error(path, text, key_path, _type_word(hint), value)
    return value


def _type_word(hint: Any) -> str:
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(
        hint, getattr(hint, "__name__", str(hint))
    )


def _type_error(path: Path, text: str, key_path: tuple[str, ...], expected: str, value: Any) -> ConfigError:
    found = "true or false" if isinstance(value, bool) else type(value).__name__
    dotted = ".".join(key_path)
    return ConfigError(
        f"{path}:{_line_of(text, key_path)}: {dotted} must be {expected}, not {found} ({value!r:.40})"
    )


def _line_of(text: str, key_path: tuple[str, ...]) -> int | str:
    """Line number of `key = …` inside its [table]; '?' when the shape is unusual."""
    table, key = ".".join(key_path[:-1]), key_path[-1]
    current = ""
    key_pattern = re.compile(rf"""^\s*(?:{re.escape(key)}|"{re.escape(key)}")\s*=""")
    for number, line in enumerate(text.splitlines(), start=1):
        header = re.match(r"^\s*\[\s*([^\[\]]+?)\s*\]", line)
        if header:
            current = header.group(1).replace(" ", "")
            if current == ".".join(key_path):
                return number
        elif current == table and key_pattern.match(line):
            return number
    return "?"

