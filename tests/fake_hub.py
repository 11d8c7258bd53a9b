"""A loopback Hugging Face hub: /api/models/<repo> (file list) and /<repo>/resolve/<rev>/<file>
with ETag, X-Repo-Commit and Range support, enough for the real `huggingface_hub` download path."""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from urllib.parse import unquote

from tests.fake_ollama import HUGE_BYTES
from tests.loopback import Handler, Served, serve

COMMIT = "c0ffee" * 6 + "abcd"


@dataclass
class HubState:
    repos: dict[str, dict[str, bytes]] = field(default_factory=dict)
    gated: set[str] = field(default_factory=set)
    chunk: int = 64 * 1024
    delay: float = 0.0
    """Seconds between chunks of a download (to watch progress and cancel)."""
    die_after: int | None = None
    """Drop the connection after this many bytes of one GET (then serve fully again)."""
    ranges: list[str] = field(default_factory=list)
    """Range headers received, to check resumption."""
    redirect_to: str = ""
    """Answer file requests with a 302 to this base URL plus the path, as the hub does for its CDN."""
    huge_list: bool = False
    """Answer /api/models/<repo> with a file list of HUGE_BYTES (one file name that long)."""


class HubHandler(Handler):
    def route(self) -> None:
        state: HubState = self.state
        path = unquote(self.path.split("?")[0])
        api = re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/[^/]+)?", path)
        if api and state.huge_list:
            head = b'{"id": "x", "sha": "' + COMMIT.encode() + b'", "siblings": [{"size": 1, "rfilename": "'
            self.send_flood(200, "application/json", head=head, total=HUGE_BYTES, tail=b'.gguf"}]}')
            return
        if api:
            repo = api.group(1)
            if repo in state.gated:
                self.send_json(403, {"error": "Access to model is restricted"}, {"X-Error-Code": "GatedRepo"})
            elif repo not in state.repos:
                self.send_json(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
            else:
                self.send_json(
                    200,
                    {
                        "id": repo,
                        "modelId": repo,
                        "sha": COMMIT,
                        "private": False,
                        "siblings": [
                            {"rfilename": name, "size": len(data)} for name, data in state.repos[repo].items()
                        ],
                    },
                )
            return
        resolve = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        if not resolve:
            self.send_json(404, {"error": "not found"})
            return
        repo, _, name = resolve.groups()
        data = state.repos.get(repo, {}).get(name)
        if data is None:
            self.send_json(404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"})
            return
        etag = hashlib.sha256(data).hexdigest()
        if state.redirect_to:
            self.send_empty(
                302,
                {
                    "Location": state.redirect_to + self.path,
                    "X-Repo-Commit": COMMIT,
                    "X-Linked-Etag": f'"{etag}"',
                    "X-Linked-Size": str(len(data)),
                },
            )
            return
        headers = {"X-Repo-Commit": COMMIT, "ETag": f'"{etag}"', "Accept-Ranges": "bytes"}
        start = 0
        wanted = self.headers.get("Range")
        if wanted and self.command == "GET":
            state.ranges.append(wanted)
            start = int(re.match(r"bytes=(\d+)-", wanted).group(1))
        body = data[start:]
        self.send_response(206 if start else 200)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body) if self.command == "GET" else len(data)))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if self.command != "GET":
            return
        sent = 0
        for offset in range(0, len(body), state.chunk):
            if state.die_after is not None and sent >= state.die_after:
                state.die_after = None
                self.die()
                return
            if state.delay:
                time.sleep(state.delay)
            piece = body[offset : offset + state.chunk]
            self.wfile.write(piece)
            self.wfile.flush()
            sent += len(piece)


def start_hub(state: HubState | None = None) -> Served:
    return serve(HubHandler, state or HubState())
