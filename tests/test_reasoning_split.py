"""The reasoning splitter on recorded outputs of each format, cut into pieces anywhere."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tui.engines.base import ReasoningPiece, TextPiece
from tui.engines.reasoning_split import (
    HarmonySplitter,
    Splitter,
    ThinkSplitter,
    prompt_opens_think,
    splitter_for_template,
    template_thinking,
)

QWEN3 = (
    "<think>\nOkay, the user asks what 2+2 is. Simple arithmetic: 2 plus 2 gives 4.\n"
    "Should I mention <b> tags? No.\n</think>\n\nThe answer is **4**.\n\nAnything else?"
)
QWEN3_NO_THINK = "Hello! How can I help you today?"
"""Qwen3 with enable_thinking false: the template closed an empty block in the prompt."""
DEEPSEEK_R1_OPENED = (
    "Okay, so I need to figure out 2+2. Let me think... <that is> 4.\n\nWait, yes, 4.\n</think>\n\n2 + 2 = **4**."
)
"""A DeepSeek-R1 update: its template ends the prompt with `<think>\\n`, so only `</think>` comes."""
GPT_OSS = (
    '<|channel|>analysis<|message|>User asks: "What is 2+2?" Simple. Answer 4. Use <|> no markup.'
    "<|end|><|start|>assistant<|channel|>final<|message|>2 + 2 = 4. Written as a < b when a=3."
)

RECORDED: list[tuple[str, str, str, object]] = [
    (
        "qwen3",
        QWEN3,
        ("Okay, the user asks what 2+2 is. Simple arithmetic: 2 plus 2 gives 4.\nShould I mention <b> tags? No."),
        "The answer is **4**.\n\nAnything else?",
    ),
    ("qwen3-off", QWEN3_NO_THINK, "", QWEN3_NO_THINK),
    (
        "deepseek-r1-opened",
        DEEPSEEK_R1_OPENED,
        "Okay, so I need to figure out 2+2. Let me think... <that is> 4.\n\nWait, yes, 4.",
        "2 + 2 = **4**.",
    ),
    (
        "gpt-oss",
        GPT_OSS,
        'User asks: "What is 2+2?" Simple. Answer 4. Use <|> no markup.',
        "2 + 2 = 4. Written as a < b when a=3.",
    ),
]


def make(name: str) -> Splitter:
    if name == "gpt-oss":
        return HarmonySplitter()
    return ThinkSplitter(inside=name == "deepseek-r1-opened")


def run(splitter: Splitter, pieces: list[str]) -> tuple[str, str, list[object]]:
    events: list[object] = []
    for piece in pieces:
        events += splitter.feed(piece)
    events += splitter.flush()
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningPiece))
    answer = "".join(e.text for e in events if isinstance(e, TextPiece))
    assert all(e.text for e in events), "no empty pieces"
    return reasoning, answer, events


@pytest.mark.parametrize(("name", "raw", "reasoning", "answer"), RECORDED, ids=[r[0] for r in RECORDED])
def test_whole_output_splits(name: str, raw: str, reasoning: str, answer: str) -> None:
    got_reasoning, got_answer, events = run(make(name), [raw])
    assert (got_reasoning, got_answer) == (reasoning, answer)
    if reasoning:  # The reasoning all comes before the answer.
        kinds = [type(e) for e in events]
        assert kinds.index(TextPiece) > max(i for i, k in enumerate(kinds) if k is ReasoningPiece)


@pytest.mark.parametrize(("name", "raw", "reasoning", "answer"), RECORDED, ids=[r[0] for r in RECORDED])
def test_every_single_cut(name: str, raw: str, reasoning: str, answer: str) -> None:
    for cut in range(1, len(raw)):
        assert run(make(name), [raw[:cut], raw[cut:]])[:2] == (reasoning, answer), f"cut at {cut}"


@pytest.mark.parametrize(("name", "raw", "reasoning", "answer"), RECORDED, ids=[r[0] for r in RECORDED])
def test_one_character_at_a_time_and_random_cuts(name: str, raw: str, reasoning: str, answer: str) -> None:
    assert run(make(name), list(raw))[:2] == (reasoning, answer)
    rng = random.Random(13)
    for _ in range(300):
        cuts = sorted(rng.sample(range(1, len(raw)), rng.randint(2, 12)))
        pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
        assert run(make(name), pieces)[:2] == (reasoning, answer), pieces


@given(st.sampled_from(RECORDED), st.lists(st.floats(min_value=0, max_value=1), max_size=40))
def test_any_cuts_give_the_same_split(recorded: tuple[str, str, str, object], where: list[float]) -> None:
    name, raw, reasoning, answer = recorded
    cuts = sorted({int(f * len(raw)) for f in where})
    pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    assert run(make(name), pieces)[:2] == (reasoning, answer)


def test_reasoning_streams_before_the_block_closes() -> None:
    splitter = ThinkSplitter()
    first = splitter.feed("<think>\nStep one")
    assert first == [ReasoningPiece("Step one")]
    assert splitter.reasoning and splitter.saw_reasoning
    # Blank lines inside the reasoning stay; only those at its end go.
    assert splitter.feed("\n\nStep two\n") == [ReasoningPiece("\n\nStep two")]
    assert splitter.feed("</think>\n\nDone") == [TextPiece("Done")]
    assert not splitter.reasoning


def test_an_answer_cut_off_while_thinking_is_all_reasoning() -> None:
    """A prompt-opened block the model never closes (it stopped, or hit max tokens)."""
    reasoning, answer, _ = run(ThinkSplitter(inside=True), ["I wonder", " about </thi", "s"])
    assert (reasoning, answer) == ("I wonder about </this", "")


def test_stray_markers_never_reach_the_answer() -> None:
    reasoning, answer, _ = run(ThinkSplitter(inside=True), ["<think>\nhm</think>\nok </think>fine"])
    assert (reasoning, answer) == ("hm", "ok fine")


def test_harmony_without_markers_is_answer_text() -> None:
    reasoning, answer, _ = run(HarmonySplitter(), ["plain <|", "not a marker|> text <"])
    assert (reasoning, answer) == ("", "plain <|not a marker|> text <")


def test_harmony_commentary_and_constrained_final_are_answer() -> None:
    raw = (
        "<|channel|>analysis<|message|>think<|end|><|start|>assistant<|channel|>commentary<|message|>"
        'Let me check.<|end|><|start|>assistant<|channel|>final <|constrain|>json<|message|>{"a": 1}'
    )
    assert run(HarmonySplitter(), [raw])[:2] == ("think", 'Let me check.{"a": 1}')


def test_the_splitter_follows_the_template() -> None:
    assert splitter_for_template("{{ messages }}", "hi") is None
    assert isinstance(splitter_for_template("<|start|>{{ x }}<|channel|>", ""), HarmonySplitter)
    opened = splitter_for_template("...</think>...", "<|Assistant|><think>\n")
    assert isinstance(opened, ThinkSplitter) and opened.reasoning
    closed = splitter_for_template("<think>", "<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert isinstance(closed, ThinkSplitter) and not closed.reasoning
    assert prompt_opens_think("a<think>b</think>c<think>\n") and not prompt_opens_think("plain")


def test_thinking_follows_the_template() -> None:
    assert template_thinking("{{ messages }}") == {"thinking": False}
    assert template_thinking("{% if enable_thinking is false %}<think>\n\n</think>{% endif %}") == {"thinking": True}
    assert template_thinking("Reasoning: {{ reasoning_effort }}<|channel|>") == {
        "thinking": True,
        "think_levels": ["low", "medium", "high"],
    }
