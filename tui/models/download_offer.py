"""What a Hugging Face repo offers to download, ranked by how well each file fits this machine."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tui.models.download_fit import SizeFit, question
from tui.models.hf import HfChoice


@dataclass(frozen=True)
class DownloadOffer:
    """The GGUF files of `repo`, best fit first, and the one already chosen (by name, or the only one)."""

    repo: str
    ranked: list[tuple[HfChoice, SizeFit | None]]
    chosen: HfChoice | None
    note: str | None = None
    """Said before the choice when the file or quantization asked for is not there."""

    @property
    def question(self) -> str:
        return f"Which GGUF of {self.repo}? (best fit on this machine first)"

    def options(self) -> list[tuple[str, str]]:
        """(key, label) of each file, best fit first, for a choice dialog."""
        return [(str(i), f"{c.label}  {fit.verdict if fit else ''}") for i, (c, fit) in enumerate(self.ranked)]

    def choice(self, key: str) -> HfChoice:
        """The file of an `options()` key."""
        return self.ranked[int(key)][0]

    def too_big(self, choice: HfChoice) -> str | None:
        """The question to ask before getting `choice` when it will not fit; None when it may."""
        fit = dict(self.ranked).get(choice)
        return question(file_name(choice), fit) if fit and not fit.fits else None


def file_name(choice: HfChoice) -> str:
    """The name the download will have in the models folder."""
    return Path(choice.files[0]).name
