"""Model names as a user writes them (`NAME` or `BACKEND/NAME`), resolved against the listed models.

BACKEND is a backend's name as lchat shows it (`embedded`, `ollama`, `ollama@gpu-box:11434`, a
[[servers]] entry's name). A configured backend name is tried as the prefix first, since Ollama
model names may contain `/` themselves. Used by the CLI, `chat.model`, favourites and presets.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from tui.domain import ModelInfo
from tui.engines.base import ModelNotFound


@dataclass(frozen=True)
class ModelChoice:
    """A model on a backend."""

    backend: str
    name: str


@dataclass(frozen=True)
class Waiting:
    """The configured model is not listed yet, and these backends, which could serve it, have
    not answered: wait for them rather than answer with another model."""

    name: str
    """The configured model ("" when none is: any model would do once one is listed)."""
    backends: tuple[str, ...]

    def __str__(self) -> str:
        which = f" (the configured model is {self.name})" if self.name else ""
        return f"Waiting for {', '.join(self.backends)} to list models{which}…"


def split_name(text: str, backends: Collection[str]) -> tuple[str | None, str]:
    """(backend, name) for `BACKEND/NAME` with a configured backend name; (None, text) otherwise.
    The longest backend name wins, so `ollama@box/x` is never read as backend `ollama`."""
    for backend in sorted(backends, key=len, reverse=True):
        if text.startswith(backend + "/") and len(text) > len(backend) + 1:
            return backend, text[len(backend) + 1 :]
    return None, text


def full_name(model: ModelInfo | ModelChoice) -> str:
    """`BACKEND/NAME` as lchat shows it; a GGUF file by its file name."""
    name = model.name.rsplit("/", 1)[-1] if model.name.startswith("/") else model.name
    return f"{model.backend}/{name}"


def resolve(
    query: str,
    models: Sequence[ModelInfo],
    *,
    backends: Collection[str],
    offline: Mapping[str, str] | None = None,
    backend: str | None = None,
    partial: bool = True,
) -> ModelChoice:
    """The model `query` names: exactly (name, file name or title), else by a unique part of
    its name (`partial`). `backend` restricts the search to one backend. ModelNotFound says
    why not: several matches (listed as BACKEND/NAME), or none, with each backend that could
    not list its models and why."""
    found, exact, prefix = _matches(query, models, backends=backends, backend=backend, partial=partial)
    if not found:
        raise ModelNotFound(no_match(query, models, offline or {}, prefix))
    return _one(query, found, exact)


def no_match(query: str, models: Sequence[ModelInfo], offline: Mapping[str, str], backend: str | None) -> str:
    """Why `query` found nothing: the models known (of `backend`, when one is named) and what
    each backend that failed to list said."""
    failed = {name: why for name, why in offline.items() if backend is None or name == backend}
    if backend is not None and backend in failed:
        return f"{query!r}: {backend} could not list its models: {failed[backend]}"
    known = sorted(full_name(model) for model in models if backend is None or model.backend == backend)
    text = f"{query!r} matches no model; known: {', '.join(known) or 'none'}"
    if failed:
        text += "; not listed: " + "; ".join(f"{name}: {why}" for name, why in failed.items())
    return text


def configured(
    wanted: str,
    models: Sequence[ModelInfo],
    *,
    backends: Collection[str],
    offline: Mapping[str, str],
    pending: Collection[str] = (),
) -> ModelChoice | Waiting:
    """The configured default model (`chat.model`), matched exactly, never by a part of its
    name: Waiting while a backend that could serve it has not answered; ModelNotFound naming it
    when it is not available, never another model in its place."""
    usable = [model for model in models if not model.extra.get("error")]
    found, exact, prefix = _matches(wanted, usable, backends=backends, backend=None, partial=False)
    if found:
        return _one(wanted, found, exact)
    waiting_on = tuple(name for name in pending if prefix is None or name == prefix)
    if waiting_on:
        return Waiting(wanted, waiting_on)
    raise ModelNotFound(
        f"the configured model (chat.model) is not available: {no_match(wanted, usable, offline, prefix)}"
    )


def _one(query: str, found: Sequence[ModelInfo], exact: bool) -> ModelChoice:
    """The one model meant; several exact matches on one backend (a file in two folders) mean
    the first, matches on several backends are for the user to tell apart."""
    if len({(model.backend, model.name) for model in found}) == 1 or exact and len({m.backend for m in found}) == 1:
        return ModelChoice(found[0].backend, found[0].name)
    listed = ", ".join(sorted(dict.fromkeys(full_name(model) for model in found)))
    raise ModelNotFound(f"{query!r} matches several models: {listed}; name one as BACKEND/NAME")


def _matches(
    query: str, models: Sequence[ModelInfo], *, backends: Collection[str], backend: str | None, partial: bool
) -> tuple[list[ModelInfo], bool, str | None]:
    """The models `query` names, whether by an exact name, and the backend it was restricted to."""
    prefix, name = split_name(query, backends)
    if backend is not None:
        if backend not in backends:
            raise ModelNotFound(f"no backend named {backend!r}; backends: {', '.join(backends) or 'none'}")
        if prefix not in (None, backend):
            name = query  # `--backend x --model a/b`: a/b is the name.
        return (*_by_name(name, [m for m in models if m.backend == backend], partial), backend)
    if prefix is not None:
        found, exact = _by_name(name, [m for m in models if m.backend == prefix], partial)
        if found:
            return found, exact, prefix
        whole, exact = _by_name(query, models, partial)  # Not that backend's: an Ollama name with a `/`?
        return (whole, exact, None) if whole else ([], False, prefix)
    return (*_by_name(query, models, partial), None)


def _by_name(query: str, models: Sequence[ModelInfo], partial: bool) -> tuple[list[ModelInfo], bool]:
    """The models called `query` exactly (True), else those with `query` in a name (False)."""
    exact = [model for model in models if query in _names(model)]
    if exact or not partial:
        return exact, True
    lowered = query.lower()
    return [model for model in models if any(lowered in name.lower() for name in _names(model))], False


def _names(model: ModelInfo) -> set[str]:
    """What a model can be called by: its name, its file name, its title."""
    return {name for name in (model.name, model.name.rsplit("/", 1)[-1], str(model.extra.get("title", ""))) if name}
