"""Where lchat keeps its config and data, and creating those places privately."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

APP_NAME = "lchat"
HOME_VARIABLE = "LCHAT_HOME"


@dataclass(frozen=True)
class Paths:
    """The files and folders of one lchat installation."""

    config_file: Path
    data_dir: Path

    @property
    def config_dir(self) -> Path:
        return self.config_file.parent

    @property
    def database(self) -> Path:
        return self.data_dir / "history.db"

    @property
    def models_dir(self) -> Path:
        """GGUF files dropped here are found by the embedded engine."""
        return self.data_dir / "models"

    @property
    def backups_dir(self) -> Path:
        """Where `lchat backup` writes by default, and where a damaged history looks for one."""
        return self.data_dir / "backups"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def user_themes_dir(self) -> Path:
        return self.config_dir / "themes"

    def create(self) -> None:
        """Create every folder lchat writes to, readable by the owner only; tighten those that exist."""
        for folder in (self.config_dir, self.data_dir, self.models_dir, self.log_dir):
            make_private_dir(folder)
        for folder in (self.config_dir, self.data_dir, self.models_dir, self.log_dir, self.backups_dir):
            tighten_dir(folder)


def resolve_paths(
    *,
    data_dir: Path | None = None,
    config_file: Path | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Paths:
    """Flags win over $LCHAT_HOME, which wins over the platform's usual places."""
    home = environ.get(HOME_VARIABLE)
    if home:
        base = Path(home).expanduser()
        default_config, default_data = base / "config.toml", base / "data"
    else:
        import platformdirs

        default_config = Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"
        default_data = Path(platformdirs.user_data_dir(APP_NAME))
    return Paths(
        config_file=(config_file or default_config).expanduser().absolute(),
        data_dir=(data_dir or default_data).expanduser().absolute(),
    )


def make_private_dir(path: Path) -> None:
    """mkdir -p with mode 0700 whatever the umask; existing folders are left as they are."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    # pathlib's parents=True would give the parents the umask's mode, so go one by one.
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)


def tighten_dir(folder: Path) -> None:
    """Make one of lchat's own folders 0700 if others could read it; a symlink (a models folder
    shared on purpose, say) is left as it is."""
    try:
        if folder.is_symlink() or not folder.is_dir():
            return
        if folder.stat().st_mode & 0o077:
            os.chmod(folder, 0o700)
    except OSError:
        pass  # A folder lchat cannot change is reported when it is written to, not here.


def open_private(path: Path, *, append: bool = False) -> TextIO:
    """`path` opened for writing text, created 0600 from the start whatever the umask (an existing
    file keeps its mode)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    return open(os.open(path, flags, 0o600), "w", encoding="utf-8")
