"""A search result's snippet, cut from the message's own text around what matched.

The index holds CJK runs as bigrams, so FTS5's ``snippet()`` cannot cut the original text;
this finds the matches again with one regular expression per typed term (case and, like the
index, diacritics ignored) and keeps a few words around the best of them.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

from tui.store.cjk import CJK_CHARS, OTHER_WORD_CHAR, RUN

_WORD = re.compile(f"{RUN.pattern}|{OTHER_WORD_CHAR.pattern}+")
_UNIT = re.compile(f"{OTHER_WORD_CHAR.pattern}+|[{CJK_CHARS}]{{1,2}}")
"""What a snippet's length counts: a word, or two CJK characters."""
_HITS_PER_TERM = 10
_LONG_WORD = 64
_REGION = 300
"""Characters either side of the chosen match that are looked at to cut the snippet."""
_NEAR = 80
"""Characters after a match within which other terms' matches count towards choosing it."""


def _strip_marks(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c)).lower()


@functools.cache
def _variants() -> dict[str, str]:
    """Each base Latin letter and the accented letters the index folds onto it."""
    found: dict[str, set[str]] = {}
    for code in [*range(0xC0, 0x250), *range(0x1E00, 0x1F00)]:
        char = chr(code).lower()
        base = _strip_marks(char)
        if len(base) == 1 and base != char:
            found.setdefault(base, {base}).add(char)
    return {base: "[" + "".join(sorted(chars)) + "]" for base, chars in found.items()}


def _letters(word: str, accented: bool) -> str:
    """A word's letters, folded; with ``accented``, each also matches its accented forms
    (not in a very long word, where that would make a huge expression to compile)."""
    folded = _strip_marks(word)
    if not accented or len(word) > _LONG_WORD:
        return re.escape(folded)
    return "".join(_variants().get(c, re.escape(c)) for c in folded)


@dataclass(frozen=True)
class Term:
    """How to find one typed word or phrase again in a lower-cased text, as FTS5 matched it."""

    plain: re.Pattern[str]
    """For a text of ASCII only: letters as they are, so the expression searches fast."""
    accented: re.Pattern[str]
    """For any other text: each letter also matches its accented forms."""
    starts_word: bool
    """It starts with a (non-CJK) word, so a match must not follow a letter or digit."""

    def spans(self, folded: str, ascii_only: bool, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
        """Where it matches in ``folded`` (the text lower-cased, as long as the text)."""
        pattern = self.plain if ascii_only else self.accented
        for found in pattern.finditer(folded, start, len(folded) if end is None else end):
            # Checked here, not as a look-behind, which would make the search try every position.
            at = found.start()
            if found.end() > at and not (self.starts_word and at > 0 and OTHER_WORD_CHAR.match(folded, at - 1)):
                yield found.span()


@functools.lru_cache(maxsize=64)
def term_pattern(term: str, prefix: bool) -> Term | None:
    """How to find ``term`` (a word or a phrase the user typed) again, or None if it has no word."""
    words = list(_WORD.finditer(term.lower()))
    if not words:
        return None

    def expression(accented: bool) -> re.Pattern[str]:
        parts: list[str] = []
        for index, word in enumerate(words):
            cjk = RUN.fullmatch(word.group()) is not None
            if index:
                # Two words need a separator between them; a CJK run and a word may touch.
                parts.append(r"[\W_]*" if cjk != (RUN.fullmatch(words[index - 1].group()) is not None) else r"[\W_]+")
            parts.append(re.escape(word.group()) if cjk else _letters(word.group(), accented))
        if not RUN.fullmatch(words[-1].group()):
            # A prefix marks the whole word it starts, as FTS5 did.
            parts.append(f"{OTHER_WORD_CHAR.pattern}*" if prefix else f"(?!{OTHER_WORD_CHAR.pattern})")
        return re.compile("".join(parts))

    return Term(expression(False), expression(True), RUN.fullmatch(words[0].group()) is None)


def fold(text: str) -> tuple[str, bool]:
    """``text`` lower-cased, character for character, and whether it is all ASCII."""
    folded = text.lower()
    if len(folded) != len(text):  # A few letters (İ) lower-case to two characters.
        folded = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    return folded, folded.isascii()


def snippet(text: str, terms: list[Term], *, words: int, start: str, end: str, ellipsis: str) -> str:
    """About ``words`` words of ``text`` around its best match, each match between ``start``
    and ``end``, with ``ellipsis`` where text was cut off."""
    folded, ascii_only = fold(text)
    anchor = _best(folded, ascii_only, terms)
    first, last = _window(text, anchor or (0, 0), words=words)
    hits = sorted(span for term in terms for span in term.spans(folded, ascii_only, first, last))
    pieces = [ellipsis] if first > 0 else []
    at = first
    for hit_start, hit_end in hits:
        hit_start = max(hit_start, at)
        if hit_start < hit_end:
            pieces += [text[at:hit_start], start, text[hit_start:hit_end], end]
            at = hit_end
    pieces.append(text[at:last])
    if last < len(text):
        pieces.append(ellipsis)
    return "".join(pieces)


def _best(folded: str, ascii_only: bool, terms: list[Term]) -> tuple[int, int] | None:
    """The first match with the most different terms matching close after it."""
    if len(terms) == 1:
        return next(terms[0].spans(folded, ascii_only), None)
    hits = sorted(
        (hit_start, hit_end, which)
        for which, term in enumerate(terms)
        for hit_start, hit_end in islice(term.spans(folded, ascii_only), _HITS_PER_TERM)
    )
    best: tuple[int, int] | None = None
    score = 0
    for index, (hit_start, hit_end, _) in enumerate(hits):
        near = set()
        for later_start, _, which in islice(hits, index, None):
            if later_start - hit_start >= _NEAR:
                break
            near.add(which)
        if len(near) > score:
            best, score = (hit_start, hit_end), len(near)
    return best


@functools.lru_cache(maxsize=32)
def _units(count: int) -> re.Pattern[str]:
    """Up to ``count`` units (a word, or two CJK characters), each with the separators before it."""
    return re.compile(f"(?:[\\W_]*(?:{_UNIT.pattern})){{0,{count}}}")


def _skip(text: str, units: int, at: int = 0) -> int:
    """Where ``text`` is, from ``at``, once up to ``units`` units are passed."""
    passed = _units(units).match(text, at)
    return at if passed is None else passed.end()


def _window(text: str, span: tuple[int, int], *, words: int) -> tuple[int, int]:
    """Where the snippet starts and ends: a few units before the match at ``span``, then on
    to ``words`` units in all (a unit is a word or two CJK characters); when the text starts
    or ends first, the rest go to the other side. Regular expressions count, so a long
    text costs little."""
    hit_start, hit_end = span
    before = text[max(0, hit_start - _REGION) : hit_start][::-1]

    def begin_with(units: int) -> tuple[int, int]:
        reached = _skip(before, units)
        if hit_start <= _REGION and _skip(before, 1, reached) == reached:
            return 0, _count(before)  # Nothing but separators before: start at the start.
        return hit_start - reached, units

    begin, lead = begin_with(words // 3)
    finish = _skip(text, words - 1 - lead, hit_end)
    if _skip(text, 1, finish) == finish:
        finish = len(text)
        spare = words - 1 - lead - _count(text[hit_end:finish])
        if spare > 0 and begin > 0:
            begin, _ = begin_with(lead + spare)
    return begin, finish


def _count(text: str) -> int:
    """How many units ``text`` holds."""
    return len(_UNIT.findall(text))
