"""The words on a poster, from a brief: the shared model picks the headline, a subtitle, the
date, the place and a few highlights; code keeps only a date and place the brief really
contains, and falls back to the brief's own first clause when there is no model."""

from __future__ import annotations

import re
import unicodedata

from pydantic import BaseModel, Field

from docs_gen.brief import SENTENCE_ENDS, clean_brief, first_clause
from docs_gen.poster import THEMES, PosterSpec, resolve_theme
from llm.errors import LLMError
from llm.guardrails import bound_text
from llm.prompts import Language, detect_language
from llm.service import LLM
from llm.structured import structured_sync
from llm.types import GenerationOptions, Priority

_DIGITS = re.compile(r"\d+")


class PosterWords(BaseModel):
    title: str = Field(min_length=1, max_length=30)
    subtitle: str = Field(default="", max_length=40)
    date: str = Field(default="", max_length=40)
    place: str = Field(default="", max_length=40)
    highlights: list[str] = Field(default_factory=list, max_length=4)
    theme: str = Field(default="blue", max_length=20)


def _normal(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).casefold()


def grounded(value: str, brief: str) -> str:
    """``value`` when the brief supports it: its digits all appear in the brief, and it shares
    most of its characters with it; else empty (a poster must not show a made-up date)."""
    value = " ".join(value.split())
    if not value:
        return ""
    normal_brief = _normal(brief)
    if _normal(value) in normal_brief:
        return value
    digits = _DIGITS.findall(unicodedata.normalize("NFKC", value))
    brief_digits = set(_DIGITS.findall(unicodedata.normalize("NFKC", brief)))
    if any(d not in brief_digits for d in digits):
        return ""
    letters = [c for c in _normal(value) if c.isalnum()]
    if not letters:
        return ""
    shared = sum(1 for c in letters if c in normal_brief)
    return value if shared / len(letters) >= 0.7 else ""


def fallback_words(brief: str, language: Language) -> PosterWords:
    first = first_clause(brief, SENTENCE_ENDS + ",，")
    return PosterWords(title=bound_text(first or brief, 24 if language == "zh" else 40))


def poster_spec_from_brief(
    llm: LLM | None,
    brief: str,
    *,
    language: Language | None = None,
    theme: str | None = None,
    timeout: float = 120.0,
) -> PosterSpec:
    """A poster's words from ``brief`` (the model's, checked; or the brief's first clause)."""
    text = clean_brief(brief)
    lang: Language = language or detect_language(text)
    words: PosterWords | None = None
    if llm is not None:
        from docs_gen.prompts import render

        messages = render("poster", lang, brief=text, themes=", ".join(THEMES))
        try:
            words = structured_sync(
                llm,
                messages,
                PosterWords,
                options=GenerationOptions(max_tokens=220, temperature=0.0),
                priority=Priority.BACKGROUND,
                timeout=timeout,
                retries=1,
            )
        except LLMError:
            words = None
    if words is None:
        words = fallback_words(text, lang)
    try:
        chosen_theme = resolve_theme(theme or words.theme)
    except ValueError:
        chosen_theme = "blue"
    highlights = tuple(bound_text(" ".join(h.split()), 40) for h in words.highlights if h.strip())[
        :4
    ]
    return PosterSpec(
        title=bound_text(" ".join(words.title.split()), 60),
        subtitle=bound_text(" ".join(words.subtitle.split()), 60),
        date=grounded(words.date, text),
        place=grounded(words.place, text),
        highlights=highlights,
        theme=chosen_theme,
        language=lang,
    )
