"""The streaming-cost row's floor: stock Textual `Markdown.get_stream` in a `VerticalScroll` plus an `Input`.

Run as ``python -m bench.bare_markdown HOST:PORT MODEL``; Enter in the input streams the
double's answer (Ollama's /api/chat, read with httpx) into a Markdown, and a thinking model's
reasoning into another Markdown above it, nothing else.
"""

from __future__ import annotations

import json
import sys

import httpx
from textual import work
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Input, Markdown


class BareMarkdownApp(App[None]):
    """A question box and one Markdown answer, as Textual's own streaming example does."""

    CSS = "VerticalScroll { height: 1fr; } Input { dock: bottom; }"
    AUTO_FOCUS = "Input"

    def __init__(self, host: str, model: str) -> None:
        super().__init__()
        self.host, self.model = host, model

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown(id="reasoning")
            yield Markdown(id="answer")
        yield Input(placeholder="Ask")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.answer(event.value)

    @work(exclusive=True)
    async def answer(self, question: str) -> None:
        self.query_one(VerticalScroll).anchor()
        reasoning = Markdown.get_stream(self.query_one("#reasoning", Markdown))
        stream = Markdown.get_stream(self.query_one("#answer", Markdown))
        body = {"model": self.model, "messages": [{"role": "user", "content": question}], "stream": True}
        try:
            async with (
                httpx.AsyncClient(timeout=None) as client,
                client.stream("POST", f"http://{self.host}/api/chat", json=body) as reply,
            ):
                async for line in reply.aiter_lines():
                    if line:
                        message = json.loads(line)["message"]
                        if message.get("thinking"):
                            await reasoning.write(message["thinking"])
                        if message.get("content"):
                            await stream.write(message["content"])
        finally:
            await reasoning.stop()
            await stream.stop()


if __name__ == "__main__":
    BareMarkdownApp(sys.argv[1], sys.argv[2]).run()
