"""GGUF downloads from the Hugging Face hub with `huggingface_hub`: resumable, cancellable, with progress.

The repo's file list is fetched first (fast, no retries), so a wrong name, a missing file or no
network is said at once. The hub client finds, authorizes and streams each file (retrying broken
connections with Range requests); unfinished files wait in `<models>/.partial/` and a later
download of the same file resumes them.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tui.engines.base import EngineError, EngineUnavailable, ModelNotFound
from tui.engines.manage import Progress
from tui.engines.urls import shown_url
from tui.fit.units import gb
from tui.guard.http_limits import Limits, limit_client, refused_reply

QUANT = re.compile(r"(?:^|[-_.])((?:I?Q\d(?:_[A-Z0-9]+)*)|BF16|F16|F32|FP16)(?=[-_.]|$)", re.IGNORECASE)
SHARD = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)
DEFAULT_ENDPOINT = "https://huggingface.co"
PARTIAL_DIR = ".partial"
"""Folder in the models folder where unfinished downloads wait to be resumed."""


class _Cancelled(Exception):
    """Raised inside the download thread when the user cancels."""


@dataclass(frozen=True)
class HfChoice:
    """One downloadable model of a repo: a GGUF file, or every shard of a split one."""

    files: tuple[str, ...]
    size: int | None
    quant: str

    @property
    def label(self) -> str:
        shards = f" ({len(self.files)} parts)" if len(self.files) > 1 else ""
        return f"{self.quant or '?':8} {gb(self.size):>9}  {self.files[0]}{shards}"


def parse_repo(text: str) -> tuple[str, str]:
    """(repo id, file or quantization or "") from "org/repo", "org/repo:Q4_K_M",
    "org/repo/file.gguf", "hf.co/org/repo:Q4_K_M" or a huggingface.co URL."""
    text = text.strip()
    if "://" in text:
        text = urlsplit(text).path
    text = text.strip("/").removeprefix("hf.co/").removeprefix("huggingface.co/")
    parts = [p for p in text.split("/") if p]
    if len(parts) >= 4 and parts[2] in ("blob", "resolve", "tree"):
        parts = parts[:2] + parts[4:]
    if len(parts) < 2:
        raise ModelNotFound(
            f"{text!r} is not a Hugging Face repo id (owner/name, e.g. Qwen/Qwen2.5-0.5B-Instruct-GGUF)"
        )
    repo, rest = "/".join(parts[:2]), "/".join(parts[2:])
    if ":" in repo and not rest:
        repo, rest = repo.split(":", 1)
    return repo, rest


def quant_of(filename: str) -> str:
    match = QUANT.search(Path(filename).name.removesuffix(".gguf").removesuffix(".GGUF"))
    return match.group(1).upper() if match else ""


def unsafe_name(name: str) -> str:
    """Why a file name from the hub may not become a path under the models folder ("" if it may)."""
    if not name or "\x00" in name or "\\" in name:
        return "it is empty or holds a NUL or a backslash"
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return "it is an absolute path"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "it has an empty, '.' or '..' part"
    return ""


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return (
        parts.scheme.lower(),
        (parts.hostname or "").lower(),
        parts.port or {"http": 80, "https": 443}.get(parts.scheme),
    )


def choices(files: dict[str, int | None]) -> list[HfChoice]:
    """The repo's GGUF models (projectors and names that are no safe path left out, shards grouped),
    smallest first."""
    groups: dict[str, list[str]] = {}
    for name in sorted(files):
        lowered = name.lower()
        if unsafe_name(name) or not lowered.endswith(".gguf") or Path(lowered).name.startswith("mmproj"):
            continue
        groups.setdefault(SHARD.sub("", name), []).append(name)
    found = []
    for members in groups.values():
        sizes = [files[m] for m in members]
        size = sum(s for s in sizes if s) if all(sizes) else None
        found.append(HfChoice(tuple(members), size, quant_of(members[0])))
    return sorted(found, key=lambda c: (c.size or 0, c.files[0]))


def pick(found: list[HfChoice], wanted: str) -> HfChoice | None:
    """The choice `wanted` names: a file (or a shard's name), else a quantization like Q4_K_M."""
    for choice in found:
        if wanted in choice.files:
            return choice
    same = [c for c in found if c.quant and c.quant.upper() == wanted.upper()]
    return same[0] if len(same) == 1 else None


HUB_LIMITS = Limits(whole_types=("application/json", "text/"))
"""The hub's JSON and text replies are bounded whole; a model file is not (its size is checked
against the file list and the free disk space before it is fetched)."""
_limited = [False]
_limiting = threading.Lock()


def _limit_hub() -> None:
    """Make huggingface_hub's shared client through tui.guard.http_limits (once, before its first use)."""
    import httpx2
    from huggingface_hub import set_client_factory
    from huggingface_hub.utils._http import default_client_factory  # The library's own settings.

    with _limiting:
        if not _limited[0]:
            set_client_factory(lambda: limit_client(default_client_factory(), httpx2, HUB_LIMITS))
            _limited[0] = True


class HubClient:
    """The hub at one endpoint, for one models folder."""

    def __init__(self, *, endpoint: str, models_dir: Path, token: str | bool | None = None) -> None:
        self.endpoint = (endpoint or DEFAULT_ENDPOINT).rstrip("/")
        self.models_dir = models_dir
        self.token = token

    def list_choices(self, repo: str) -> list[HfChoice]:
        """The repo's GGUF models (blocking: call from a thread)."""
        from huggingface_hub import HfApi

        _limit_hub()
        try:
            info = HfApi(endpoint=self.endpoint, token=self.token).model_info(repo, files_metadata=True)
        except Exception as error:  # noqa: BLE001 - translated
            raise self.translate(error, repo) from None
        files = {s.rfilename: s.size for s in info.siblings or []}
        found = choices(files)
        if not found:
            raise ModelNotFound(f"{repo} has no GGUF files (lchat runs GGUF models; look for a repo ending in -GGUF)")
        return found

    async def download(self, repo: str, choice: HfChoice) -> AsyncIterator[Progress]:
        """Download every file of `choice` into the models folder; cancel by cancelling the consumer.

        A cancelled or broken download keeps its partial file and resumes next time."""
        self._check_space(choice)
        queue: asyncio.Queue[Any] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        cancel = threading.Event()
        earlier = [0]
        """Bytes of the files (shards) already downloaded."""

        def report(completed: int) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, Progress("downloading", completed, choice.size))

        def run() -> None:
            try:
                for name in choice.files:
                    self._fetch(repo, name, cancel, report, earlier)
                    earlier[0] += (self.models_dir / name).stat().st_size
                loop.call_soon_threadsafe(queue.put_nowait, None)
            except BaseException as error:  # noqa: BLE001 - handed to the event loop
                loop.call_soon_threadsafe(queue.put_nowait, error)

        thread = threading.Thread(target=run, name="lchat-hf-download", daemon=True)
        thread.start()
        try:
            while True:
                item = await queue.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise self.translate(item, repo, choice.files[0])
                yield item
        finally:
            cancel.set()
            await asyncio.to_thread(thread.join)
        yield Progress("done", choice.size, choice.size)

    def _fetch(self, repo: str, name: str, cancel: threading.Event, report: Any, earlier: list[int]) -> None:
        """One file, into <models>/.partial/ first (kept when cancelled or broken: the next
        download resumes it with a Range request), then moved into place whole."""
        from huggingface_hub import get_hf_file_metadata, hf_hub_url
        from huggingface_hub.file_download import http_get
        from huggingface_hub.utils import build_hf_headers
        from huggingface_hub.utils import tqdm as hf_tqdm

        _limit_hub()

        class Meter(hf_tqdm):
            """Reports bytes to the UI, and stops the download when the user cancels."""

            def __init__(self, *args: Any, **kwargs: Any) -> None:
                kwargs["disable"] = True
                super().__init__(*args, **kwargs)
                self.done = int(kwargs.get("initial") or 0)
                report(earlier[0] + self.done)

            def update(self, n: float | None = 1) -> bool | None:
                if cancel.is_set():
                    raise _Cancelled
                self.done += int(n or 0)
                report(earlier[0] + self.done)
                return None

        why = unsafe_name(name)
        if why:
            raise EngineError(f"the hub named a file {name!r}, which lchat will not write: {why}")
        meta = get_hf_file_metadata(hf_hub_url(repo, name, endpoint=self.endpoint), token=self.token)
        # A file served from another host (a CDN's signed URL) is fetched without the token.
        token = self.token if _origin(meta.location) == _origin(self.endpoint) else False
        dest = self.models_dir / name
        if dest.is_file() and dest.stat().st_size == meta.size:
            report(earlier[0] + dest.stat().st_size)
            return
        tag = re.sub(r"[^A-Za-z0-9]", "", meta.etag or meta.commit_hash or "")[:16]
        part = self.models_dir / PARTIAL_DIR / f"{name.replace('/', '__')}.{tag}.part"
        part.parent.mkdir(parents=True, exist_ok=True)
        resume = part.stat().st_size if part.is_file() else 0
        if meta.size is not None and resume > meta.size:
            part.unlink()
            resume = 0
        with part.open("r+b" if resume else "wb") as handle:
            handle.seek(resume)
            if cancel.is_set():
                raise _Cancelled
            http_get(
                meta.location,
                handle,
                resume_size=resume,
                headers=build_hf_headers(token=token),
                expected_size=meta.size,
                tqdm_class=Meter,
            )
        dest.parent.mkdir(parents=True, exist_ok=True)
        part.replace(dest)

    def _check_space(self, choice: HfChoice) -> None:
        if not choice.size:
            return
        self.models_dir.mkdir(parents=True, exist_ok=True)
        partial = self.models_dir / PARTIAL_DIR
        have = sum(p.stat().st_size for p in partial.glob("*.part")) if partial.is_dir() else 0
        have += sum((self.models_dir / f).stat().st_size for f in choice.files if (self.models_dir / f).is_file())
        free = shutil.disk_usage(self.models_dir).free
        if choice.size - have > free:
            raise EngineError(
                f"not enough disk space: {choice.files[0]} needs {gb(choice.size - have)}, "
                f"{gb(free)} is free in {self.models_dir}"
            )

    def translate(self, error: BaseException, repo: str, filename: str = "") -> EngineError:
        """A readable message for what huggingface_hub (and the OS) raised."""
        import errno

        from huggingface_hub import errors

        if isinstance(error, EngineError):
            return error
        if big := refused_reply(error):
            return EngineError(f"{shown_url(self.endpoint)} sent {big}; lchat stopped reading it")
        if isinstance(error, errors.GatedRepoError):
            return EngineUnavailable(f"{repo} is gated: accept its terms on the hub and log in (hf auth login)")
        if isinstance(error, errors.RepositoryNotFoundError):
            return ModelNotFound(f"no Hugging Face repo named {repo!r} (or it is private)")
        if isinstance(error, errors.RevisionNotFoundError):
            return ModelNotFound(f"{repo} has no such revision")
        if isinstance(error, errors.EntryNotFoundError):
            return ModelNotFound(f"{repo} has no file {filename!r}")
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            return EngineError(f"no space left on the disk of {self.models_dir}; the partial file is kept for later")
        if isinstance(error, errors.HfHubHTTPError):
            status = error.response.status_code if error.response is not None else "?"
            return EngineError(f"the hub answered HTTP {status} for {repo}")
        if _is_network(error):
            return EngineUnavailable(f"cannot reach {self.endpoint}: no network? (the partial download is kept)")
        return EngineError(f"downloading from {repo} failed: {type(error).__name__}: {error}")


def _is_network(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        name = type(seen).__name__
        if isinstance(seen, (ConnectionError, TimeoutError)) or name in (
            "ConnectError",
            "ConnectTimeout",
            "ReadTimeout",
            "RemoteProtocolError",
            "ReadError",
            "OfflineModeIsEnabled",
            "LocalEntryNotFoundError",
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
