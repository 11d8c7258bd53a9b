"""Which credentials go to which Ollama host.

A credential goes only to the host it was configured for: the host's own `auth_header_env` (else
[ollama]'s), and $OLLAMA_API_KEY only to hosts whose [ollama.credentials."HOST"] table says
`send_ollama_api_key = true` (the `ollama` library itself would send it to every host). None of
them travels over plain http to another machine unless that host's table says
`allow_insecure_auth = true`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tui.engines.urls import in_clear_to_another_machine, shown_host, shown_url

if TYPE_CHECKING:
    from tui.config import OllamaConfig, OllamaHostConfig


@dataclass(frozen=True)
class HostCredentials:
    """What one host is to be sent, resolved from the config and the environment."""

    auth_secret: str | None = None
    """The proxy header's value, from the environment."""
    auth_env: str = ""
    """The variable it comes from (named in messages; its value never is)."""
    api_key: str | None = None
    """$OLLAMA_API_KEY, for a host the config names for it."""
    allow_insecure: bool = False
    """Credentials may go to this host over plain http although it is another machine."""


def host_credentials(
    section: OllamaConfig, own: OllamaHostConfig | None, environ: Mapping[str, str]
) -> HostCredentials:
    """The credentials for one host: its own table `own` (or None) over [ollama] (`section`)."""
    env = (own.auth_header_env if own else "") or section.auth_header_env
    return HostCredentials(
        auth_secret=environ.get(env) if env else None,
        auth_env=env,
        api_key=environ.get("OLLAMA_API_KEY") if own and own.send_ollama_api_key else None,
        allow_insecure=bool(own and own.allow_insecure_auth),
    )


def insecure_refusal(url: str, *, allowed: bool) -> str:
    """Why credentials may not go to `url` ("" when they may): plain http to another machine."""
    if allowed or not in_clear_to_another_machine(url):
        return ""
    host = shown_host(url)
    return (
        f"Ollama at {shown_url(url)}: credentials are configured for it, but lchat does not send them over "
        f"plain http to another machine; use https, or set allow_insecure_auth = true in "
        f'[ollama.credentials."{host}"] if the network is trusted'
    )
