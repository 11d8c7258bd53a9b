"""The user's own models folder: importing a GGUF file into it (what may be deleted from it is the
embedded engine's rule: tui.engines.embedded.discovery.check_delete)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

from tui.engines.base import EngineError, ModelLoadError, ModelNotFound
from tui.engines.embedded.gguf_info import read_gguf_info
from tui.engines.manage import Progress
from tui.fit.units import gb
from tui.models.hf import PARTIAL_DIR

COPY_CHUNK = 8 * 1024 * 1024


def check_import(source: str, models_dir: Path) -> tuple[Path, Path]:
    """(the file, where it will go), or a readable error: missing, not GGUF, already there, no room."""
    path = Path(source).expanduser()
    if not path.exists():
        raise ModelNotFound(f"no file {str(path)!r}")
    if not path.is_file():
        raise ModelLoadError(f"{path} is a folder, not a GGUF file")
    read_gguf_info(path)  # Raises ModelLoadError("... is not a usable GGUF file: ...").
    dest = models_dir / path.name
    if dest.exists():
        raise EngineError(f"{path.name} is already in the models folder")
    size = path.stat().st_size
    models_dir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(models_dir).free
    if size > free:
        raise EngineError(f"not enough disk space: {path.name} needs {gb(size)}, {gb(free)} is free in {models_dir}")
    return path, dest


async def import_steps(source: Path, dest: Path) -> AsyncIterator[Progress]:
    """Copy `source` to `dest` with progress; a cancelled copy leaves nothing behind."""
    size = source.stat().st_size
    part = dest.parent / PARTIAL_DIR / (dest.name + ".import")
    part.parent.mkdir(parents=True, exist_ok=True)
    done = 0
    try:
        with source.open("rb") as src, part.open("wb") as out:
            while chunk := await asyncio.to_thread(src.read, COPY_CHUNK):
                await asyncio.to_thread(out.write, chunk)
                done += len(chunk)
                yield Progress("copying", done, size)
        part.replace(dest)
    except OSError as error:
        raise EngineError(f"could not copy {source.name}: {error.strerror or error}") from None
    finally:
        part.unlink(missing_ok=True)
    yield Progress("done", size, size)
