"""The docs stay true to the code: the README stays a short guide whose links resolve, every config
key is documented with its default, and each `--json` output has exactly the fields documented."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from tests.fake_ollama import OllamaState, start_ollama
from tui import config as cfg
from tui.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README_MAX_LINES = 450


def test_the_readme_is_a_short_guide_whose_links_resolve() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= README_MAX_LINES
    anchors = {_anchor(title) for title in re.findall(r"^#+ (.+)$", readme, re.M)}
    for source, text in [("README.md", readme), *((f"docs/{p.name}", p.read_text()) for p in DOCS.glob("*.md"))]:
        base = ROOT if source == "README.md" else DOCS
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if target.startswith(("http://", "https://")):
                continue
            if target.startswith("#"):
                assert source != "README.md" or target[1:] in anchors, f"{source}: no heading for {target}"
                continue
            assert (base / target.split("#")[0]).is_file(), f"{source} links to missing {target}"


def _anchor(title: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


SECTIONS: dict[str, type] = {
    "[engine]": cfg.EngineConfig,
    "[chat]": cfg.ChatConfig,
    "[ui]": cfg.UiConfig,
    "[stats]": cfg.StatsConfig,
    "[ollama]": cfg.OllamaConfig,
    '[ollama.credentials."HOST"]': cfg.OllamaHostConfig,
    "[[servers]]": cfg.ServerConfig,
    "[models]": cfg.ModelsConfig,
    "[presets.NAME]": cfg.PresetConfig,
    "[mcp]": cfg.McpConfig,
    "[mcp.servers.NAME]": cfg.McpServerConfig,
}
"""Each table of docs/configuration.md and the dataclass of tui/config/__init__.py it documents."""

SUBTABLES = {("engine", "lora"), ("ollama", "credentials"), ("mcp", "servers")}
"""Fields documented as tables of their own (a section each), not as rows."""


def _toml(value: object) -> str:
    """A default as the reference writes it."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"`{value}`"


def _documented_rows(column: int = 2) -> dict[str, dict[str, str]]:
    """{section heading: {key: cell}} from docs/configuration.md's tables: the default (column 2)
    or what is accepted (3)."""
    rows: dict[str, dict[str, str]] = {}
    section = ""
    for line in (DOCS / "configuration.md").read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^#+ (\S+?)(?::|$)", line)
        if heading:
            section = heading.group(1)
            continue
        row = re.match(r"^\| `(\w+)` \| ([^|]+) \| ([^|]+) \|", line)
        if row and section in SECTIONS and line.count("|") == 5:  # key | default | accepted | what
            rows.setdefault(section, {})[row.group(1)] = row.group(column).strip()
    return rows


def test_every_config_key_is_documented_with_its_default() -> None:
    documented = _documented_rows()
    assert set(documented) == set(SECTIONS)
    top = {f.name for f in dataclasses.fields(cfg.Config)} - {"keys", "presets", "servers"}
    assert {name.strip("[]") for name in SECTIONS if "." not in name and "servers" not in name} == top
    for section, cls in SECTIONS.items():
        table = section.strip("[]").split(".")[0]
        expected = {}
        for field in dataclasses.fields(cls):
            if (table, field.name) in SUBTABLES:
                continue
            default = field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default
            expected[field.name] = _toml(default)
        assert documented[section] == expected, section
    hints = typing.get_type_hints(cfg.Config)
    assert set(hints) == {f.name for f in dataclasses.fields(cfg.Config)}


def test_every_range_the_loader_checks_is_documented() -> None:
    """Each bound of tui.config.RANGES stands in its key's "accepted" cell: `low to high`."""
    heading_of = {cls: heading for heading, cls in SECTIONS.items()}
    accepted = _documented_rows(column=3)
    for (cls, key), (low, high) in cfg.RANGES.items():
        shown = f"{_bound(low)} to {_bound(high)}"
        assert shown in accepted[heading_of[cls]][key], (heading_of[cls], key, shown)


def _bound(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _documented_fields(heading: str) -> set[str]:
    """The field names in the first table under `heading` in docs/json-formats.md."""
    text = (DOCS / "json-formats.md").read_text(encoding="utf-8")
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    table = section.split("| field |", 1)[1].split("\n\n", 1)[0]
    names: set[str] = set()
    for line in table.splitlines()[2:]:
        names.update(re.findall(r"`(\w+)`", line.split("|")[1]))
    return names


@pytest.fixture
def ollama(lchat_home: Path):
    state = OllamaState(reply=["Zebras", " are", " striped", "."])
    state.add("llama3.2:latest")
    served = start_ollama(state)
    lchat_home.mkdir(parents=True, exist_ok=True)
    (lchat_home / "config.toml").write_text(f'[ollama]\nhosts = ["{served.url}"]\n')
    yield state
    served.stop()


def _json_lines(capfd: pytest.CaptureFixture[str], *args: str) -> list[dict]:
    assert main(list(args)) == 0
    lines = capfd.readouterr().out.splitlines()
    assert lines, f"lchat {' '.join(args)} printed nothing"
    return [json.loads(line) for line in lines]


def test_each_json_output_has_the_documented_fields(ollama: OllamaState, capfd: pytest.CaptureFixture[str]) -> None:
    (answer,) = _json_lines(capfd, "ask", "--no-stdin", "-m", "llama3.2:latest", "--json", "about zebras")
    assert set(answer) == _documented_fields("`lchat ask --json`") - {"tool_calls"}
    (listed,) = _json_lines(capfd, "list", "--json")
    assert set(listed) == _documented_fields("`lchat list --json`")
    hits = _json_lines(capfd, "search", "zebras", "--json")
    assert hits and all(set(hit) == _documented_fields("`lchat search TEXT --json`") for hit in hits)
    # A process of its own: `lchat models` binds its output stream when the module is imported.
    printed = subprocess.run(
        [sys.executable, "-m", "tui", "models", "--json"], capture_output=True, text=True, timeout=120, check=True
    )
    models = [json.loads(line) for line in printed.stdout.splitlines()]
    assert {row["backend"] for row in models} >= {"ollama"}
    assert all(set(row) == _documented_fields("`lchat models --json`") for row in models)
