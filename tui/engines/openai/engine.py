"""OpenAI-compatible servers (LM Studio, LocalAI, llama-server, vLLM...) through the `openai` client.

The client parses the server-sent events; this module maps its chunks onto the engine contract
and its exceptions onto EngineError. The API key comes from an environment variable only.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from tui.domain import THINK_LEVELS, ChatTurn, GenerationOptions, ModelInfo
from tui.engines.base import (
    BadRequest,
    ChatEvent,
    Engine,
    EngineCrashed,
    EngineError,
    EngineUnavailable,
    Finished,
    ModelNotFound,
    ReasoningPiece,
    ToolCallRequest,
)
from tui.engines.imports import import_in_thread
from tui.engines.manage import Details
from tui.engines.reasoning_split import Tally, ThinkSplitter, ignored_think
from tui.engines.secrets import header_secrets, scrub, url_secrets

if TYPE_CHECKING:  # Imported when first used (tui.engines.imports): they take a while.
    from openai import AsyncOpenAI, AsyncStream
    from openai.types import CompletionUsage
    from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam
    from openai.types.chat.chat_completion_chunk import ChoiceDelta

    from tui.config import Config
from tui.engines.tool_wire import NO_TOOLS, ToolCallFragments, says_no_tools
from tui.engines.urls import connect_reason, in_clear_to_another_machine, is_local, shown_host, shown_url
from tui.engines.wire import openai_messages
from tui.guard.http_limits import limit_client, refused_reply

PRESETS = {
    "lmstudio": "http://localhost:1234/v1",
    "localai": "http://localhost:8080/v1",
    "llama-server": "http://localhost:8080/v1",
    "vllm": "http://localhost:8000/v1",
}
"""Ready-made profiles: each server's usual address."""
NO_KEY = "sk-no-key-required"
"""Sent when no key is configured, so the client never falls back to $OPENAI_API_KEY."""
OPTIONAL_FIELDS = ("stream_options", "reasoning_effort", "chat_template_kwargs")
"""Request fields some servers refuse: left out from then on once a server names one in a 400."""


class OpenAICompatEngine(Engine):
    """One OpenAI-compatible server: /v1/models and streaming chat completions."""

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        api_key: str | None = None,
        api_key_env: str = "",
        connect_timeout: float = 2.0,
        read_timeout: float = 120.0,
        problem: str = "",
    ) -> None:
        """`problem` marks a server whose configuration is unusable: it lists as offline with it."""
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._key = api_key
        self._key_env = api_key_env
        self._timeouts = (connect_timeout, read_timeout)
        self._problem = problem
        self._client: AsyncOpenAI | None = None
        self._refused: set[str] = set()
        """Optional request fields this server refused (OPTIONAL_FIELDS)."""

    @property
    def local(self) -> bool:
        return is_local(self.base_url)

    @property
    def url(self) -> str:
        return self.base_url

    can_describe = True

    def _api(self) -> AsyncOpenAI:
        if self._problem:
            raise EngineUnavailable(self._problem)
        if self._client is None:
            import httpx2
            import openai

            from tui.engines.utf8_repair import repair_utf8

            connect, read = self._timeouts
            timeout = httpx2.Timeout(read, connect=connect)
            # Uncompressed, so repair_utf8 sees the text itself (it leaves compressed bodies alone).
            http = openai.DefaultAsyncHttpxClient(
                timeout=timeout,
                follow_redirects=False,
                event_hooks={"response": [repair_utf8]},
                headers={"Accept-Encoding": "identity"},
            )
            limit_client(http, httpx2)  # Every reply bounded (tui.guard.http_limits).
            self._client = openai.AsyncOpenAI(
                base_url=self.base_url,
                api_key=self._key or NO_KEY,
                max_retries=0,
                timeout=timeout,
                http_client=http,
            )
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def list_models(self) -> list[ModelInfo]:
        await import_in_thread("httpx2", "openai")
        try:
            page = await self._api().models.list()
        except Exception as error:  # noqa: BLE001 - translated
            raise self._translate(error, during="list") from None
        models = []
        for entry in page.data:
            fields = entry.model_dump()
            context = fields.get("max_model_len") or fields.get("context_length")
            models.append(
                ModelInfo(
                    name=entry.id,
                    backend=self.name,
                    context_length=context if isinstance(context, int) else None,
                    has_chat_template=True,
                    extra={"remote": not self.local, "owned_by": fields.get("owned_by") or ""} | self._thinking(),
                )
            )
        return models

    async def chat(
        self, model: str, messages: Sequence[ChatTurn], options: GenerationOptions
    ) -> AsyncGenerator[ChatEvent, None]:
        """Stream one answer. Reasoning comes as `reasoning_content` or `reasoning` deltas, or as
        `<think>` inside the content; `ttft_s` is the first answer piece."""
        tally = Tally(time.monotonic())
        usage: CompletionUsage | None = None
        finish = "stop"
        wanted = {
            "temperature": options.temperature,
            "top_p": options.top_p,
            "max_tokens": options.max_tokens,
            "seed": options.seed,
            "stop": list(options.stop) or None,
        }
        request = {k: v for k, v in wanted.items() if v is not None} | _think_fields(options.think)
        turns = openai_messages(messages)
        if options.tools:
            request["tools"] = [tool.as_openai() for tool in options.tools]
        fragments = ToolCallFragments()
        content = ThinkSplitter()  # Some servers leave <think> inside the content.
        try:
            stream, dropped = await self._open(model, turns, request)
            async with stream:
                async for chunk in stream:
                    if chunk.usage:
                        usage = chunk.usage
                    for choice in chunk.choices[:1]:
                        thought = _reasoning_of(choice.delta)
                        if thought:
                            yield tally.note(ReasoningPiece(thought))
                        for piece in content.feed(choice.delta.content or "") if choice.delta else []:
                            yield tally.note(piece)
                        fragments.add(choice.delta.tool_calls if choice.delta else None)
                        if choice.finish_reason:
                            finish = choice.finish_reason
        except Exception as error:  # noqa: BLE001 - translated
            translated = self._translate(error, model=model, during="chat")
            if options.tools and says_no_tools(str(translated)):
                raise BadRequest(f"{model}: {NO_TOOLS}") from None
            raise translated from None
        for piece in content.flush():
            yield tally.note(piece)
        for call in fragments.calls():
            yield ToolCallRequest(call)
        ended = time.monotonic()
        first = tally.first
        completion = usage.completion_tokens if usage else tally.pieces
        counted = _counted_reasoning(usage)
        reasoning_tokens = counted if counted is not None else tally.estimated_reasoning_tokens(completion)
        notices = [ignored_think(options.think, thought=tally.thought)]
        notices += [
            f"{self.name} does not take {name}, so the think setting was not sent"
            for name in dropped
            if name != "stream_options"
        ]
        yield Finished(
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=completion,
            ttft_s=tally.ttft_s,
            gen_s=ended - first if first else 0.0,
            stop_reason=finish,
            reasoning_tokens=reasoning_tokens,
            reasoning_estimated=reasoning_tokens is not None and counted is None,
            reasoning_ttft_s=tally.reasoning_ttft_s,
            notice="; ".join(n for n in notices if n),
        )

    def _thinking(self) -> dict[str, Any]:
        """Servers list no abilities: levels unless this one refused reasoning_effort (tui.chat.thinking)."""
        return {} if "reasoning_effort" in self._refused else {"think_levels": list(THINK_LEVELS)}

    async def _open(
        self, model: str, turns: list[dict[str, Any]], request: dict[str, Any]
    ) -> tuple[AsyncStream[ChatCompletionChunk], list[str]]:
        """Start the stream, asking for token counts where the server accepts stream_options;
        a field the server refuses (OPTIONAL_FIELDS) is left out, then and from then on.
        Returns the stream and the fields this request wanted but left out."""
        import openai

        create = self._api().chat.completions.create
        wanted = dict(request, stream_options={"include_usage": True})
        dropped = [name for name in OPTIONAL_FIELDS if name in wanted and name in self._refused]
        while True:
            fields = {k: v for k, v in wanted.items() if k not in self._refused}
            if "chat_template_kwargs" in fields:  # Not a field the client knows: sent as is.
                fields["extra_body"] = {"chat_template_kwargs": fields.pop("chat_template_kwargs")}
            try:
                # JSON messages in; stream=True gives a stream, which `fields` hides from the overloads.
                messages = cast("list[ChatCompletionMessageParam]", turns)
                stream = await create(model=model, messages=messages, stream=True, **fields)
                return cast("AsyncStream[ChatCompletionChunk]", stream), dropped
            except openai.BadRequestError as error:
                refused = [
                    name
                    for name in OPTIONAL_FIELDS
                    if name in wanted and name not in self._refused and name in str(error)
                ]
                if not refused:
                    raise
                self._refused.update(refused)  # An older or stricter server: ask without it.
                dropped += refused

    async def details(self, model: str) -> Details:
        """What /v1/models says of `model` (servers say little; sizes are unknown)."""
        try:
            page = await self._api().models.list()
        except Exception as error:  # noqa: BLE001
            raise self._translate(error, during="list") from None
        for entry in page.data:
            if entry.id == model:
                rows = [("Name", model), ("Backend", f"{self.name} ({shown_url(self.base_url)})")]
                rows += [
                    (key, str(value))
                    for key, value in entry.model_dump().items()
                    if key != "id" and value not in (None, "", [], {})
                ]
                return rows
        raise ModelNotFound(f"{self.name} has no model {model!r}")

    def _translate(self, error: BaseException, *, model: str = "", during: str) -> EngineError:
        import httpx2
        import openai

        where = f"{self.name} at {shown_url(self.base_url)}"
        if isinstance(error, EngineError):
            return error
        if big := refused_reply(error):
            return EngineError(f"{where} sent {big}; lchat stopped reading it")
        if isinstance(error, openai.APITimeoutError) or isinstance(error, httpx2.TimeoutException):
            cause = error.__cause__ or error
            if isinstance(cause, httpx2.ConnectTimeout):
                return EngineUnavailable(f"{where} did not answer within the connect timeout")
            return EngineError(f"{where} stopped responding: nothing arrived for {self._timeouts[1]:g} s")
        if isinstance(error, openai.APIConnectionError):
            if during == "chat" and isinstance(error.__cause__, (httpx2.RemoteProtocolError, httpx2.ReadError)):
                return EngineCrashed(f"the connection to {where} broke in the middle of the answer")
            reason = connect_reason(error)
            hint = "; is the server running?" if reason == "connection refused" else ""
            return EngineUnavailable(f"cannot reach {where}: {reason}{hint}")
        if isinstance(error, (httpx2.RemoteProtocolError, httpx2.ReadError)):
            return EngineCrashed(f"the connection to {where} broke in the middle of the answer")
        if isinstance(error, openai.APIStatusError):
            status, detail = error.status_code, self._scrub(_detail(error))
            if 300 <= status < 400:
                host = shown_host(error.response.headers.get("location", ""))
                to = f" to {host}" if host else ""
                return EngineUnavailable(
                    f"{where} redirected the request{to} (HTTP {status}); lchat does not follow redirects, "
                    "so the key never reaches another host: put the final address in its base_url"
                )
            if status in (401, 403):
                hint = (
                    f"check the key in ${self._key_env}"
                    if self._key and self._key_env
                    else f"the environment variable {self._key_env} is not set"
                    if self._key_env
                    else "set api_key_env in its [[servers]] table"
                )
                return EngineUnavailable(f"{where} refused the request (HTTP {status}): {hint}")
            if status == 404:
                if during == "list":
                    return EngineUnavailable(
                        f"no OpenAI-compatible API at {shown_url(self.base_url)} (HTTP 404 for /models)"
                    )
                return ModelNotFound(f"{where} has no model {model!r} ({detail})")
            if status in (400, 422):
                return BadRequest(f"{where} refused the request: {detail}")
            return EngineError(f"{where} failed (HTTP {status}): {detail}")
        if isinstance(error, openai.OpenAIError):
            return EngineError(f"{where}: {self._scrub(str(error)) or type(error).__name__}")
        if isinstance(error, ValueError):  # json.JSONDecodeError among them
            return EngineError(f"{where} sent an event that is not JSON; is it really an OpenAI-compatible API?")
        if isinstance(error, httpx2.HTTPError):
            return EngineError(f"talking to {where} failed: {type(error).__name__}")
        return EngineError(f"{where}: unexpected {type(error).__name__}: {self._scrub(str(error))}")

    def _scrub(self, text: str) -> str:
        return scrub(text, [*header_secrets(self._key or ""), *url_secrets(self.base_url)])


def _think_fields(think: str | None) -> dict[str, Any]:
    """What asks a server for the think setting: `reasoning_effort` for a level, the template's
    `enable_thinking` (vLLM, llama-server) for on and off."""
    if think is None:
        return {}
    if think in THINK_LEVELS:
        return {"reasoning_effort": think}
    return {"chat_template_kwargs": {"enable_thinking": think != "off"}}


def _reasoning_of(delta: ChoiceDelta | None) -> str:
    """A delta's reasoning: `reasoning_content` (vLLM, llama-server) or `reasoning` (Ollama's /v1);
    the client keeps fields it does not model as extra attributes."""
    if delta is None:
        return ""
    for name in ("reasoning_content", "reasoning"):
        value = getattr(delta, name, None)
        if isinstance(value, str) and value:
            return value
    return ""


def _counted_reasoning(usage: CompletionUsage | None) -> int | None:
    """Reasoning tokens where the server counts them (usage.completion_tokens_details)."""
    details = getattr(usage, "completion_tokens_details", None) if usage else None
    count = getattr(details, "reasoning_tokens", None) if details else None
    return count if isinstance(count, int) and count > 0 else None


def _detail(error: BaseException) -> str:
    """The server's own words from an error body ({"error": {"message": ...}} or {"error": "..."})."""
    body = getattr(error, "body", None)
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            inner = inner.get("message") or inner
        if isinstance(inner, str):
            return inner[:200]
    return str(getattr(error, "message", "") or error)[:200]


def configured_servers(config: Config, environ: Mapping[str, str]) -> dict[str, OpenAICompatEngine]:
    """One engine per [[servers]] table; a table that cannot work still lists, offline, with why."""
    engines: dict[str, OpenAICompatEngine] = {}
    for index, server in enumerate(config.servers):
        problem = ""
        if server.preset and server.preset not in PRESETS:
            problem = f"unknown preset {server.preset!r} (known: {', '.join(PRESETS)})"
        base_url = server.base_url or PRESETS.get(server.preset, "")
        if not base_url and not problem:
            problem = "no base_url and no preset in its [[servers]] table"
        name = server.name or server.preset or f"server{index + 1}"
        while name in engines:
            name += "+"
        key = environ.get(server.api_key_env) if server.api_key_env else None
        secret = key or urlsplit(base_url).password
        if secret and not problem and not server.allow_insecure_auth and in_clear_to_another_machine(base_url):
            problem = (
                f"its credentials are not sent over plain http to another machine ({shown_url(base_url)}); "
                "use https, or set allow_insecure_auth = true in its [[servers]] table if the network is trusted"
            )
        engines[name] = OpenAICompatEngine(
            name=name,
            base_url=base_url or "http://invalid",
            api_key=key,
            api_key_env=server.api_key_env,
            connect_timeout=server.connect_timeout,
            read_timeout=server.read_timeout,
            problem=problem,
        )
    return engines
