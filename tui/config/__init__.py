"""Typed settings with their defaults and bounds; config_read reads config.toml into them, checked,
and config_write writes them back atomically."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    flash_attention: bool | str = False
    """Flash attention: true, false (fully off) or "auto" (llama.cpp decides, and turns it on for a
    quantised V cache); less memory for long contexts. Next load."""


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


CHOICES = {
    ("engine", "kv_cache_type"): '"f16", "q8_0" or "q4_0"',
    ("engine", "gpu_layers"): '"auto" or a number (0 or more)',
    ("engine", "flash_attention"): 'true, false or "auto"',
}
"""Settings that take one of a few words (or a number), and how to say so."""
