"""Typed settings read from config.toml, with defaults, and written back atomically."""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
import types
import typing
from collections.abc import Iterator
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from tui.bounded_file import FileRefused, read_regular_file
from tui.thinking import SETTINGS as THINK_SETTINGS

CONFIG_MAX_BYTES = 1_000_000
"""A config.toml larger than this is refused (it is a few KB even with many presets)."""


@dataclass
class EngineConfig:
    """The embedded llama.cpp engine."""

    threads: int = 0
    """llama.cpp threads; 0: every core for `ask`, one less for the TUI (measured; see README)."""
    context_length: int = 4096
    """Context window, in tokens, the embedded engine loads models with."""
    model_dirs: list[str] = field(default_factory=list)
    """Extra folders searched for GGUF files, besides the data dir's models/."""
    lora: dict[str, str] = field(default_factory=dict)
    """Saved LoRA profiles: model (file name or name) = GGUF LoRA adapter applied when a conversation sets none."""
    gpu_layers: int | str = "auto"
    """Layers on the GPU (GPU builds): "auto" (as many as fit in free VRAM), a number, or 0 (CPU only)."""
    kv_cache_type: str = "f16"
    """KV cache type: "f16", "q8_0" or "q4_0" (smaller; a quantised V cache needs flash_attention). Next load."""
    flash_attention: bool = False
    """Flash attention: less memory for long contexts, and needed for a quantised V cache. Next load."""


@dataclass
class ChatConfig:
    """Defaults for new conversations."""

    model: str = ""
    """Model for new conversations, NAME or BACKEND/NAME (e.g. "ollama/qwen2.5:0.5b"); lchat waits for
    its backend's list and never answers with another; empty means the starter model, else the first found."""
    system_prompt: str = ""
    """System prompt for new conversations."""
    temperature: float = 0.7
    """Sampling temperature."""
    top_p: float = 0.95
    """Nucleus sampling threshold."""
    max_tokens: int = 1024
    """Longest answer, in tokens."""
    stop: list[str] = field(default_factory=list)
    """Stop strings: the answer ends before the first of these the model writes (e.g. ["\\nUser:"])."""
    think: str = ""
    """Thinking for new conversations: "" for the model's default, "off", "on", "low", "medium", "high"."""
    attachment_max_mb: int = 20
    """Largest file that can be attached, in MB."""


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
class StatsConfig:
    """The live stats pane (GPU, CPU, temperatures, power), per-answer energy and `lchat stats`."""

    enabled: bool = True
    """Read the hardware at all; off hides the pane and stores no energy figures."""
    visible: bool = True
    """Show the pane when lchat starts (F5 shows and hides it)."""
    interval_s: float = 1.0
    """Seconds between samples."""
    history_s: float = 300.0
    """How far back the sparklines reach, in seconds."""
    temp_margin_c: float = 5.0
    """Warn when a GPU or the CPU is this many degrees from its slowdown point."""
    vram_warn_percent: float = 95.0
    """Warn when a GPU's memory is this full."""


@dataclass
class OllamaHostConfig:
    """Credentials for one Ollama host: a [ollama.credentials."HOST"] table, HOST as in `hosts`."""

    auth_header_env: str = ""
    """Environment variable holding this host's `proxy_header` value; "" falls back to [ollama]'s."""
    send_ollama_api_key: bool = False
    """Send $OLLAMA_API_KEY (as "Bearer ...") to this host; no host not named so ever gets it."""
    allow_insecure_auth: bool = False
    """Send credentials to this host over plain http although it is not this machine (a trusted LAN)."""


@dataclass
class OllamaConfig:
    """Ollama daemons lchat talks to through the official client."""

    enabled: bool = True
    """Offer Ollama's models; a daemon that is not running shows as offline."""
    hosts: list[str] = field(default_factory=list)
    """Daemons to use, e.g. ["localhost:11434", "http://gpu-box:11434"]; empty: $OLLAMA_HOST, else localhost:11434."""
    connect_timeout: float = 2.0
    """Seconds to wait for a connection; short, so a missing daemon never slows lchat down."""
    read_timeout: float = 120.0
    """Seconds to wait for the next piece of an answer before calling the daemon stalled."""
    proxy_header: str = "Authorization"
    """Header that carries the credentials for an authenticating proxy in front of Ollama."""
    auth_header_env: str = ""
    """Environment variable holding that header's value (e.g. "Bearer ..."), for every host without its
    own; "" sends none. Never stored."""
    credentials: dict[str, OllamaHostConfig] = field(default_factory=dict)
    """Per-host credentials and their rules, one [ollama.credentials."HOST"] table each."""
    context_length: int = 0
    """num_ctx sent with each answer; 0 leaves it to the model (its Modelfile, else Ollama's default)."""
    keep_alive: str = ""
    """How long Ollama keeps a model loaded after an answer, e.g. "10m"; "" is Ollama's default."""


@dataclass
class ServerConfig:
    """One OpenAI-compatible server (LM Studio, LocalAI, llama-server, vLLM, ...)."""

    preset: str = ""
    """lmstudio, localai, llama-server or vllm: fills in name and base_url."""
    name: str = ""
    """Backend name shown in the models list; default: the preset's name."""
    base_url: str = ""
    """The API's base URL, ending in /v1."""
    api_key_env: str = ""
    """Environment variable holding the API key; "" sends none. Never stored."""
    connect_timeout: float = 2.0
    """Seconds to wait for a connection."""
    read_timeout: float = 120.0
    """Seconds to wait for the next piece of an answer."""
    allow_insecure_auth: bool = False
    """Send the API key over plain http although the server is not this machine (a trusted LAN)."""


@dataclass
class ModelsConfig:
    """The models list: favourites and the other apps' model stores lchat reuses read-only."""

    favourites: list[str] = field(default_factory=list)
    """Models on alt+1 to alt+9, each "backend/name"."""
    reuse_ollama_store: bool = True
    """List the GGUF blobs of Ollama's own store under the embedded engine."""
    ollama_store: str = ""
    """Ollama's models folder; "" is $OLLAMA_MODELS, else ~/.ollama/models."""
    reuse_lmstudio: bool = True
    """List the GGUF files in LM Studio's models folders."""
    lmstudio_dirs: list[str] = field(default_factory=list)
    """LM Studio's models folders; empty: ~/.lmstudio/models and ~/.cache/lm-studio/models."""
    reuse_hf_cache: bool = True
    """List the GGUF files in the Hugging Face hub cache ($HF_HUB_CACHE, else ~/.cache/huggingface/hub)."""
    hf_endpoint: str = ""
    """Hugging Face hub address for downloads; "" is $HF_ENDPOINT, else https://huggingface.co."""


@dataclass
class PresetConfig:
    """A persona: a system prompt and sampling settings a conversation can take on (F9)."""

    description: str = ""
    """One line shown in the preset list."""
    system_prompt: str = ""
    """The conversation's system prompt."""
    model: str = ""
    """Model to switch to (name, file name or a unique part of one; BACKEND/NAME picks the backend);
    "" keeps the current one."""
    temperature: float | None = None
    """Sampling temperature; unset: the [chat] default."""
    top_p: float | None = None
    """Nucleus sampling threshold; unset: the [chat] default."""
    max_tokens: int | None = None
    """Longest answer, in tokens; unset: the [chat] default."""
    context_length: int | None = None
    """Context to fit the conversation into, in tokens; unset: the model's."""
    seed: int | None = None
    """Sampling seed, for repeatable answers; unset: random."""
    stop: list[str] | None = None
    """Stop strings; unset: the [chat] default."""
    think: str | None = None
    """Thinking ("" the model's default, "off", "on", "low", "medium", "high"); unset: kept as it is."""


@dataclass
class McpServerConfig:
    """One MCP server: a command lchat starts (stdio), or the URL of one already running (HTTP)."""

    command: str = ""
    """Program that runs the server over stdio, e.g. "python3" or "npx"."""
    args: list[str] = field(default_factory=list)
    """Its arguments."""
    env: dict[str, str] = field(default_factory=dict)
    """Environment variables set for it (stored here: keep this file 0600)."""
    url: str = ""
    """Streamable HTTP endpoint instead of a command, e.g. "http://127.0.0.1:9000/mcp"."""
    headers_env: dict[str, str] = field(default_factory=dict)
    """HTTP headers: header name = environment variable holding its value (never stored)."""


@dataclass
class McpConfig:
    """Tools from MCP servers; nothing runs without the user's approval unless listed in `allow`."""

    servers: dict[str, McpServerConfig] = field(default_factory=dict)
    """One [mcp.servers.NAME] table per server."""
    allow: list[str] = field(default_factory=list)
    """Tools that run without asking: "server.tool", or a tool name only one server has."""
    max_rounds: int = 8
    """Most rounds of tool calls in one answer."""
    call_timeout_s: float = 60.0
    """Seconds a tool call may take."""
    result_max_kb: int = 16
    """A tool's result is cut to this many KB before the model sees it."""


@dataclass
class Config:
    """All of lchat's settings, one section per table in config.toml."""

    engine: EngineConfig = field(default_factory=EngineConfig)
    chat: ChatConfig = field(default_factory=ChatConfig)
    ui: UiConfig = field(default_factory=UiConfig)
    ollama: OllamaConfig = field(default_factory=OllamaConfig)
    servers: list[ServerConfig] = field(default_factory=list)
    """OpenAI-compatible servers, one [[servers]] table each."""
    models: ModelsConfig = field(default_factory=ModelsConfig)
    stats: StatsConfig = field(default_factory=StatsConfig)
    keys: dict[str, str] = field(default_factory=dict)
    """Remapped keys: binding id (see the help screen, F1) to keys, e.g. "chat.cancel" = "ctrl+g"."""
    presets: dict[str, PresetConfig] = field(default_factory=dict)
    """Personas picked with F9, one [presets.NAME] table each."""
    mcp: McpConfig = field(default_factory=McpConfig)


PARAM_RANGES: dict[str, tuple[float, float]] = {
    "temperature": (0.0, 5.0),
    "top_p": (0.0, 1.0),
    "max_tokens": (1, 1_000_000),
    "context_length": (64, 10_000_000),
    "seed": (0, 2**32 - 1),
}
"""A conversation's sampling numbers and the values accepted: in [chat], presets and F8 alike."""
_TIMEOUT = (0.1, 86_400.0)

RANGES: dict[tuple[type, str], tuple[float, float]] = {
    (EngineConfig, "threads"): (0, 1024),
    (EngineConfig, "context_length"): PARAM_RANGES["context_length"],
    (EngineConfig, "gpu_layers"): (0, 100_000),
    **{(ChatConfig, name): PARAM_RANGES[name] for name in ("temperature", "top_p", "max_tokens")},
    (ChatConfig, "attachment_max_mb"): (1, 1000),
    (UiConfig, "max_fps"): (1, 240),
    (StatsConfig, "interval_s"): (0.1, 3600.0),
    (StatsConfig, "history_s"): (1.0, 86_400.0),
    (StatsConfig, "temp_margin_c"): (0.0, 100.0),
    (StatsConfig, "vram_warn_percent"): (1.0, 100.0),
    (OllamaConfig, "connect_timeout"): _TIMEOUT,
    (OllamaConfig, "read_timeout"): _TIMEOUT,
    (OllamaConfig, "context_length"): (0, PARAM_RANGES["context_length"][1]),
    (ServerConfig, "connect_timeout"): _TIMEOUT,
    (ServerConfig, "read_timeout"): _TIMEOUT,
    **{(PresetConfig, name): bounds for name, bounds in PARAM_RANGES.items()},
    (McpConfig, "max_rounds"): (1, 100),
    (McpConfig, "call_timeout_s"): _TIMEOUT,
    (McpConfig, "result_max_kb"): (1, 10_000),
}
"""Every number setting's lowest and highest accepted value, checked when config.toml is read
(0 frames a second, a negative timeout or a context of 1e20 tokens are mistakes, not settings)."""


class ConfigError(Exception):
    """A config file lchat cannot use; str() is one line naming file, line and key."""


@dataclass(frozen=True)
class LoadedConfig:
    """A config and what was odd about it without being fatal."""

    config: Config
    warnings: list[str]


def load_config(path: Path) -> LoadedConfig:
    """Read `path`, or write the defaults there when it does not exist yet."""
    if not os.path.lexists(path):
        config = Config()
        save_config(config, path)
        return LoadedConfig(config, [])
    try:  # A folder, a FIFO or /dev/zero named config.toml is refused, never waited on or read whole.
        text = read_regular_file(path, max_bytes=CONFIG_MAX_BYTES, what="config file").decode("utf-8", "replace")
    except FileRefused as refused:
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
        if isinstance(value, bool) or not isinstance(value, tuple(optional)):
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


CHOICES = {
    ("engine", "kv_cache_type"): '"f16", "q8_0" or "q4_0"',
    ("engine", "gpu_layers"): '"auto" or a number (0 or more)',
}
"""Settings that take one of a few words (or a number), and how to say so."""


def _check_choice(value: Any, path: Path, text: str, key_path: tuple[str, ...]) -> Any:
    if key_path not in CHOICES:
        return value
    if key_path == ("engine", "gpu_layers"):
        good = value == "auto" or (isinstance(value, int) and value >= 0)
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
