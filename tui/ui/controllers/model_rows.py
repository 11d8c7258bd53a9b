"""A model as the models pane shows it (one row) and as its details dialog starts (what the catalog knows)."""

from __future__ import annotations

from tui.domain import ModelInfo
from tui.engines.base import Engine
from tui.engines.manage import Details
from tui.fit.units import count_text, gb
from tui.models.catalog import Catalog, context_text, label, state_text
from tui.models.names import ModelChoice
from tui.ui.widgets.model_pane import ModelRow


def model_row(catalog: Catalog, model: ModelInfo, choice: ModelChoice | None) -> ModelRow:
    """The pane's row for `model`; `choice` is the conversation's model (marked current)."""
    fit = catalog.fit(model)
    facts = [
        gb(model.size_bytes) if model.size_bytes else "",
        count_text(model.parameters),
        model.quantization,
        context_text(model.context_length),
    ]
    state = state_text(model)
    if model.extra.get("source"):
        state = " · ".join(s for s in (state, str(model.extra["source"])) if s)
    return ModelRow(
        backend=model.backend,
        name=model.name,
        label=label(model),
        facts=" · ".join(f for f in facts if f),
        state=state,
        fit=fit.verdict if fit else "",
        favourite=catalog.favourite_number(model),
        current=choice is not None and (choice.backend, choice.name) == (model.backend, model.name),
    )


def summary_rows(catalog: Catalog, model: ModelInfo, engine: Engine | None) -> Details:
    """What the catalog knows: size, state, where it comes from, the fit and its figures."""
    fit = catalog.fit(model)
    rows: Details = [("Size on disk", gb(model.size_bytes) if model.size_bytes else "")]
    rows.append(("State", state_text(model)))
    if model.extra.get("source"):
        rows.append(("Found in", f"{model.extra['source']} (read-only, not copied): {model.path}"))
    if model.extra.get("error"):
        rows.append(("Problem", str(model.extra["error"])))
    if fit:
        rows.append(("Fit", f"{fit.verdict}: {fit.explain()}"))
    else:
        rows.append(("Fit", "unknown (size or free memory not known for this backend)"))
    if engine is not None:
        rows += engine.load_details(model)
    return [(key, value) for key, value in rows if value]
