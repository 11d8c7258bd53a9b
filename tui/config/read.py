"""Reading config.toml: a regular file of at most 1 MB, every value's type and range checked,
each problem named with its file, line and key."""

from __future__ import annotations

import os
import re
import tomllib
import types
import typing
from collections.abc import Iterator
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

from tui.config import CHOICES, CONFIG_MAX_BYTES, RANGES, Config, ConfigError, LoadedConfig
from tui.config.write import save_config
from tui.domain import THINK_SETTINGS
from tui.guard.bounded_files import Unreadable, read_regular_file


def load_config(path: Path) -> LoadedConfig:
    """Read `path`, or write the defaults there when it does not exist yet; ConfigError names
    the file, line and key of anything wrong."""
    if not os.path.lexists(path):
        config = Config()
        save_config(config, path)
        return LoadedConfig(config, [])
    try:  # A folder, a FIFO or /dev/zero named config.toml is refused, never waited on or read whole.
        text = read_regular_file(path, CONFIG_MAX_BYTES, what="config file").decode("utf-8", "replace")
    except Unreadable as refused:
        raise ConfigError(str(refused)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        at = re.search(r"\(at line (\d+), column \d+\)", str(error))
        key = _key_on_line(text, int(at.group(1))) if at else ""
        where = f":{at.group(1)}" if at else ""
        raise ConfigError(
            f"{path}{where}: invalid TOML{f' at {key}' if key else ''}: {error}{_twice_hint(str(error))}"
        ) from None
    except RecursionError:  # tomllib recurses once per nested array or inline table.
        raise ConfigError(f"{path}: invalid TOML: arrays or inline tables nested too deeply to read") from None
    warnings: list[str] = []
    config = _build(Config, data, (), path, text, warnings)
    if config.chat.think not in THINK_SETTINGS:
        raise ConfigError(
            f"{path}:{_line_of(text, ('chat', 'think'))}: chat.think must be one of "
            f"{', '.join(repr(s) for s in THINK_SETTINGS)}, not {config.chat.think!r:.40}"
        )
    for name, preset in config.presets.items():
        if preset.think is not None and preset.think not in THINK_SETTINGS:
            raise ConfigError(
                f"{path}:{_line_of(text, ('presets', name, 'think'))}: presets.{name}.think must be "
                f"one of {', '.join(repr(s) for s in THINK_SETTINGS)}, not {preset.think!r:.40}"
            )
    secrets = list(_secret_keys(data))
    mode = path.stat().st_mode & 0o777
    if secrets and mode & 0o077:
        warnings.append(
            f"{path} holds a secret ({', '.join(secrets)}) but others can read it (mode {mode:o}): "
            f"run chmod 600 {path}, or keep the secret in an environment variable"
        )
    return LoadedConfig(config, warnings)


def _twice_hint(message: str) -> str:
    """What to do about a table set twice, the usual trip when appending a README snippet."""
    found = re.search(r"Cannot (mutate immutable namespace|declare) \(([^)]*)\)", message)
    if not found:
        return ""
    name = ".".join(part.strip().strip("'\"") for part in found.group(2).split(",") if part.strip())
    if found.group(1) == "declare":
        return f"; [{name}] appears twice in the file: merge the two tables"
    return (
        f"; {name} is already set as a value above (older lchat versions wrote `{name} = []`): "
        f"delete that line to add [[{name}]] or [{name}] tables"
    )


_SECRET_WORDS = re.compile(r"(token|secret|password|api_?key|auth)", re.IGNORECASE)
_URL_WITH_PASSWORD = re.compile(r"://[^/@\s]*:[^/@\s]*@")


def _secret_keys(data: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """Dotted keys that look like they hold a secret (not the *name* of a variable holding one)."""
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            # The keymap holds binding ids, a *_env table names variables: neither holds secrets.
            if dotted != "keys" and not key.endswith("_env"):
                yield from _secret_keys(value, dotted + ".")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    yield from _secret_keys(item, f"{dotted}[{index}].")
                elif isinstance(item, str) and _URL_WITH_PASSWORD.search(item):
                    yield f"{dotted}[{index}]"
        elif isinstance(value, str) and value and _SECRET_WORDS.search(key) and not key.endswith("_env"):
            yield dotted
        elif isinstance(value, str) and _URL_WITH_PASSWORD.search(value):
            yield dotted


def _build(cls: type, data: dict[str, Any], keys: tuple[str, ...], path: Path, text: str, warnings: list[str]) -> Any:
    """Turn a TOML table into the dataclass `cls`, checking every value's type."""
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    for name in data.keys() - known:
        dotted = ".".join((*keys, name))
        warnings.append(f"{path}:{_line_of(text, (*keys, name))}: unknown key {dotted!r} ignored")
    values: dict[str, Any] = {}
    for name in known & data.keys():
        hint, value, key_path = hints[name], data[name], (*keys, name)
        if isinstance(hint, type) and is_dataclass(hint):
            if not isinstance(value, dict):
                raise _type_error(path, text, key_path, "a table", value)
            values[name] = _build(hint, value, key_path, path, text, warnings)
        elif (item := _table_dict_item(hint)) is not None:
            if not isinstance(value, dict) or not all(isinstance(entry, dict) for entry in value.values()):
                raise _type_error(path, text, key_path, f"tables ([{key_path[-1]}.NAME])", value)
            values[name] = {
                key: _build(item, entry, (*key_path, key), path, text, warnings) for key, entry in value.items()
            }
        elif (item := _table_list_item(hint)) is not None:
            values[name] = _build_list(item, value, key_path, path, text, warnings)
        else:
            values[name] = _check_range(cls, _check(hint, value, path, text, key_path), path, text, key_path)
    return cls(**values)


def _check_range(cls: type, value: Any, path: Path, text: str, key_path: tuple[str, ...]) -> Any:
    """`value` if it lies within RANGES' bounds for its field (or has none), else ConfigError."""
    bounds = RANGES.get((cls, key_path[-1]))
    if bounds is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    low, high = bounds
    if not low <= value <= high:  # NaN fails this too.
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        raise ConfigError(
            f"{path}:{_line_of(text, key_path)}: {'.'.join(key_path)} must be between "
            f"{_bound(low)} and {_bound(high)}, not {shown}"
        )
    return value


def _bound(number: float) -> str:
    """A bound as people write it: 0.1, 5, 86,400."""
    return f"{int(number):,}" if number == int(number) else f"{number:g}"


def _table_dict_item(hint: Any) -> type | None:
    """The dataclass of a dict[str, SomeDataclass] field ([name.KEY] tables in TOML), else None."""
    if typing.get_origin(hint) is dict:
        _, item = typing.get_args(hint)
        if isinstance(item, type) and is_dataclass(item):
            return item
    return None


def _table_list_item(hint: Any) -> type | None:
    """The dataclass of a list[SomeDataclass] field (an array of tables in TOML), else None."""
    if typing.get_origin(hint) is list:
        (item,) = typing.get_args(hint)
        if isinstance(item, type) and is_dataclass(item):
            return item
    return None


def _build_list(
    item: type, value: Any, key_path: tuple[str, ...], path: Path, text: str, warnings: list[str]
) -> list[Any]:
    """An array of tables ([[name]] headers) as a list of `item` dataclasses."""
    if not isinstance(value, list) or not all(isinstance(entry, dict) for entry in value):
        raise _type_error(path, text, key_path, f"an array of tables ([[{key_path[-1]}]])", value)
    *parents, name = key_path
    return [
        _build(item, entry, (*parents, f"{name}[{index}]"), path, text, warnings) for index, entry in enumerate(value)
    ]


def _check(hint: Any, value: Any, path: Path, text: str, key_path: tuple[str, ...]) -> Any:
    optional = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    if typing.get_origin(hint) in (types.UnionType, typing.Union) and len(optional) == 1:
        hint = optional[0]  # `float | None`: TOML has no null, so a value present is a float.
    elif typing.get_origin(hint) in (types.UnionType, typing.Union):  # `int | str`: either will do.
        if (isinstance(value, bool) and bool not in optional) or not isinstance(value, tuple(optional)):
            raise _type_error(path, text, key_path, " or ".join(_type_word(arg) for arg in optional), value)
        return _check_choice(value, path, text, key_path)
    if typing.get_origin(hint) is dict:
        _, value_type = typing.get_args(hint)
        if not isinstance(value, dict):
            raise _type_error(path, text, key_path, f"a table of {value_type.__name__} values", value)
        for name, item in value.items():  # Name the entry that is wrong, not just its table.
            if not isinstance(item, value_type):
                raise _type_error(path, text, (*key_path, name), _type_word(value_type), item)
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
    return _check_choice(value, path, text, key_path)


def _check_choice(value: Any, path: Path, text: str, key_path: tuple[str, ...]) -> Any:
    if key_path not in CHOICES:
        return value
    if key_path == ("engine", "gpu_layers"):
        good = value == "auto" or (isinstance(value, int) and value >= 0)
    elif key_path == ("engine", "flash_attention"):
        good = isinstance(value, bool) or value == "auto"
    else:
        good = value in ("f16", "q8_0", "q4_0")
    if not good:
        raise _type_error(path, text, key_path, CHOICES[key_path], value)
    return value


def _type_word(hint: Any) -> str:
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(
        hint, getattr(hint, "__name__", str(hint))
    )


def _type_error(path: Path, text: str, key_path: tuple[str, ...], expected: str, value: Any) -> ConfigError:
    found = "true or false" if isinstance(value, bool) else type(value).__name__
    dotted = ".".join(key_path)
    return ConfigError(f"{path}:{_line_of(text, key_path)}: {dotted} must be {expected}, not {found} ({value!r:.40})")


def _key_on_line(text: str, number: int) -> str:
    """The dotted key written on line `number` (1-based), inside its [table]; "" if none is."""
    lines = text.splitlines()
    if not 0 < number <= len(lines):
        return ""
    found = re.match(r"""^\s*("[^"]*"|[\w.-]+)\s*=""", lines[number - 1])
    if not found:
        return ""
    table = next(
        (
            m.group(1).strip()
            for line in reversed(lines[: number - 1])
            if (m := re.match(r"^\s*\[+\s*([^\[\]]+?)\s*\]", line))
        ),
        "",
    )
    key = found.group(1).strip('"')
    return f"{table}.{key}" if table else key


def _line_of(text: str, key_path: tuple[str, ...]) -> int | str:
    """Line number of `key = …` inside its [table]; '?' when the shape is unusual."""
    table, key = ".".join(key_path[:-1]), key_path[-1]
    current = ""
    key_pattern = re.compile(rf"""^\s*(?:{re.escape(key)}|"{re.escape(key)}")\s*=""")
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        header = re.match(r"^\s*\[\s*([^\[\]]+?)\s*\]", line)
        array = re.match(r"^\s*\[\[\s*([^\[\]]+?)\s*\]\]", line)
        if array:  # The n-th [[name]] is the table "name[n]".
            name = array.group(1).replace(" ", "")
            seen[name] = seen.get(name, -1) + 1
            header, current = None, f"{name}[{seen[name]}]"
            if current == ".".join(key_path):
                return number
        if header:
            current = header.group(1).replace(" ", "")
            if current == ".".join(key_path):
                return number
        elif current == table and key_pattern.match(line):
            return number
    return "?"
