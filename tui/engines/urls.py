"""What lchat says about a server's address: whether it is this machine, and the address as it
may be shown (a user:password@ in it is a secret like any token)."""

from __future__ import annotations

from urllib.parse import urlsplit


def is_local(url: str) -> bool:
    """Whether `url` is on this machine (so this machine's memory is the server's)."""
    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1", "0.0.0.0") or host.startswith("127.")


def shown_host(url: str) -> str:
    """host:port of `url` without any user or password; "" when it names no host."""
    return urlsplit(url).netloc.rpartition("@")[2]


def shown_url(url: str) -> str:
    """`url` without any user or password, for messages and details."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=shown_host(url)).geturl()
