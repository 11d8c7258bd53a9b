"""Keeping credentials out of what lchat shows: every form a secret may come back in, and the scrub.

A server (or a careless proxy in front of it) may quote a request back in an error: the token, the
password of a `user:password@` host, or the whole basic-auth header as base64. All of them are
replaced, whatever their length; a short one only where it stands alone, so that a three-letter
password does not eat the same letters inside other words.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

SCRUBBED = "•••"
LONG = 8
"""Secrets at least this long are replaced wherever they appear; shorter ones only as whole words."""


def url_secrets(url: str) -> list[str]:
    """The secrets a `user:password@host` URL carries: the password (raw and decoded) and the
    basic-auth credentials as they travel (base64 of user:password)."""
    parts = urlsplit(url)
    if parts.password is None:
        return []
    found = [parts.password, unquote(parts.password)]
    pair = f"{unquote(parts.username or '')}:{unquote(parts.password)}"
    for encoding in ("utf-8", "latin-1"):
        try:
            found.append(base64.b64encode(pair.encode(encoding)).decode())
        except UnicodeEncodeError:
            continue
    return [s for s in dict.fromkeys(found) if s]


def header_secrets(value: str) -> list[str]:
    """A header value and its words ("Bearer sk-..." also as "sk-..."), each of which is secret."""
    return [s for s in dict.fromkeys((value, *value.split())) if s]


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced by SCRUBBED, longest first."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if not secret:
            continue
        if len(secret) >= LONG:
            text = text.replace(secret, SCRUBBED)
        else:
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", SCRUBBED, text)
    return text
