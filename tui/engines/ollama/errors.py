"""Every way talking to Ollama fails, turned into an EngineError a user can read.

The `ollama` client raises its ResponseError (HTTP errors and {"error": ...} lines), Python's
ConnectionError (refused, outside streams), raw httpx errors (inside streams), json errors (a
line that is not JSON) and pydantic errors (JSON of the wrong shape). Secrets are scrubbed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from tui.engines.base import BadRequest, EngineCrashed, EngineError, EngineUnavailable, ModelNotFound
from tui.engines.secrets import scrub
from tui.engines.urls import connect_reason, shown_host
from tui.guard.http_limits import refused_reply


@dataclass
class ErrorContext:
    """What a message needs to know about the daemon it is about."""

    url: str
    read_timeout: float
    auth_env: str = ""
    secrets: list[str] = field(default_factory=list)
    """Values that must never appear in a message, in every form they travel in (tui.engines.secrets)."""
    redirect: str = ""
    """Where the daemon last tried to redirect us."""
    missing_env: bool = False
    """auth_env is configured but not set in the environment."""

    def scrub(self, text: str) -> str:
        return scrub(text, self.secrets)


def translate(error: BaseException, ctx: ErrorContext, *, model: str = "", during: str = "chat") -> EngineError:
    """The EngineError for `error`, raised while doing `during` ("list", "chat", "pull", ...)."""
    import httpx
    import ollama
    import pydantic

    where = f"Ollama at {ctx.url}"
    if isinstance(error, EngineError):
        return error
    if big := refused_reply(error):
        return EngineError(f"{where} sent {big}; lchat stopped reading it")
    if isinstance(error, ollama.ResponseError):
        return _from_response(error, ctx, where, model, during)
    if isinstance(error, httpx.ConnectTimeout):
        return EngineUnavailable(f"{where} did not answer within the connect timeout")
    if isinstance(error, (ConnectionError, httpx.ConnectError)):
        reason = connect_reason(error)
        hint = "; is `ollama serve` running?" if reason == "connection refused" else ""
        return EngineUnavailable(f"cannot reach {where}: {reason}{hint}")
    if isinstance(error, httpx.ReadTimeout):
        return EngineError(
            f"{where} stopped responding: nothing arrived for {ctx.read_timeout:g} s "
            "([ollama] read_timeout); it may be stuck or still loading a large model"
        )
    if isinstance(error, httpx.TimeoutException):
        return EngineError(f"{where} timed out ({type(error).__name__})")
    if isinstance(error, (httpx.RemoteProtocolError, httpx.ReadError)):
        if during == "chat":
            return EngineCrashed(
                f"the connection to {where} broke in the middle of the answer (was the daemon stopped?)"
            )
        return EngineCrashed(f"the connection to {where} broke during {during} (was the daemon stopped?)")
    if isinstance(error, json.JSONDecodeError):
        line = ctx.scrub(error.doc.strip())[:60]
        return EngineError(
            f"{where} sent a line that is not JSON ({line!r}); is something else answering on that port?"
        )
    if isinstance(error, pydantic.ValidationError):
        return EngineError(f"{where} sent a reply of an unexpected shape (is it really Ollama?)")
    if isinstance(error, httpx.HTTPError):
        return EngineError(f"talking to {where} failed: {ctx.scrub(str(error)) or type(error).__name__}")
    return EngineError(f"{where}: unexpected {type(error).__name__}: {ctx.scrub(str(error))}")


def _from_response(error: object, ctx: ErrorContext, where: str, model: str, during: str) -> EngineError:
    status = getattr(error, "status_code", -1)
    detail = ctx.scrub(str(getattr(error, "error", "") or "")).strip()
    if 300 <= status < 400:
        host = shown_host(ctx.redirect)
        to = f" to {host}" if host else ""
        return EngineUnavailable(
            f"{where} redirected the request{to} (HTTP {status}); lchat does not follow redirects, so "
            "credentials never reach another host: put the final address in [ollama] hosts"
        )
    if status in (401, 403):
        if ctx.missing_env:
            hint = f"the environment variable {ctx.auth_env} named in [ollama] auth_header_env is not set"
        elif ctx.auth_env:
            hint = f"check the credentials in ${ctx.auth_env}"
        else:
            hint = "set [ollama] auth_header_env to the variable holding the credentials"
        word = "unauthorized" if status == 401 else "forbidden"
        return EngineUnavailable(f"{where} refused the request (HTTP {status} {word}): {hint}")
    if status == 404:
        if during == "list":
            return EngineUnavailable(f"no Ollama API at {ctx.url} (HTTP 404)")
        if model and "model" not in detail.lower():  # Ollama's own 404s all say "model ...".
            return EngineUnavailable(f"no Ollama API at {ctx.url} (HTTP 404: {detail or 'not found'})")
        if model:
            return ModelNotFound(f"model {model!r} not found on {where}: pull it first, or check the name")
        return ModelNotFound(f"{where}: {detail or 'not found'}")
    if during == "pull" and status == -1:
        return EngineError(f"pulling {model!r} failed: {detail or 'unknown error'}")
    if status == 400:
        return BadRequest(f"{where} refused the request: {detail}")
    if status == -1:
        return EngineError(f"{where} reported an error: {detail or 'unknown error'}")
    return EngineError(f"{where} failed (HTTP {status}): {detail or 'no detail'}")
