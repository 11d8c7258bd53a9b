"""Credentials go only where they were configured, and never come back into a message.

The real `ollama` client talks to loopback doubles that record each request's headers; a double
listening on this machine's LAN address plays a daemon on another machine.
"""

from __future__ import annotations

import base64

import pytest

from tests.fake_ollama import OllamaState, start_ollama
from tests.fake_openai import OpenAIHandler, OpenAIState
from tests.loopback import lan_address, serve
from tui.config import Config, OllamaHostConfig, ServerConfig
from tui.domain import GenerationOptions
from tui.engines.base import EngineError, EngineUnavailable
from tui.engines.ollama.engine import OllamaEngine, configured_ollama_engines
from tui.engines.openai.engine import configured_servers
from tui.engines.secrets import SCRUBBED, scrub, url_secrets
from tui.engines.urls import shown_host

API_KEY = "ollama-cloud-key-0123456789"


def daemon(host: str = "127.0.0.1"):
    state = OllamaState()
    state.add("llama3.2:latest")
    return start_ollama(state, host=host)


def auth_of(served) -> list[str | None]:
    """The Authorization header of each request the double received (None: none sent)."""
    return [{k.lower(): v for k, v in r.headers.items()}.get("authorization") for r in served.requests]


@pytest.fixture
def daemons():
    started = [daemon() for _ in range(3)]
    yield started
    for served in started:
        served.stop()


@pytest.fixture
def lan():
    address = lan_address()
    if address is None:
        pytest.skip("this machine has no address but loopback")
    served = daemon(address)
    yield served
    served.stop()


async def close(engines) -> None:
    for engine in engines.values():
        await engine.aclose()


async def test_ollama_api_key_goes_only_to_the_host_named_for_it(daemons, monkeypatch) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", API_KEY)  # the library reads it from here for every host
    named, other, _ = daemons
    config = Config()
    config.ollama.hosts = [named.url, other.url]
    config.ollama.credentials = {named.host_port: OllamaHostConfig(send_ollama_api_key=True)}
    engines = configured_ollama_engines(config, {"OLLAMA_API_KEY": API_KEY})
    for engine in engines.values():
        assert len(await engine.list_models()) == 1
    assert auth_of(named) and set(auth_of(named)) == {f"Bearer {API_KEY}"}
    assert other.requests and set(auth_of(other)) == {None}
    await close(engines)


async def test_no_host_gets_the_api_key_unless_named(daemons, monkeypatch) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", API_KEY)
    config = Config()
    config.ollama.hosts = [d.url for d in daemons]
    engines = configured_ollama_engines(config, {"OLLAMA_API_KEY": API_KEY})
    for engine in engines.values():
        await engine.list_models()
    assert all(d.requests and set(auth_of(d)) == {None} for d in daemons)
    await close(engines)


async def test_each_host_gets_its_own_header_and_the_rest_the_shared_one(daemons) -> None:
    first, second, rest = daemons
    config = Config()
    config.ollama.hosts = [first.url, second.url, rest.url]
    config.ollama.auth_header_env = "SHARED_AUTH"
    config.ollama.credentials = {
        first.url: OllamaHostConfig(auth_header_env="FIRST_AUTH"),  # written as a URL
        second.host_port: OllamaHostConfig(auth_header_env="SECOND_AUTH"),  # written as host:port
    }
    environ = {
        "FIRST_AUTH": "Bearer first-secret",
        "SECOND_AUTH": "Bearer second-secret",
        "SHARED_AUTH": "Bearer shared-secret",
    }
    engines = configured_ollama_engines(config, environ)
    for engine in engines.values():
        await engine.list_models()
    assert set(auth_of(first)) == {"Bearer first-secret"}
    assert set(auth_of(second)) == {"Bearer second-secret"}
    assert set(auth_of(rest)) == {"Bearer shared-secret"}
    await close(engines)


async def test_credentials_never_go_over_plain_http_to_another_machine(lan, monkeypatch) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", API_KEY)
    host = f"http://{lan.host_port}"
    config = Config()
    config.ollama.hosts = [host]
    config.ollama.auth_header_env = "PROXY_AUTH"
    environ = {"PROXY_AUTH": "Bearer lan-secret", "OLLAMA_API_KEY": API_KEY}
    engine = configured_ollama_engines(config, environ)["ollama"]
    with pytest.raises(EngineUnavailable) as refused:
        await engine.list_models()
    message = str(refused.value)
    assert "plain http" in message and f'[ollama.credentials."{lan.host_port}"]' in message
    assert "allow_insecure_auth = true" in message and "lan-secret" not in message
    assert lan.requests == []  # nothing at all was sent
    await engine.aclose()
    # The API key named for that host is held back the same way.
    config.ollama.auth_header_env = ""
    config.ollama.credentials = {lan.host_port: OllamaHostConfig(send_ollama_api_key=True)}
    engine = configured_ollama_engines(config, environ)["ollama"]
    with pytest.raises(EngineUnavailable, match="plain http"):
        await engine.list_models()
    assert lan.requests == []
    await engine.aclose()
    # With no credentials for it, the host is used, and gets none (the library's $OLLAMA_API_KEY neither).
    config.ollama.credentials = {}
    engine = configured_ollama_engines(config, environ)["ollama"]
    assert len(await engine.list_models()) == 1
    assert set(auth_of(lan)) == {None}
    await engine.aclose()
    # The user says the network is trusted: then they go.
    lan.requests.clear()
    config.ollama.credentials = {host: OllamaHostConfig(send_ollama_api_key=True, allow_insecure_auth=True)}
    engine = configured_ollama_engines(config, environ)["ollama"]
    assert len(await engine.list_models()) == 1
    assert set(auth_of(lan)) == {f"Bearer {API_KEY}"}
    await engine.aclose()


async def test_a_password_in_a_lan_host_url_is_not_sent_over_plain_http(lan) -> None:
    engine = OllamaEngine(host=f"http://alice:pw-hunter2@{lan.host_port}")
    with pytest.raises(EngineUnavailable, match="plain http") as refused:
        await engine.list_models()
    assert "pw-hunter2" not in str(refused.value) and "alice" not in str(refused.value)
    assert lan.requests == []
    await engine.aclose()


async def test_https_and_this_machine_take_credentials(daemons) -> None:
    (local, *_) = daemons
    engine = OllamaEngine(host=local.url, auth_secret="Bearer local-secret")
    await engine.list_models()
    assert set(auth_of(local)) == {"Bearer local-secret"}
    await engine.aclose()
    remote = OllamaEngine(host="https://ollama.example.com", auth_secret="Bearer x")
    # https carries credentials anywhere: the client made for it sends the header on every request.
    assert remote._api()._client.headers.get("authorization") == "Bearer x"
    await remote.aclose()
    plain = OllamaEngine(host="http://ollama.example.com", auth_secret="Bearer x")
    with pytest.raises(EngineUnavailable, match="plain http"):
        plain._api()  # the same secret over plain http to another machine is refused


async def test_basic_auth_quoted_back_as_base64_is_scrubbed(daemons) -> None:
    (served, *_) = daemons
    served.state.chat_fault = "echo_auth"  # a 500 that quotes the Authorization header back
    engine = OllamaEngine(host=served.url.replace("http://", "http://alice:pw-hunter2@"), read_timeout=2)
    with pytest.raises(EngineError) as failed:
        async for _ in engine.chat("llama3.2:latest", [], GenerationOptions()):
            pass
    encoded = base64.b64encode(b"alice:pw-hunter2").decode()
    assert auth_of(served)[-1] == f"Basic {encoded}"  # it was sent, and quoted back...
    assert encoded not in str(failed.value) and "pw-hunter2" not in str(failed.value)  # ...but never shown
    assert f"upstream rejected Basic {SCRUBBED}" in str(failed.value)
    await engine.aclose()


async def test_a_short_secret_is_scrubbed_too(daemons) -> None:
    (served, *_) = daemons
    served.state.chat_fault = "echo_auth"
    engine = OllamaEngine(host=served.url, auth_secret="k9x", read_timeout=2)
    with pytest.raises(EngineError) as failed:
        async for _ in engine.chat("llama3.2:latest", [], GenerationOptions()):
            pass
    assert str(failed.value).endswith(f"upstream rejected {SCRUBBED}")
    await engine.aclose()


def test_scrub_forms_and_short_secrets() -> None:
    secrets = url_secrets("http://bob:p%40ss@host:1")
    assert "p%40ss" in secrets and "p@ss" in secrets and base64.b64encode(b"bob:p@ss").decode() in secrets
    # Short secrets go where they stand alone, not out of other words; long ones everywhere.
    assert scrub("pw=abc; abcdef xabc", ["abc"]) == f"pw={SCRUBBED}; abcdef xabc"
    assert scrub("tok:sk-0123456789abc.", ["sk-0123456789abc"]) == f"tok:{SCRUBBED}."
    assert scrub("nothing here", []) == "nothing here"
    assert shown_host("http://bob:p%40ss@host:1") == "host:1"


async def test_an_openai_compatible_servers_key_stays_off_plain_http_to_another_machine() -> None:
    address = lan_address()
    if address is None:
        pytest.skip("this machine has no address but loopback")
    served = serve(OpenAIHandler, OpenAIState(), host=address)
    try:
        server = ServerConfig(name="vllm", base_url=f"http://{served.host_port}/v1", api_key_env="VLLM_KEY")
        engine = configured_servers(Config(servers=[server]), {"VLLM_KEY": "sk-lan-key-0123456789"})["vllm"]
        with pytest.raises(EngineUnavailable, match="not sent over plain http .*allow_insecure_auth = true"):
            await engine.list_models()
        assert served.requests == []
        await engine.aclose()
        server.allow_insecure_auth = True  # the user says the network is trusted
        engine = configured_servers(Config(servers=[server]), {"VLLM_KEY": "sk-lan-key-0123456789"})["vllm"]
        assert len(await engine.list_models()) == 2
        assert set(auth_of(served)) == {"Bearer sk-lan-key-0123456789"}
        await engine.aclose()
        keyless = ServerConfig(name="lan", base_url=f"http://{served.host_port}/v1")  # no key: nothing to keep safe
        engine = configured_servers(Config(servers=[keyless]), {})["lan"]
        assert len(await engine.list_models()) == 2
        await engine.aclose()
    finally:
        served.stop()
