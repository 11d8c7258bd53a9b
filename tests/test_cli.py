"""The `lchat` command as a user runs it: in a subprocess, with real files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tui import __version__


def lchat(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or dict(os.environ),
        stdin=subprocess.DEVNULL,
    )


def test_version_and_help() -> None:
    assert lchat("--version").stdout.strip() == f"lchat {__version__}"
    help_text = lchat("--help").stdout
    assert "--data-dir" in help_text and "ask" in help_text


def test_version_imports_only_what_the_parser_needs() -> None:
    """`lchat --version` (and every command's parsing) stays instant: no asyncio, config, domain
    model, Textual or llama.cpp until a command runs (Benchmarks, row 10)."""
    probe = (
        "import sys\n"
        "from tui.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sorted(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    loaded = set(result.stdout.split("\n")[-2].split())
    assert "tui.cli" in loaded
    assert not loaded & {"asyncio", "tui.config", "tui.domain", "textual", "llama_cpp", "httpx"}


def test_broken_config_is_one_line_and_exit_2(lchat_home: Path) -> None:
    lchat_home.mkdir(parents=True)
    (lchat_home / "config.toml").write_text("[engine]\nthreads = 'many'\n")
    result = lchat("ask", "hi")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "config.toml:2: engine.threads must be an integer" in result.stderr
    assert "Traceback" not in result.stderr


def test_newer_database_is_refused_clearly(lchat_home: Path) -> None:
    import sqlite3

    data = lchat_home / "data"
    data.mkdir(parents=True)
    with sqlite3.connect(data / "history.db") as connection:
        connection.execute("PRAGMA user_version = 99")
    result = lchat("ask", "hi")
    assert result.returncode == 1
    assert "newer lchat" in result.stderr and "Traceback" not in result.stderr


def test_config_flag_and_data_dir_flag(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere" / "my.toml"
    data = tmp_path / "portable-data"
    result = lchat("--config", str(config), "--data-dir", str(data), "ask", "hi", "--model", "no-such-model")
    assert result.returncode == 1 and "no-such-model" in result.stderr
    assert config.exists() and (data / "history.db").exists()


def test_ask_says_what_a_backend_that_refused_credentials_said(lchat_home: Path) -> None:
    from tests.fake_ollama import OllamaState, start_ollama

    state = OllamaState(required_auth="Bearer right-token")
    state.add("qwen2.5:0.5b")
    daemon = start_ollama(state)
    try:
        lchat_home.mkdir(parents=True, exist_ok=True)
        (lchat_home / "config.toml").write_text(f'[ollama]\nhosts = ["{daemon.url}"]\n')
        result = lchat("ask", "--model", "qwen2.5:0.5b", "hi")
        assert result.returncode == 1 and result.stdout == ""
        assert "'qwen2.5:0.5b' matches no model" in result.stderr
        assert (
            f"not listed: ollama: Ollama at {daemon.url} refused the request (HTTP 401 unauthorized)" in result.stderr
        )
        state.required_auth = ""
        result = lchat("ask", "--backend", "ollama", "--model", "qwen2.5", "hi")
        assert (result.returncode, result.stdout) == (0, "Hello from Ollama.\n")
    finally:
        daemon.stop()


def test_a_fresh_homes_config_takes_the_readmes_servers_table(lchat_home: Path) -> None:
    assert lchat("list").returncode == 0
    with (lchat_home / "config.toml").open("a") as config_file:
        config_file.write('\n[[servers]]\npreset = "lmstudio"\n')
    result = lchat("list")
    assert result.returncode == 0 and result.stderr == ""


def test_config_out_of_range_or_a_folder_is_exit_2_with_one_line(lchat_home: Path) -> None:
    lchat_home.mkdir(parents=True)
    config = lchat_home / "config.toml"
    config.write_text("[ui]\nmax_fps = 0\n")
    result = lchat("list")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "config.toml:2: ui.max_fps must be between 1 and 240, not 0" in result.stderr
    config.unlink()
    config.mkdir()
    result = lchat("list")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "config.toml is a folder, not a config file" in result.stderr and "Traceback" not in result.stderr
