"""One message of the chat: a header line (who, model, figures, state) and its text."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownStream

from tui.domain import ChatMessage, MessageStatus, Role
from tui.safe_text import one_line, terminal_safe

_STATUS_WORDS = {
    MessageStatus.STREAMING: "streaming…",
    MessageStatus.INTERRUPTED: "interrupted",
    MessageStatus.ERROR: "error",
}


def header_text(message: ChatMessage) -> Text:
    """The line above a message; built from Text so untrusted names are never markup."""
    if message.role is Role.USER:
        return Text("You", style="bold")
    header = Text("Assistant", style="bold")
    if message.model:
        header.append(f" · {one_line(model_label(message.model), 40)}", style="dim")
    if message.completion_tokens:
        header.append(f" · {message.completion_tokens} tok", style="dim")
    if message.tokens_per_s:
        header.append(f" · {message.tokens_per_s:.1f} tok/s", style="dim")
    if message.ttft_s is not None:
        header.append(f" · TTFT {message.ttft_s * 1000:.0f} ms", style="dim")
    word = _STATUS_WORDS.get(message.status)
    if word:
        header.append(f" · {word}", style="bold")
    return header


def model_label(name: str) -> str:
    """A model's short name: the file name of a path without .gguf, else the name itself."""
    label = name.rsplit("/", 1)[-1]
    return label[:-5] if label.lower().endswith(".gguf") else label


class MessageView(Vertical):
    """A message; an answer can stream into it and is marked when it did not complete."""

    DEFAULT_CSS = """
    MessageView { height: auto; padding: 0 1; margin: 0 0 1 0; }
    MessageView > .header { height: auto; color: $text-muted; }
    MessageView.-user { background: $boost; border-left: thick $secondary; }
    MessageView.-assistant { border-left: thick $primary; }
    MessageView.-interrupted { border-left: thick $warning; }
    MessageView.-error { border-left: thick $error; }
    MessageView > .error-text { color: $error; height: auto; }
    MessageView > Markdown { margin: 0; padding: 0; }
    MessageView > Markdown > *:last-child { margin-bottom: 0; }
    """

    def __init__(self, message: ChatMessage) -> None:
        super().__init__(classes=f"-{message.role.value}")
        self.message = message
        self._stream: MarkdownStream | None = None
        self._error = Static("", classes="error-text")
        self._error.display = False

    @property
    def message_id(self) -> int:
        return self.message.id

    def compose(self) -> ComposeResult:
        yield Static(header_text(self.message), classes="header")
        text = terminal_safe(self.message.content)
        if self.message.role is Role.USER:
            yield Static(Text(text), classes="body")
        else:
            yield Markdown(text, classes="body")
        yield self._error

    def on_mount(self) -> None:
        self._show_status()

    def start_stream(self) -> None:
        """Answer text will arrive piece by piece through `write`."""
        self._stream = Markdown.get_stream(self.query_one(Markdown))

    async def write(self, piece: str) -> None:
        if self._stream is not None:
            await self._stream.write(terminal_safe(piece))

    async def finish(self, message: ChatMessage) -> None:
        """Show the final state; one full render mends code blocks the stream left blank."""
        if self._stream is not None:
            stream, self._stream = self._stream, None
            await stream.stop()
        self.message = message
        self.query_one(".header", Static).update(header_text(message))
        body = self.query_one(".body")
        if isinstance(body, Markdown):
            await body.update(terminal_safe(message.content))
        self._show_status()

    def _show_status(self) -> None:
        status = self.message.status
        self.set_class(status is MessageStatus.INTERRUPTED, "-interrupted")
        self.set_class(status is MessageStatus.ERROR, "-error")
        if status is MessageStatus.ERROR:
            self._error.update(Text(terminal_safe(self.message.error or "the answer failed")))
        elif status is MessageStatus.INTERRUPTED:
            self._error.update(Text("Answer interrupted: what arrived is kept."))
        self._error.display = status in (MessageStatus.ERROR, MessageStatus.INTERRUPTED)
