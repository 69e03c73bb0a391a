"""Markdown for DingTalk that shows people's words as words: escaped text, safe links and
@-mentions. Shared by the chat summaries and the meeting reports."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from urllib.parse import quote, urlsplit

from llm.guardrails import ELLIPSIS, bound_text, escape_markdown

log = logging.getLogger(__name__)

USER_ID = re.compile(r"[A-Za-z0-9_.:$-]{1,64}")
"""What a DingTalk user id (staffId) looks like; only such ids go into the text as ``@id``."""
_OWNER_SEPARATORS = re.compile(r"\s*(?:[、,，/&＆;；]|\band\b|和|及)\s*")
# Characters a link destination keeps as they are; "(", ")", spaces and "<>" get %-escaped.
_URL_SAFE = ":/?#[]@!$&'*+,;=%~-._"


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (line breaks included) as one space."""
    return " ".join(text.split())


def escaped(text: str, limit: int | None = None) -> str:
    """``text`` on one line, bounded to ``limit`` characters, escaped for Markdown."""
    line = one_line(text)
    return escape_markdown(bound_text(line, limit) if limit else line)


def bold(label: str) -> str:
    return f"**{label}**"


def safe_link(url: str) -> str:
    """``url`` ready for a Markdown link destination: http(s) only, and nothing in it (spaces,
    parentheses, angle brackets) can end the link early."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"a report link must be an http(s) URL, got {url!r}")
    return quote(url.strip(), safe=_URL_SAFE)


def usable_ids(mention_ids: Mapping[str, str]) -> dict[str, str]:
    """The name -> user id pairs whose id can go into the text as ``@userId`` as it is."""
    usable = {}
    for name, user_id in mention_ids.items():
        if USER_ID.fullmatch(user_id):
            usable[name] = user_id
        else:
            log.debug("not @-mentioning %r: %r is not a plain user id", name, user_id)
    return usable


def lookup_id(mention_ids: Mapping[str, str], name: str) -> str | None:
    user_id = mention_ids.get(name)
    if user_id is None:
        folded = name.casefold()
        user_id = next((v for k, v in mention_ids.items() if k.strip().casefold() == folded), None)
    return user_id


def owner_markdown(owner: str | None, mention_ids: Mapping[str, str]) -> tuple[str, list[str]]:
    """The owner as Markdown (``@userId`` for a known DingTalk user, else the name in bold)
    and the user ids mentioned. Several owners ("王强、李娜") are looked up one by one."""
    name = one_line(owner or "")
    if not name:
        return "", []
    user_id = lookup_id(mention_ids, name)
    if user_id is not None:
        return f"@{user_id}", [user_id]
    parts = [part for part in _OWNER_SEPARATORS.split(name) if part]
    found = [lookup_id(mention_ids, part) for part in parts]
    if len(parts) < 2 or not any(found):
        return bold(escaped(name, 60)), []
    shown = [
        f"@{uid}" if uid else bold(escaped(part, 60))
        for part, uid in zip(parts, found, strict=True)
    ]
    return " ".join(shown), [uid for uid in found if uid]


def cut_to_fit(text: str, keep_last: str, max_chars: int) -> str:
    """The last resort for a message over ``max_chars``: whole paragraphs dropped from the
    end (a heading left without its section goes too), ``keep_last`` (a link) kept if it fits."""
    if len(text) <= max_chars:
        return text
    blocks = text.split("\n\n")
    tail = [blocks.pop()] if keep_last and len(blocks) > 1 and blocks[-1] == keep_last else []
    for kept_tail in (tail, []):
        kept = list(blocks)
        while len(kept) > 1:
            kept.pop()
            while len(kept) > 1 and kept[-1].startswith("#"):
                kept.pop()
            candidate = "\n\n".join([*kept, ELLIPSIS, *kept_tail])
            if len(candidate) <= max_chars:
                return candidate
        if kept_tail:
            log.warning("the link does not fit in %d characters; left out", max_chars)
    return bound_text(blocks[0], max_chars)
