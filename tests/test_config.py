"""Config: defaults written on first run, clear one-line errors, atomic private writes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tomllib
from dataclasses import fields
from pathlib import Path

import pytest

from tui.config import Config, ConfigError
from tui.config.paths import resolve_paths
from tui.config.read import load_config
from tui.config.write import save_config
from tui.guard.bounded_files import shown_path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_run_writes_defaults_privately(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    loaded = load_config(path)
    assert loaded.config == Config() and loaded.warnings == []
    assert mode(path) == 0o600
    assert load_config(path).config == Config()


def test_values_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    config = Config()
    config.engine.threads = 3
    config.engine.model_dirs = ["/models"]
    config.chat.temperature = 0.2
    config.ui.theme = "lchat-light"
    save_config(config, path)
    assert load_config(path).config == config
    assert not list(tmp_path.glob(".config-*"))  # no temp file left behind


def test_integer_accepted_where_a_number_is_expected(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[chat]\ntemperature = 1\n")
    assert load_config(path).config.chat.temperature == 1.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[engine]\nthreads = "four"\n', ":2: engine.threads must be an integer, not str"),
        ("\n[chat]\n\ntemperature = true\n", ":4: chat.temperature must be a number, not true or false"),
        ('[engine]\nmodel_dirs = "/m"\n', ":2: engine.model_dirs must be a list of str"),
        ("ui = 3\n", ":1: ui must be a table, not int"),
        ('[keys]\n"chat.send" = "ctrl+s"\n"chat.cancel" = 3\n', ":3: keys.chat.cancel must be a string, not int"),
        ("[chat\n", "invalid TOML: Expected ']'"),
        ("[chat]\nmodel = \n", ":2: invalid TOML at chat.model: Invalid value (at line 2, column 9)"),
    ],
)
def test_broken_config_names_file_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert message.startswith(str(path)) and expected in message and "\n" not in message


def test_unknown_keys_are_warnings(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[chat]\ntemprature = 0.1\n[colour]\nx = 1\n")
    warnings = load_config(path).warnings
    assert any(":2: unknown key 'chat.temprature'" in w for w in warnings)
    assert any("unknown key 'colour'" in w for w in warnings)


def test_lchat_home_and_flags_choose_the_paths(tmp_path: Path) -> None:
    env = {"LCHAT_HOME": str(tmp_path / "home")}
    paths = resolve_paths(environ=env)
    assert paths.config_file == tmp_path / "home" / "config.toml"
    assert paths.database == tmp_path / "home" / "data" / "history.db"
    flagged = resolve_paths(data_dir=tmp_path / "d", config_file=tmp_path / "c.toml", environ=env)
    assert (flagged.data_dir, flagged.config_file) == (tmp_path / "d", tmp_path / "c.toml")


def test_platform_dirs_without_lchat_home(tmp_path: Path) -> None:
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "cfg"), XDG_DATA_HOME=str(tmp_path / "data"))
    env.pop("LCHAT_HOME", None)
    code = "from tui.config.paths import resolve_paths; p = resolve_paths(); print(p.config_file); print(p.data_dir)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [str(tmp_path / "cfg/lchat/config.toml"), str(tmp_path / "data/lchat")]


def test_folders_are_private_under_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        paths = resolve_paths(environ={"LCHAT_HOME": str(tmp_path / "a" / "b")})
        paths.create()
    finally:
        os.umask(old)
    for folder in (tmp_path / "a", tmp_path / "a" / "b", paths.data_dir, paths.models_dir, paths.log_dir):
        assert mode(folder) == 0o700, folder


def test_backend_sections_and_server_tables_round_trip(tmp_path: Path) -> None:
    from tui.config import ServerConfig

    path = tmp_path / "config.toml"
    path.write_text(
        '[ollama]\nhosts = ["localhost:11434", "gpu-box"]\nread_timeout = 30\nauth_header_env = "OLLAMA_AUTH"\n\n'
        '[[servers]]\npreset = "lmstudio"\n\n'
        '[[servers]]\nname = "gpu"\nbase_url = "http://10.0.0.5:8000/v1"\napi_key_env = "VLLM_KEY"\n\n'
        '[models]\nfavourites = ["ollama/llama3.2:latest"]\n\n'
        '[engine.lora]\n"tiny.gguf" = "/a/lora.gguf"\n'
    )
    loaded = load_config(path)
    config = loaded.config
    assert loaded.warnings == []
    assert config.ollama.hosts == ["localhost:11434", "gpu-box"] and config.ollama.read_timeout == 30.0
    assert config.servers == [
        ServerConfig(preset="lmstudio"),
        ServerConfig(name="gpu", base_url="http://10.0.0.5:8000/v1", api_key_env="VLLM_KEY"),
    ]
    assert config.models.favourites == ["ollama/llama3.2:latest"] and config.engine.lora == {
        "tiny.gguf": "/a/lora.gguf"
    }
    save_config(config, path)
    assert load_config(path).config == config
    assert "[[servers]]" in path.read_text()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("servers = 3\n", ":1: servers must be an array of tables ([[servers]]), not int"),
        (
            '[[servers]]\npreset = "lmstudio"\n\n[[servers]]\nname = "x"\nbase_url = 8000\n',
            ":6: servers[1].base_url must be a string, not int",
        ),
        ('[ollama]\nhosts = "localhost"\n', ":2: ollama.hosts must be a list of str"),
    ],
)
def test_broken_backend_config_names_the_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert expected in str(raised.value)


def test_unknown_key_in_a_server_table_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[[servers]]\npreset = "vllm"\napi_key = "sk-oops"\n')
    warnings = load_config(path).warnings
    assert any(":3: unknown key 'servers[0].api_key' ignored" in w for w in warnings)


ROOT = Path(__file__).resolve().parent.parent
CONFIG_TABLES = {f.name for f in fields(Config)}


def readme_config_snippets() -> list[tuple[str, str]]:
    """Every ```toml block of README.md (and docs/*.md) that is config.toml text, not a theme file,
    with where it is; read at test time, so the test follows the docs as they change."""
    found = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]:
        lines, start, indent = doc.read_text(encoding="utf-8").splitlines(), None, 0
        for number, line in enumerate(lines, start=1):
            if start is None and line.strip() == "```toml":
                start, indent = number, len(line) - len(line.lstrip())
            elif start is not None and line.strip() == "```":
                snippet = "\n".join(text[indent:] for text in lines[start : number - 1])
                try:
                    is_config = bool(set(tomllib.loads(snippet)) & CONFIG_TABLES)
                except tomllib.TOMLDecodeError:
                    is_config = True  # Broken TOML in the docs: let the test below say so.
                if is_config:
                    found.append((f"{doc.relative_to(ROOT)}:{start}", snippet))
                start = None
    return found


def test_the_readme_shows_config_snippets_including_servers() -> None:
    snippets = readme_config_snippets()
    assert snippets and any("[[servers]]" in text for _, text in snippets)


@pytest.mark.parametrize(("where", "snippet"), readme_config_snippets(), ids=lambda v: v if ":" in v[:40] else "")
def test_every_readme_snippet_appends_to_the_generated_config(tmp_path: Path, where: str, snippet: str) -> None:
    """The file a fresh home gets accepts each table the README tells users to add (one at a
    time: some snippets set the same table)."""
    path = tmp_path / "config.toml"
    load_config(path)
    with path.open("a", encoding="utf-8") as config_file:
        config_file.write("\n" + snippet + "\n")
    loaded = load_config(path)  # A duplicate table ("Cannot mutate immutable namespace") raises here.
    assert not [w for w in loaded.warnings if "unknown key" in w], where


def test_the_generated_config_sets_nothing_and_lists_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    load_config(path)
    text = path.read_text()
    assert tomllib.loads(text) == {}  # Every default is a comment: no table to collide with.
    assert "# [chat]" in text and "# temperature = 0.7" in text and "servers" not in text


def test_a_saved_config_keeps_servers_appendable(tmp_path: Path) -> None:
    from tui.config import ServerConfig

    path = tmp_path / "config.toml"
    config = Config(servers=[ServerConfig(preset="lmstudio")])
    config.ui.theme = "lchat-light"
    save_config(config, path)
    assert "[[servers]]" in path.read_text() and "[engine]" not in tomllib.loads(path.read_text())
    with path.open("a") as config_file:
        config_file.write('\n[[servers]]\npreset = "vllm"\n')
    assert [s.preset for s in load_config(path).config.servers] == ["lmstudio", "vllm"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[ui]\nmax_fps = 0\n", ":2: ui.max_fps must be between 1 and 240, not 0"),
        ("[chat]\n\nmax_tokens = -5\n", ":3: chat.max_tokens must be between 1 and 1,000,000, not -5"),
        ("[engine]\nthreads = -1\n", ":2: engine.threads must be between 0 and 1,024, not -1"),
        ("[chat]\ntemperature = -0.5\n", ":2: chat.temperature must be between 0 and 5, not -0.5"),
        ("[chat]\ntemperature = nan\n", ":2: chat.temperature must be between 0 and 5, not nan"),
        ("[mcp]\ncall_timeout_s = -3\n", ":2: mcp.call_timeout_s must be between 0.1 and 86,400, not -3"),
        ("[engine]\ncontext_length = 100000000000\n", ":2: engine.context_length must be between 64 and 10,000,000"),
        ("[ollama]\ncontext_length = 99999999999\n", ":2: ollama.context_length must be between 0 and 10,000,000"),
        ('[[servers]]\npreset = "vllm"\nread_timeout = 0\n', ":3: servers[0].read_timeout must be between"),
        ("[presets.hot]\ntemperature = 99\n", ":2: presets.hot.temperature must be between 0 and 5, not 99"),
        ("[stats]\ninterval_s = inf\n", ":2: stats.interval_s must be between 0.1 and 3,600, not inf"),
        ("[engine]\ncontext_length = 1e20\n", ":2: engine.context_length must be an integer, not float"),
    ],
)
def test_values_out_of_range_name_file_line_and_bounds(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert message.startswith(str(path)) and expected in message and "\n" not in message


def test_every_bound_is_a_real_field_and_holds_its_default() -> None:
    from tui.config import RANGES

    for (section, name), (low, high) in RANGES.items():
        default = next(f for f in fields(section) if f.name == name).default
        assert default is None or isinstance(default, str) or low <= default <= high, (section, name)


@pytest.mark.parametrize("kind", ["folder", "fifo", "dev-zero", "huge", "dangling"])
def test_a_config_that_is_not_a_readable_file_is_refused_at_once(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "config.toml"
    if kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)  # An ordinary open would wait here until someone wrote to it.
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "huge":
        path.write_text("# padding\n" * 200_000)
    else:
        path.symlink_to(tmp_path / "gone.toml")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert message.startswith(shown_path(path)) and "\n" not in message
    assert {
        "folder": "is a folder",
        "fifo": "not a regular file (a FIFO)",
        "dev-zero": "not a regular file (a character device)",
        "huge": "is larger than 1 MB",
        "dangling": "does not exist",
    }[kind] in message
    assert kind != "dangling" or path.is_symlink()  # A dangling link is not replaced by defaults.


def test_a_nesting_bomb_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[chat]\nstop = " + "[" * 50_000 + "]" * 50_000 + "\n")
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_config(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'servers = []\n\n[[servers]]\npreset = "lmstudio"\n',
            "servers is already set as a value above (older lchat versions wrote `servers = []`): delete that line",
        ),
        ("[ollama]\nenabled = true\n[ollama]\nhosts = []\n", "[ollama] appears twice in the file: merge the two"),
    ],
)
def test_a_table_set_twice_says_what_to_do(tmp_path: Path, text: str, expected: str) -> None:
    """A config an older lchat wrote (servers = []) still trips on the README's [[servers]]: say how to fix it."""
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="invalid TOML") as raised:
        load_config(path)
    assert expected in str(raised.value)
