"""The Ollama backend, through the official `ollama` AsyncClient.

One engine per daemon. Redirects are not followed, so an auth header never reaches another
host; every failure becomes an EngineError whose text never contains the auth secret.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from tui.domain import THINK_LEVELS, ChatTurn, GenerationOptions, ModelInfo
from tui.engines.base import (
    BadRequest,
    ChatEvent,
    Engine,
    EngineError,
    EngineUnavailable,
    Finished,
    ReasoningPiece,
    TextPiece,
    ToolCallRequest,
)
from tui.engines.imports import import_in_thread
from tui.engines.manage import Details, Progress
from tui.engines.ollama.auth import host_credentials, insecure_refusal
from tui.engines.ollama.errors import ErrorContext, translate
from tui.engines.reasoning_split import Tally, ignored_think
from tui.engines.secrets import header_secrets, url_secrets
from tui.engines.tool_wire import NO_TOOLS, ollama_calls, says_no_tools
from tui.engines.urls import is_local, shown_host, shown_url
from tui.engines.wire import ollama_messages
from tui.gguf.kv_shape import KvShape
from tui.guard.http_limits import limit_client

if TYPE_CHECKING:  # Imported when first used (tui.engines.imports): they take a while.
    import httpx
    from ollama import AsyncClient, ChatResponse, ListResponse, ProcessResponse

    from tui.config import Config

DEFAULT_HOST = "localhost:11434"
DEFAULT_CONTEXT = 4096
"""num_ctx Ollama uses when neither lchat nor the Modelfile sets one."""
SHOW_BUDGET_S = 5.0
"""Longest a model list waits for /api/show details; what is missing is fetched next time."""


def ollama_url(host: str) -> str:
    """A daemon's base URL: a bare host gets http:// and port 11434, as `ollama` itself does."""
    host = host.strip() or DEFAULT_HOST
    if "://" not in host:
        parts = urlsplit("http://" + host)
        netloc = parts.netloc if parts.port else f"{parts.netloc}:11434"
        return f"http://{netloc}{parts.path.rstrip('/')}"
    return host.rstrip("/")


def parse_size(text: str | None) -> int | None:
    """Ollama's parameter_size ("3.2B", "135M", "567.72K") as a number."""
    if not text:
        return None
    scale = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}.get(text[-1].upper())
    try:
        return int(float(text[:-1]) * scale) if scale else int(float(text))
    except ValueError:
        return None


class OllamaEngine(Engine):
    """Chat, list, describe, pull, delete and unload on one Ollama daemon."""

    def __init__(
        self,
        *,
        name: str = "ollama",
        host: str = DEFAULT_HOST,
        connect_timeout: float = 2.0,
        read_timeout: float = 120.0,
        auth_header: str = "Authorization",
        auth_secret: str | None = None,
        auth_env: str = "",
        api_key: str | None = None,
        allow_insecure_auth: bool = False,
        num_ctx: int = 0,
        keep_alive: str = "",
    ) -> None:
        """`auth_secret` is the auth header's value (read from `auth_env` by the caller); `api_key` is
        sent as a bearer token; neither goes over plain http to another machine unless
        `allow_insecure_auth` (tui.engines.ollama.auth)."""
        self.name = name
        self._url = ollama_url(host)
        self.num_ctx = num_ctx
        """Context window sent as num_ctx (0: the model's own)."""
        self._timeouts = (connect_timeout, read_timeout)
        self._auth = (auth_header, auth_secret) if auth_secret else None
        self._api_key = api_key
        self._allow_insecure = allow_insecure_auth
        # $OLLAMA_API_KEY is never sent unasked, but may never be shown either.
        secrets = [
            *header_secrets(auth_secret or ""),
            *header_secrets(os.environ.get("OLLAMA_API_KEY", "")),
            *header_secrets(api_key or ""),
            *url_secrets(self.url),
        ]
        self._ctx = ErrorContext(shown_url(self.url), read_timeout, auth_env, secrets)
        self._keep_alive = keep_alive or None
        self._client: AsyncClient | None = None
        self._shown: dict[str | None, dict[str, Any]] = {}
        """What /api/show said, by digest (None for a model listed without one)."""
        self._thinking: dict[str, ThinkAbility] = {}
        self._digests: dict[str, str] = {}
        """Each listed model's digest, the key of what /api/show said of it."""

    @property
    def url(self) -> str:
        return self._url

    @property
    def local(self) -> bool:
        return is_local(self.url)

    @property
    def loads_into(self) -> str:
        """A daemon on this machine uses the GPU where it can."""
        return "VRAM" if self.local else ""

    @property
    def context_cap(self) -> int | None:
        return self.num_ctx or None

    def load_context(self, model: ModelInfo) -> int:
        """The running model's context, else the num_ctx lchat sends, else the Modelfile's, else Ollama's default."""
        running = model.extra.get("running") or {}
        return int(running.get("context_length") or self.num_ctx or model.extra.get("num_ctx") or DEFAULT_CONTEXT)

    can_describe = can_pull = can_delete = can_unload = reports_loaded = True
    model_processes = frozenset({"ollama"})
    """Ollama's runners (ollama, ollama_llama_server) hold its models' VRAM on this machine."""

    def _api(self) -> AsyncClient:
        """The AsyncClient, made on first use (inside the running event loop)."""
        if self._client is None:
            import httpx
            import ollama

            connect, read = self._timeouts
            headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
            if self._auth:
                headers[self._auth[0]] = self._auth[1]
            parts = urlsplit(self.url)
            # The client drops a user:password@ from the host; httpx sends it as basic auth.
            basic = (unquote(parts.username), unquote(parts.password or "")) if parts.username else None
            refused = insecure_refusal(self.url, allowed=self._allow_insecure) if headers or basic else ""
            if refused:
                raise EngineUnavailable(refused)
            client = ollama.AsyncClient(
                host=self.url,
                timeout=httpx.Timeout(read, connect=connect),
                headers=headers,
                auth=basic,
                follow_redirects=False,
                event_hooks={"response": [self._note_redirect]},
            )
            limit_client(client._client, httpx)  # Every reply bounded (tui.guard.http_limits).
            if not any(name.lower() == "authorization" for name in headers):
                client._client.headers.pop("authorization", None)  # the library's own $OLLAMA_API_KEY
            self._client = client
        return self._client

    async def _note_redirect(self, response: httpx.Response) -> None:
        if response.is_redirect:
            self._ctx.redirect = response.headers.get("location", "")

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client._client.aclose()

    # The engine contract

    async def list_models(self) -> list[ModelInfo]:
        """The daemon's models, with /api/ps state and /api/show details where known."""
        await import_in_thread("httpx", "ollama")
        try:
            api = self._api()
            tags = await api.list()
            try:
                running = {m.model: m for m in (await api.ps()).models}
            except Exception:  # noqa: BLE001 - state is a nicety; the list itself worked.
                running = {}
        except Exception as error:  # noqa: BLE001 - translated into a readable EngineError
            raise translate(error, self._ctx, during="list") from None
        await self._fetch_shows([m for m in tags.models if m.model and m.digest not in self._shown])
        self._digests = {m.model: m.digest or "" for m in tags.models if m.model}
        return [self._describe(m, running.get(m.model)) for m in tags.models if m.model]

    async def chat(
        self, model: str, messages: Sequence[ChatTurn], options: GenerationOptions
    ) -> AsyncGenerator[ChatEvent, None]:
        """Stream one answer; the last NDJSON chunk carries Ollama's own counts and timings.

        Reasoning (`message.thinking`) streams as ReasoningPiece; `ttft_s` is the first answer piece.
        """
        tally = Tally(time.monotonic())
        final: ChatResponse | None = None
        wanted = {
            "temperature": options.temperature,
            "top_p": options.top_p,
            "num_predict": options.max_tokens,
            "seed": options.seed,
            "stop": list(options.stop) or None,
            "num_ctx": self.num_ctx or None,
        }
        calls = 0
        try:
            think = await self._think_value(model, options.think)
            stream = await self._api().chat(
                model=model,
                messages=ollama_messages(messages),
                stream=True,
                options={k: v for k, v in wanted.items() if v is not None},
                keep_alive=self._keep_alive,
                think=think,
                tools=[tool.as_openai() for tool in options.tools] or None,
            )
            # The client types its stream as an AsyncIterator; it is an async generator.
            async with aclosing(stream) as parts:  # type: ignore[type-var]
                async for part in parts:
                    thought = part.message.thinking if part.message else ""
                    if thought:
                        yield tally.note(ReasoningPiece(thought))
                    text = part.message.content if part.message else ""
                    if text:
                        yield tally.note(TextPiece(text))
                    for call in ollama_calls(part.message.tool_calls if part.message else None, calls):
                        calls += 1
                        yield ToolCallRequest(call)
                    if part.done:
                        final = part
        except Exception as error:  # noqa: BLE001 - translated into a readable EngineError
            translated = translate(error, self._ctx, model=model, during="chat")
            if options.tools and says_no_tools(str(translated)):
                raise BadRequest(f"{model}: {NO_TOOLS}") from None
            raise translated from None
        if final is None:
            raise EngineError(f"{self.name} ended the answer without finishing it (the daemon stopped?)")
        ended = time.monotonic()
        first = tally.first
        completion = final.eval_count or tally.pieces
        reasoning_tokens = tally.estimated_reasoning_tokens(completion)  # Ollama counts both as one.
        yield Finished(
            prompt_tokens=final.prompt_eval_count or 0,
            completion_tokens=completion,
            ttft_s=tally.ttft_s,
            gen_s=final.eval_duration / 1e9 if final.eval_duration else (ended - first if first else 0.0),
            stop_reason=final.done_reason or "stop",
            prompt_s=final.prompt_eval_duration / 1e9 if final.prompt_eval_duration else None,
            load_s=final.load_duration / 1e9 if final.load_duration else None,
            reasoning_tokens=reasoning_tokens,
            reasoning_estimated=reasoning_tokens is not None,
            reasoning_ttft_s=tally.reasoning_ttft_s,
            notice=ignored_think(options.think, thought=tally.thought),
        )

    async def _think_value(self, model: str, think: str | None) -> bool | str | None:
        """What to send as `think`: nothing for the model's default or a model that cannot think."""
        if think is None:
            return None
        ability = await self._think_ability(model)
        if not ability.capable:
            return None  # Ollama refuses `think` for such a model.
        if think == "off":
            return False
        if ability.levels:
            return think if think in ability.levels else (ability.default or True)
        return True

    async def _think_ability(self, model: str) -> ThinkAbility:
        """What /api/show says of thinking, read raw (the client's ShowResponse drops the levels)."""
        if model not in self._thinking:
            try:
                raw = await self._show_raw(model)
            except Exception as error:  # noqa: BLE001
                raise translate(error, self._ctx, model=model, during="show") from None
            self._thinking[model] = ThinkAbility.from_show(raw)
        return self._thinking[model]

    async def _show_raw(self, model: str) -> dict[str, Any]:
        """/api/show's answer as sent: the client's ShowResponse drops the thinking levels."""
        client = self._api()
        raw = (await client._request_raw("POST", "/api/show", json={"model": model})).json()  # type: ignore[no-untyped-call]  # ollama leaves it unannotated
        return raw if isinstance(raw, dict) else {}

    # Optional abilities (declared on tui.engines.base.Engine)

    async def details(self, model: str) -> Details:
        """Everything /api/show says: architecture, template, license, parameters, capabilities."""
        try:
            show = await self._api().show(model)
        except Exception as error:  # noqa: BLE001
            raise translate(error, self._ctx, model=model, during="show") from None
        info = dict(show.modelinfo or {})
        arch = str(info.get("general.architecture") or (show.details.family if show.details else "") or "")
        details = show.details
        rows: Details = [("Name", model), ("Backend", self.name), ("Architecture", arch)]
        count = info.get("general.parameter_count")
        rows.append(
            (
                "Parameters",
                f"{count:,}" if isinstance(count, int) else (details.parameter_size or "") if details else "",
            )
        )
        rows.append(("Quantization", details.quantization_level or "" if details else ""))
        ctx = info.get(f"{arch}.context_length")
        rows.append(("Context length", str(ctx) if ctx else ""))
        rows.append(("Capabilities", ", ".join(show.capabilities or [])))
        rows.append(("Default parameters", (show.parameters or "").strip()))
        rows.append(("Template", (show.template or "").strip()))
        rows.append(("License", (show.license or "").strip()))
        rows.extend((key, str(value)) for key, value in sorted(info.items()) if not isinstance(value, list))
        return [(label, value) for label, value in rows if value]

    async def pull(self, model: str) -> AsyncGenerator[Progress, None]:
        """Pull `model` from its registry; cancelling the consumer stops the download."""
        try:
            stream = await self._api().pull(model, stream=True)
            async with aclosing(stream) as steps:  # type: ignore[type-var]  # as in chat()
                async for step in steps:
                    yield Progress(step.status or "", step.completed, step.total)
        except Exception as error:  # noqa: BLE001
            raise translate(error, self._ctx, model=model, during="pull") from None

    async def delete(self, model: str) -> None:
        try:
            await self._api().delete(model)
        except Exception as error:  # noqa: BLE001
            raise translate(error, self._ctx, model=model, during="delete") from None

    async def unload(self, model: str) -> None:
        """Free the model's memory now (keep_alive 0)."""
        try:
            await self._api().generate(model=model, keep_alive=0)
        except Exception as error:  # noqa: BLE001
            raise translate(error, self._ctx, model=model, during="unload") from None

    # What a model can do: /api/show's capabilities, read with the model list

    def supports_thinking(self, model: str) -> bool | None:
        return self._capable(model, "thinking")

    def think_levels(self, model: str) -> tuple[str, ...]:
        ability = self._thinking.get(model)
        return ability.levels if ability is not None else ()

    def supports_tools(self, model: str) -> bool | None:
        return self._capable(model, "tools")

    def supports_images(self, model: str) -> bool | None:
        return self._capable(model, "vision")

    def _capable(self, model: str, capability: str) -> bool | None:
        """Whether /api/show listed `capability` for `model`; None before it was read, or from a
        daemon too old to say."""
        capabilities = self._shown.get(self._digests.get(model, ""), {}).get("capabilities")
        return None if capabilities is None else capability in capabilities

    # Helpers

    async def _fetch_shows(self, models: list[ListResponse.Model]) -> None:
        limit = asyncio.Semaphore(4)

        async def fetch(entry: ListResponse.Model) -> None:
            model = entry.model or ""  # The list leaves out models without a name.
            async with limit:
                try:
                    show = await self._show_raw(model)
                except Exception:  # noqa: BLE001 - details are optional in a list
                    return
                thinking = self._thinking[model] = ThinkAbility.from_show(show)
                self._shown[entry.digest] = {
                    "info": dict(show.get("model_info") or {}),
                    "parameters": str(show.get("parameters") or ""),
                    "thinking": thinking,
                    "capabilities": show.get("capabilities"),
                }

        if models:
            try:
                async with asyncio.timeout(SHOW_BUDGET_S):
                    await asyncio.gather(*(fetch(m) for m in models))
            except TimeoutError:
                pass

    def _describe(self, entry: ListResponse.Model, running: ProcessResponse.Model | None) -> ModelInfo:
        details = entry.details
        shown = self._shown.get(entry.digest, {})
        info = shown.get("info", {})
        arch = str(info.get("general.architecture") or (details.family if details else "") or "")
        extra: dict[str, Any] = {"digest": entry.digest or "", "remote": not self.local}
        if "thinking" in shown:
            extra |= shown["thinking"].as_extra()
        shape = KvShape.from_metadata(info, arch) if info else None
        if shape:
            extra["kv"] = shape.as_extra()
        num_ctx = _num_ctx(shown.get("parameters", ""))
        if num_ctx:
            extra["num_ctx"] = num_ctx
        if running is not None:
            extra["running"] = {
                "expires_at": running.expires_at.timestamp() if running.expires_at else None,
                "size_vram": int(running.size_vram or 0),
                "size": int(running.size or 0),
                "context_length": running.context_length,
            }
        count = info.get("general.parameter_count")
        context = info.get(f"{arch}.context_length")
        return ModelInfo(
            name=entry.model or "",  # The list leaves out models without a name.
            backend=self.name,
            size_bytes=int(entry.size) if entry.size else None,
            architecture=arch,
            parameters=count if isinstance(count, int) else parse_size(details.parameter_size if details else None),
            quantization=(details.quantization_level or "") if details else "",
            context_length=int(context) if isinstance(context, int) else None,
            has_chat_template=True,
            extra=extra,
        )


@dataclass(frozen=True)
class ThinkAbility:
    """How a model thinks, from /api/show: whether it can, and the levels it takes."""

    capable: bool = False
    levels: tuple[str, ...] = ()
    default: str = ""

    def as_extra(self) -> dict[str, Any]:
        """As ModelInfo.extra holds it (tui.chat.thinking)."""
        return {"thinking": self.capable} | ({"think_levels": list(self.levels)} if self.levels else {})

    @classmethod
    def from_show(cls, show: dict[str, Any]) -> ThinkAbility:
        """From the raw answer: `capabilities` has "thinking"; newer daemons add a `thinking`
        object with the accepted `values` and the `default`; older ones gave gpt-oss levels only."""
        if "thinking" not in (show.get("capabilities") or []):
            return cls()
        detail = show.get("thinking")
        if isinstance(detail, dict):
            values = detail.get("values") or detail.get("levels") or []
            levels = tuple(str(v) for v in values if str(v) in THINK_LEVELS)
            default = detail.get("default")
            return cls(True, levels, str(default) if isinstance(default, str) else "")
        arch = str((show.get("model_info") or {}).get("general.architecture") or "")
        return cls(True, THINK_LEVELS if arch == "gptoss" else (), "medium" if arch == "gptoss" else "")


def _num_ctx(parameters: str) -> int | None:
    """num_ctx from a Modelfile's PARAMETER lines, as /api/show returns them."""
    for line in parameters.splitlines():
        key, _, value = line.strip().partition(" ")
        if key == "num_ctx" and value.strip().isdigit():
            return int(value.strip())
    return None


def configured_ollama_engines(config: Config, environ: dict[str, str]) -> dict[str, OllamaEngine]:
    """One engine per configured host ("ollama", or "ollama@host:port" when there are several)."""
    section = config.ollama
    if not section.enabled:
        return {}
    hosts = list(dict.fromkeys(section.hosts)) or [environ.get("OLLAMA_HOST") or DEFAULT_HOST]
    tables = {shown_host(ollama_url(written)).lower(): table for written, table in section.credentials.items()}
    engines: dict[str, OllamaEngine] = {}
    for host in hosts:
        url = ollama_url(host)
        name = "ollama" if len(hosts) == 1 else f"ollama@{shown_host(url)}"
        own = host_credentials(section, tables.get(shown_host(url).lower()), environ)
        engines[name] = OllamaEngine(
            name=name,
            host=url,
            connect_timeout=section.connect_timeout,
            read_timeout=section.read_timeout,
            auth_header=section.proxy_header,
            auth_secret=own.auth_secret,
            auth_env=own.auth_env,
            api_key=own.api_key,
            allow_insecure_auth=own.allow_insecure,
            num_ctx=section.context_length,
            keep_alive=section.keep_alive,
        )
        if own.auth_env and not own.auth_secret:
            engines[name]._ctx.missing_env = True
    return engines
