"""`lchat models`, `pull` and `rm`: every backend's models from the shell.

Exit codes as everywhere: 0 done, 1 a backend failed or refused (one line on stderr), 2 usage.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, TextIO

from tui.guard.safe_text import echo, json_line, one_line

if TYPE_CHECKING:  # Imported when a command runs, so `lchat --version` stays instant.
    from tui.models.catalog import Catalog
    from tui.models.management import ModelManagement
    from tui.services import Services

COMMANDS = ("models", "pull", "rm")


def add_commands(commands: argparse._SubParsersAction) -> None:
    models = commands.add_parser("models", help="list every backend's models with their state and fit")
    models.add_argument("--json", action="store_true", help="one JSON object per model, a line each")
    pull = commands.add_parser("pull", help="download a model into Ollama (progress on a terminal)")
    pull.add_argument("name", help="e.g. llama3.2:3b")
    pull.add_argument("--backend", help="which Ollama host, as `lchat models` names it (default: the first)")
    remove = commands.add_parser("rm", help="delete a model (asks first)")
    remove.add_argument("model", help="model name, BACKEND/NAME, or a unique part of one")
    remove.add_argument("--yes", "-y", action="store_true", help="do not ask")


async def run(services: Services, args: argparse.Namespace) -> int:
    from tui.engines.base import EngineError
    from tui.models.outcome import ManageError

    try:
        if args.command == "models":
            return await _models(services, as_json=args.json)
        from tui.models.management import ModelManagement

        manage = ModelManagement(services.engines, config=services.config, paths=services.paths)
        if args.command == "pull":
            return await _pull(manage, args.name, args.backend)
        return await _remove(services, manage, args.model, assume_yes=args.yes)
    except ManageError as error:
        echo(f"lchat: {error.reason}", file=sys.stderr)
        return 1
    except EngineError as error:
        echo(f"lchat: {error}", file=sys.stderr)
        return 1
    finally:
        await services.aclose()


async def _models(services: Services, *, as_json: bool, out: TextIO | None = None) -> int:
    import asyncio

    from tui.fit.memory import probe_memory
    from tui.fit.units import gb
    from tui.models.catalog import Catalog

    out = sys.stdout if out is None else out  # at each call, not at import

    models, offline = await services.chat.models.list_models()
    catalog = Catalog.of(services.config, services.engines)
    catalog.update(models, offline, await asyncio.to_thread(probe_memory))
    for backend, problem, members in catalog.groups():
        if problem is not None:
            echo(f"lchat: {backend} is offline: {problem}", file=sys.stderr)
        for model in members:
            row = _row(catalog, model)
            if as_json:
                print(json_line(row), file=out)
            else:
                size = gb(model.size_bytes) if model.size_bytes else "?"
                fit = row["fit"] or ""
                echo(
                    f"{one_line(backend, 24):<24} {one_line(row['label'], 40):<40} {size:>8} "
                    f"{one_line(model.quantization, 8):<8} {fit:<9} {one_line(row['state'], 40)}",
                    file=out,
                )
    return 0


def _row(catalog: Catalog, model: Any) -> dict[str, Any]:
    from tui.models.catalog import label, state_text

    fit = catalog.fit(model)
    return {
        "backend": model.backend,
        "name": model.name,
        "label": label(model),
        "size_bytes": model.size_bytes,
        "parameters": model.parameters,
        "quantization": model.quantization,
        "context_length": model.context_length,
        "state": state_text(model),
        "loaded": bool(model.extra.get("running")),
        "error": model.extra.get("error"),
        "fit": fit.verdict if fit else None,
        "fit_detail": fit.explain() if fit else None,
    }


async def _pull(manage: ModelManagement, name: str, backend: str | None) -> int:
    target = manage.pull_target(backend, exact=True)
    transfer = manage.pull(name, target)
    on_terminal = sys.stderr.isatty()
    async for step in transfer.progress():
        line = f"{one_line(step.status, 40)} {step.rate}".strip()
        if on_terminal:
            sys.stderr.write("\r\x1b[2K")  # lchat's own: back to the line's start, and clear it.
            echo(line, end="", file=sys.stderr)
    if on_terminal:
        echo(file=sys.stderr)
    echo(f"Pulled {one_line(name, 60)} into {target}.")
    return 0


async def _remove(services: Services, manage: ModelManagement, query: str, *, assume_yes: bool) -> int:
    models, offline = await services.chat.models.list_models()
    choice = services.chat.models.find_model(models, query, offline=offline)
    model = next(m for m in models if (m.backend, m.name) == (choice.backend, choice.name))
    plan = manage.plan_delete(choice.backend, choice.name, model, width=60)  # Refused before asking.
    if not assume_yes and not _confirmed(f"{plan.question} [y/N] "):
        echo("lchat: not confirmed; nothing was deleted (add --yes to delete without asking).", file=sys.stderr)
        return 1
    done = await manage.delete(plan)
    manage.forget_favourite(choice.backend, choice.name)
    echo(done.message)
    return 0


def _confirmed(question: str) -> bool:
    """Ask on the terminal; a pipe or closed stdin is never taken as yes."""
    if sys.stdin is None or not sys.stdin.isatty():
        return False
    echo(question, end="", file=sys.stderr)
    return sys.stdin.readline().strip().lower() in ("y", "yes")
