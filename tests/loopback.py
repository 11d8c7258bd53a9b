"""A small threaded HTTP/1.1 server on 127.0.0.1 for tests: routes are methods, faults are easy.

Each fake (Ollama, an OpenAI-compatible server, the Hugging Face hub) subclasses `Handler` and
answers in `route()`; the server records every request so tests can check what was sent.
"""

from __future__ import annotations

import functools
import json
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FLOOD_CAP = 200 * 1024 * 1024
"""The most an "endless" reply sends before giving up on the client stopping it."""
FLOOD_SECONDS = 30.0
"""The longest an endless reply goes on."""


BOMB_BYTES = 256 * 1024 * 1024
"""What a gzip bomb expands to (from about 250 KB on the wire)."""


@functools.cache
def gzip_bomb(head: bytes, tail: bytes) -> bytes:
    """`head`, BOMB_BYTES of spaces and `tail`, gzipped: valid JSON that is tiny until read."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    parts = [packer.compress(head)]
    spaces = b" " * (1024 * 1024)
    parts += [packer.compress(spaces) for _ in range(BOMB_BYTES // len(spaces))]
    return b"".join([*parts, packer.compress(tail), packer.flush()])


@dataclass
class Recorded:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Served:
    """A running server: its address, what it received, and shared state for the handler."""

    server: ThreadingHTTPServer
    state: Any
    requests: list[Recorded] = field(default_factory=list)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def host_port(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def paths(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.requests]

    def stop(self) -> None:
        """Stop as a killed daemon does: no new connections, and the open ones cut."""
        self.server.shutdown()
        self.server.server_close()
        for connection in list(self.server.open_connections):
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    served: Served

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.open_connections: set[socket.socket] = set()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        self.open_connections.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.open_connections.discard(request)


class Handler(BaseHTTPRequestHandler):
    """Base handler: records the request, then calls `route()`; helpers write replies."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # Keep test output clean.
        pass

    @property
    def state(self) -> Any:
        return self.server.served.state  # type: ignore[attr-defined]

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        self.body = body
        self.server.served.requests.append(  # type: ignore[attr-defined]
            Recorded(self.command, self.path, dict(self.headers.items()), body)
        )
        try:
            self.route()
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_POST = do_DELETE = do_HEAD = do_PUT = _handle

    def route(self) -> None:
        raise NotImplementedError

    # Replies

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_bomb(self, status: int, head: bytes, tail: bytes) -> None:
        """A gzipped JSON reply that expands to BOMB_BYTES, sent whether or not it was asked for."""
        data = gzip_bomb(head, tail)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except OSError:
            pass

    def send_empty(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()

    def start_chunked(self, content_type: str, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def chunk(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_chunked(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def send_flood(
        self,
        status: int,
        content_type: str,
        *,
        head: bytes = b"",
        filler: bytes = b"x" * 65536,
        total: int = FLOOD_CAP,
        tail: bytes | None = None,
    ) -> None:
        """A chunked reply: `head`, `filler` repeated up to `total` bytes, then `tail` and the end; with
        no tail it never ends properly (an endless reply). Bounded all the same: it stops at `total`,
        after FLOOD_SECONDS, or as soon as the client hangs up."""
        self.start_chunked(content_type, status)
        self.flood(head=head, filler=filler, total=total, tail=tail)

    def flood(
        self, *, head: bytes, filler: bytes = b"x" * 65536, total: int = FLOOD_CAP, tail: bytes | None = None
    ) -> None:
        """send_flood's body, inside a chunked reply already started."""
        sent, started = 0, time.monotonic()
        try:
            self.chunk(head)
            while sent < total and time.monotonic() - started < FLOOD_SECONDS:
                self.chunk(filler)
                sent += len(filler)
            if tail is not None:
                self.chunk(tail)
                self.end_chunked()
        except OSError:  # The client stopped reading: what the test wants.
            pass
        self.close_connection = True

    def die(self) -> None:
        """Drop the connection in the middle of a reply, as a killed daemon does."""
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.connection.close()
        self.close_connection = True

    def stall(self, seconds: float) -> None:
        """Say nothing for `seconds` (the client's read timeout should fire first)."""
        time.sleep(seconds)
        self.close_connection = True


def serve(handler: type[Handler], state: Any = None, *, port: int = 0, host: str = "127.0.0.1") -> Served:
    """Start `handler` on a loopback port (0: a free one) in a daemon thread; `host` another of this
    machine's addresses, to play a server on the LAN."""
    server = _Server((host, port), handler)
    served = Served(server, state)
    server.served = served
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return served


def closed_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def lan_address() -> str | None:
    """An address of this machine that is not loopback (None if it has none): a server listening
    there is, to lchat, a server on the LAN. No packet is sent to find it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: only the route is looked up.
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@contextmanager
def unanswered_port() -> Iterator[int]:
    """A loopback port whose listener's backlog is already full, so a new connection's handshake
    never completes: a connect timeout, not a refusal (a listener that merely never accepts
    completes handshakes, which tests the read timeout instead)."""
    with socket.socket() as listener, ExitStack() as fillers:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(4):  # listen(0) still queues one; fill it, never accepting.
            filler = fillers.enter_context(socket.socket())
            filler.setblocking(False)
            try:
                filler.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
        yield port
