"""Word and character error rates for checking recognizers against a known script.

Both are Levenshtein distances over normalized tokens divided by the reference length. English
is compared word by word after lower-casing and dropping punctuation ("March tenth" still
differs from "March 10th": numbers are not spelled out, thresholds allow for it). Chinese is
compared character by character, ignoring punctuation and spaces.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Substitutions + insertions + deletions turning ``reference`` into ``hypothesis``."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


def _keep(char: str) -> bool:
    return unicodedata.category(char)[0] in {"L", "N"}


def normalize_words(text: str) -> list[str]:
    """Lower-case words without punctuation (apostrophes inside words are dropped too)."""
    cleaned = "".join(c if _keep(c) else (" " if c.isspace() or c in "-/" else "") for c in text)
    return cleaned.casefold().split()


def normalize_chars(text: str) -> list[str]:
    """Letters and digits, one per item, without punctuation or spaces."""
    return [c for c in text.casefold() if _keep(c)]


def wer(reference: str, hypothesis: str) -> float:
    ref = normalize_words(reference)
    return edit_distance(ref, normalize_words(hypothesis)) / max(len(ref), 1)


def cer(reference: str, hypothesis: str) -> float:
    ref = normalize_chars(reference)
    return edit_distance(ref, normalize_chars(hypothesis)) / max(len(ref), 1)
