"""What lchat says about a server's address: whether it is this machine, the address as it may be
shown (a user:password@ in it is a secret like any token), and why it could not be reached."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit


def is_local(url: str) -> bool:
    """Whether `url` is on this machine (so this machine's memory is the server's)."""
    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1", "0.0.0.0") or host.startswith("127.")


def in_clear_to_another_machine(url: str) -> bool:
    """Whether what is sent to `url` crosses a network unencrypted (plain http, not this machine)."""
    return urlsplit(url).scheme == "http" and not is_local(url)


def shown_host(url: str) -> str:
    """host:port of `url` without any user or password; "" when it names no host."""
    return urlsplit(url).netloc.rpartition("@")[2]


def shown_url(url: str) -> str:
    """`url` without any user or password, for messages and details."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=shown_host(url)).geturl()


def connect_reason(error: BaseException) -> str:
    """ "connection refused", "host name not found", ... from the OS error under a client's own."""
    seen: BaseException | None = error
    while seen is not None:
        text = str(seen).lower()
        if isinstance(seen, socket.gaierror) or "name or service not known" in text or "nodename nor servname" in text:
            return "host name not found"
        if isinstance(seen, ConnectionRefusedError) or "refused" in text:
            return "connection refused"
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror.lower()
        seen = seen.__cause__ or seen.__context__
    return "cannot connect"
