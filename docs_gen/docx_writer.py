r"""Markdown (the subset below) as a Word document (.docx), built with python-docx.

Documents are rendered by jinja2 templates to Markdown; this module turns that Markdown into
a .docx with Word's own structure (Title and heading styles, real tables, list numbering,
hyperlinks, a page header and footer), so a custom template an admin drops in gets a clean
.docx without code. Odd Markdown never fails: what is not in the subset is a plain paragraph.
The one error, ``MarkdownDocxError``, is an image the document cannot show.

The subset (CommonMark and GitHub tables, simplified):

- `# X` is the document Title (the first one; a later `#` is a Heading 1), `## X` Heading 1,
  `### X` Heading 2, `#### X` Heading 3 (`#####`, `######`: Heading 4, 5). A closing `#`
  sequence is dropped; `#tag` without a space is text.
- Paragraphs: consecutive non-blank lines join, without a space where a wide (Chinese)
  character meets the join, with one between Latin text. A line ending in two spaces or `\`
  breaks the line, as does `<br>`.
- Inline: `**bold**` (or `__bold__`), `*italic*` / `_italic_` (`_` not inside a word),
  `***both***`, `` `code` `` (monospace), `[text](url)`, `<url>` and bare http(s) URLs as
  real hyperlinks (http, https, mailto and tel; another target keeps only the text);
  `<!-- comments -->` are dropped. A backslash before ASCII punctuation gives the character
  itself (`\*`, `\|`, `\#`, `1\.`): templates escape user text so. Unpaired delimiters stay.
- Lists: `-`, `*`, `+` bullets and `1.`, `1)` numbers; an indent of two or more spaces is the
  second level (List Bullet 2, List Number 2). Each numbered list (and sub-list) starts at its
  first item's number, however many lists came before. Blank lines between items keep a list;
  any other block ends it, as does a bullet item at the same level. A line right after an
  item continues it; an indented paragraph after a blank line continues the list (List
  Continue). `- [ ] x` and `- [x] x` are checklist items: ☐ or ☑, hanging like a bullet.
- Tables: a header row, a separator row (`---`, `:---`, `:---:`, `---:` align the column's
  cells) and body rows; every row has an unescaped `|` (a line without one ends the table).
  Cells take inline markup and `\|`; missing cells are empty and surplus ones join the last
  cell, so no text is lost. The header is bold and repeats on each page; a body row whose
  first cell is all bold (`**合计**`, `**Total**`) is shaded as the total row.
- `![alt](name)` alone on a line is `images[name]` (PNG or JPEG; another format Pillow reads
  is converted to PNG), centred, at most the text width (16 cm) wide and 20 cm tall, never
  enlarged, with `alt` as its Caption. An http(s) `name` gives only a hyperlink paragraph:
  nothing is fetched. Within text, an image shows its alt text.
- `> text` is a Quote paragraph (nested `>` flattened); `---`, `***` or `___` alone a thin
  rule; a fenced code block (``` or ~~~) monospace paragraphs in the Code style; lines holding
  only a `<!-- ... -->` comment nothing.

Every document is A4 with 2.5 cm margins; the page header shows ``DocumentInfo.header`` (or
the subject) right-aligned and muted, the footer a real PAGE field ("第 X 页", "Page X"). Every
style used names ``east_asian_font`` for Chinese text (see ``docs_gen.docx_style``).
"""

from __future__ import annotations

import bisect
import html
import io
import itertools
import re
import string
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import Literal, cast
from urllib.parse import quote

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.oxml.text.parfmt import CT_PPr
from docx.oxml.xmlchemy import BaseOxmlElement
from docx.shared import Cm, Emu, Length, Pt, RGBColor
from docx.styles.style import CharacterStyle, ParagraphStyle
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph
from docx.text.run import Run
from PIL import Image, UnidentifiedImageError

from docs_gen.docx_style import (
    DEFAULT_EAST_ASIAN_FONT,
    LANGUAGE_TAGS,
    repeat_header,
    set_east_asian,
    use_east_asian_font,
    xml_text,
)
from docs_gen.errors import DocumentError

__all__ = ["DocumentInfo", "MarkdownDocxError", "build_document", "markdown_to_docx"]

PAGE_WIDTH, PAGE_HEIGHT = Cm(21), Cm(29.7)  # A4
MARGIN = Cm(2.5)
MAX_IMAGE_WIDTH, MAX_IMAGE_HEIGHT = Cm(16), Cm(20)
MUTED = RGBColor(0x64, 0x6A, 0x73)
LINK_BLUE = RGBColor(0x05, 0x63, 0xC1)  # Word's own Hyperlink colour
RULE_COLOUR = "BFBFBF"
TOTAL_ROW_FILL = "F2F2F2"
CODE_FILL = "F5F5F5"
MONOSPACE = "Courier New"  # present with Word; LibreOffice maps it to Liberation Mono
TABLE_STYLE = "Table Grid"
CODE_STYLE = "Code"
HYPERLINK_STYLE = "Hyperlink"
FOOTER_TEXTS = {"zh": ("第 ", " 页"), "en": ("Page ", "")}
CHECKBOXES = {False: "☐", True: "☑"}
LINK_SCHEMES = re.compile(r"(?i)(?:https?://|mailto:|tel:)")
_WEB_URL = re.compile(r"(?i)https?://")
EMU_PER_INCH = 914400
MAX_URL = 4096  # the longest link destination looked for: keeps broken Markdown fast
# python-docx styles whose text this module writes, besides those use_east_asian_font covers
EXTRA_STYLED = (
    "Heading 4",
    "Heading 5",
    "List Bullet",
    "List Bullet 2",
    "List Number",
    "List Number 2",
    "List Continue",
    "List Continue 2",
    "List Paragraph",
    "Quote",
    "Header",
    "Footer",
    TABLE_STYLE,
    CODE_STYLE,
    HYPERLINK_STYLE,
)
# the w:pPr children that follow w:pBdr and w:shd, in schema order
_AFTER_SHD = (
    "w:tabs", "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap", "w:overflowPunct",
    "w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi", "w:adjustRightInd",
    "w:snapToGrid", "w:spacing", "w:ind", "w:contextualSpacing", "w:mirrorIndents",
    "w:suppressOverlap", "w:jc", "w:textDirection", "w:textAlignment", "w:textboxTightWrap",
    "w:outlineLvl", "w:divId", "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange",
)  # fmt: skip
_AFTER_TC_SHD = (
    "w:noWrap", "w:tcMar", "w:textDirection", "w:tcFitText", "w:vAlign", "w:hideMark",
    "w:headers", "w:cellIns", "w:cellDel", "w:cellMerge", "w:tcPrChange",
)  # fmt: skip


class MarkdownDocxError(DocumentError, ValueError):
    """The Markdown refers to something the document cannot contain (an image not given, or
    bytes that are no image)."""

    code = "docs_docx"


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """What the document says about itself: core properties and the page header."""

    title: str
    language: Literal["zh", "en"] = "zh"
    subject: str = ""
    """e.g. "活动策划": in the core properties and (when ``header`` is empty) the page header."""
    keywords: tuple[str, ...] = ()
    header: str = ""
    """The page header text (e.g. "活动策划 · 2026-12-01"); empty: the subject."""
    author: str = "officebot"

    def __post_init__(self) -> None:
        if self.language not in FOOTER_TEXTS:
            accepted = ", ".join(FOOTER_TEXTS)
            raise ValueError(f"language {self.language!r} is not supported; accepted: {accepted}")


# --- inline Markdown -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Span:
    """A stretch of text with one formatting."""

    text: str
    bold: bool = False
    italic: bool = False
    code: bool = False
    link: str | None = None


@dataclass(slots=True)
class _Delimiter:
    """A run of ``*`` or ``_`` that may open or close emphasis."""

    char: str
    size: int
    can_open: bool
    can_close: bool
    role: Literal["open", "close"] | None = None


_Item = _Span | _Delimiter | list[_Span]  # a list: a link's text, already formatted
_SPECIAL = re.compile(r"[\\`!\[*_<&]|https?://", re.IGNORECASE)
_ASCII_PUNCTUATION = frozenset(string.punctuation)
_ENTITY_TEXT = r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});"
_ENTITY = re.compile(_ENTITY_TEXT)
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
_URL_CHAR = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]")
# a URL's characters, escaped or as references too: templates escape URLs like any text
_URL_PIECES = re.compile(rf"{_ENTITY_TEXT}|\\[!-/:-@\[-`{{-~]|{_URL_CHAR.pattern}")
_BARE_URL = re.compile(rf"https?://(?:{_URL_PIECES.pattern})+", re.IGNORECASE)
_ANGLE_URL = re.compile(r"<((?:https?://|mailto:)[^\s<>]+)>", re.IGNORECASE)
_RUN = {"*": re.compile(r"\*+"), "_": re.compile(r"_+"), "`": re.compile(r"`+")}
# a link destination without spaces: escapes, and parentheses balanced one level deep
_DESTINATION = re.compile(r"(?:[^\s()\\]|\\.|\((?:[^\s()\\]|\\.)*\))+")
_LINE_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_URL_TRAILING = ".,;:!?'\"*_~"
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"


def _inline(text: str) -> list[_Span]:
    """The formatted spans of a paragraph's (or cell's, or heading's) Markdown text."""
    return _resolve(_tokens(text))


def _tokens(text: str) -> list[_Item]:
    """The text as literal and code spans, links and emphasis delimiters, in order."""
    items: list[_Item] = []
    literal: list[str] = []

    def push(item: _Item) -> None:
        if literal:
            items.append(_Span("".join(literal)))
            literal.clear()
        items.append(item)

    i, end = 0, len(text)
    brackets, backticks = _bracket_pairs(text), _backtick_runs(text)
    while i < end:
        match = _SPECIAL.search(text, i)
        if match is None:
            literal.append(text[i:])
            break
        literal.append(text[i : match.start()])
        i = match.start()
        char = text[i]
        if char == "\\":
            following = text[i + 1 : i + 2]
            escaped = following in _ASCII_PUNCTUATION
            literal.append(following if escaped else "\\")
            i += 2 if escaped else 1
        elif char == "`":
            i = _code_span(text, i, backticks, push, literal)
        elif char == "<":
            i = _angle(text, i, push, literal)
        elif char == "&":  # &amp; &lt; &gt;: how templates escape the user's HTML
            entity = _ENTITY.match(text, i)
            decoded = _entities(entity.group()) if entity else "&"
            literal.append(decoded)
            i += len(entity.group()) if entity else 1
        elif char in "![":
            is_image = char == "!"  # an image within text shows its alt text
            link = _link_at(text, i + 1 if is_image else i, brackets)
            if link is None:
                literal.append(char)
                i += 1
                continue
            label, destination, i = link
            spans = _inline(label)
            target = None if is_image else _safe_url(destination)
            if target is not None:
                spans = [replace(span, link=target) for span in spans or [_Span(destination)]]
            push(spans)
        elif char in "*_":
            size = len(_RUN[char].match(text, i).group())  # type: ignore[union-attr]
            before = text[i - 1] if i > 0 else " "
            after = text[i + size] if i + size < end else " "
            if size > 3:
                literal.append(char * size)
            else:
                can_open, can_close = not after.isspace(), not before.isspace()
                if char == "_":
                    can_open = can_open and not before.isalnum()
                    can_close = can_close and not after.isalnum()
                push(_Delimiter(char, size, can_open, can_close))
            i += size
        else:  # http:// or https://
            url, size = _bare_url(text, i)
            glued = i > 0 and text[i - 1].isascii() and text[i - 1].isalnum()
            if glued or url.lower() in ("", "http://", "https://"):
                literal.append(char)
                i += 1
                continue
            push(_Span(url, link=_safe_url(url)))
            i += size
    if literal:
        items.append(_Span("".join(literal)))
    return items


def _backtick_runs(text: str) -> dict[int, list[int]]:
    """Where the runs of backticks of each length start, in order."""
    runs: dict[int, list[int]] = {}
    for run in _RUN["`"].finditer(text):
        runs.setdefault(len(run.group()), []).append(run.start())
    return runs


def _code_span(
    text: str,
    i: int,
    backticks: Mapping[int, list[int]],
    push: Callable[[_Item], None],
    literal: list[str],
) -> int:
    """A code span at ``text[i]`` (a backtick): its text is literal, newlines become spaces."""
    size = len(_RUN["`"].match(text, i).group())  # type: ignore[union-attr]
    starts = backticks.get(size, [])
    following = bisect.bisect_right(starts, i)
    if following < len(starts):
        close = starts[following]
        code = text[i + size : close].replace("\n", " ")
        if len(code) > 2 and code[0] == code[-1] == " " and code.strip():
            code = code[1:-1]
        push(_Span(code, code=True))
        return close + size
    literal.append("`" * size)
    return i + size


def _angle(text: str, i: int, push: Callable[[_Item], None], literal: list[str]) -> int:
    """``<!-- comment -->`` (dropped), ``<br>`` (a line break), ``<url>``, or a literal ``<``."""
    if text.startswith("<!--", i):
        close = text.find("-->", i + 4)
        if close >= 0:
            return close + 3
    elif line_break := _LINE_BREAK.match(text, i):
        literal.append("\n")
        return line_break.end()
    elif url := _ANGLE_URL.match(text, i):
        target = _entities(url.group(1))
        push(_Span(target, link=_safe_url(target)))
        return url.end()
    literal.append("<")
    return i + 1


def _bracket_pairs(text: str) -> dict[int, int]:
    """Where each ``[`` of ``text`` that has a partner ``]`` has it (escaped ones have none)."""
    pairs: dict[int, int] = {}
    opened: list[int] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 1
        elif char == "[":
            opened.append(i)
        elif char == "]" and opened:
            pairs[opened.pop()] = i
        i += 1
    return pairs


def _link_at(text: str, i: int, brackets: Mapping[int, int]) -> tuple[str, str, int] | None:
    """``[label](destination "title")`` starting at ``text[i]``: label, destination and the
    index after it; ``None`` where there is no complete link."""
    j = brackets.get(i)
    if j is None or not text.startswith("(", j + 1):
        return None
    label = text[i + 1 : j]
    k, end = j + 2, min(len(text), j + 2 + MAX_URL)
    while k < end and text[k] in " \t\n":
        k += 1
    if text.startswith("<", k):
        close = text.find(">", k, end)
        if close < 0:
            return None
        destination, k = text[k + 1 : close], close + 1
    else:
        bare = _DESTINATION.match(text, k, end)
        destination, k = (bare.group(), bare.end()) if bare else ("", k)
    while k < end and text[k] in " \t\n":
        k += 1
    if k < end and text[k] in "\"'(":
        close = text.find(")" if text[k] == "(" else text[k], k + 1, end)
        if close < 0:
            return None
        k = close + 1
        while k < end and text[k] in " \t\n":
            k += 1
    if not text.startswith(")", k):
        return None
    return label, _entities(_ESCAPED.sub(r"\1", destination)), k + 1


def _safe_url(url: str) -> str | None:
    """``url``, percent-encoded where it must be, if it is one a reader may open."""
    url = url.strip()
    if not LINK_SCHEMES.match(url):
        return None
    return quote(url, safe=_URL_SAFE)


def _bare_url(text: str, i: int) -> tuple[str, int]:
    """The URL at ``text[i]`` without the punctuation that ends the sentence around it, its
    escapes and entities resolved; and how much of ``text`` it takes."""
    found = _BARE_URL.match(text, i)
    pieces: list[str] = []
    chars: list[str] = []
    for piece in _URL_PIECES.findall(found.group()) if found else []:
        char = _entities(piece) if len(piece) > 2 else piece[-1]
        if not _URL_CHAR.fullmatch(char):  # &gt; or \| ends the URL, as > or | would
            break
        pieces.append(piece)
        chars.append(char)
    while chars:
        last = chars[-1]
        if (
            last in _URL_TRAILING
            or (last == ")" and chars.count("(") < chars.count(")"))
            or (last == "]" and chars.count("[") < chars.count("]"))
        ):
            chars.pop()
        else:
            break
    return "".join(chars), sum(len(piece) for piece in pieces[: len(chars)])


def _entities(text: str) -> str:
    """``text`` with its HTML character references (``&amp;``, ``&#39;``) resolved; only
    complete ones, so a URL's ``&not=1`` stays as it is."""
    return _ENTITY.sub(lambda entity: xml_text(html.unescape(entity.group())), text)


def _resolve(items: list[_Item]) -> list[_Span]:
    """Pair emphasis delimiters (each closer with the nearest opener of its kind; openers in
    between stay literal) and apply them to the spans between."""
    resolved: list[_Item] = []
    openers: list[int] = []
    for item in items:
        if not isinstance(item, _Delimiter):
            resolved.append(item)
            continue
        parts = [item]
        if item.size == 3:  # *** is ** and *, in the order that nests
            closing = item.can_close and any(
                cast(_Delimiter, resolved[index]).char == item.char for index in openers
            )
            sizes = (1, 2) if closing else (2, 1)
            parts = [_Delimiter(item.char, size, item.can_open, item.can_close) for size in sizes]
        for part in parts:
            resolved.append(part)
            if part.can_close:
                for depth in range(len(openers) - 1, -1, -1):
                    opener = cast(_Delimiter, resolved[openers[depth]])
                    if opener.char == part.char and opener.size == part.size:
                        opener.role, part.role = "open", "close"
                        del openers[depth:]
                        break
            if part.role is None and part.can_open:
                openers.append(len(resolved) - 1)
    spans: list[_Span] = []
    bold = italic = 0
    for item in resolved:
        if isinstance(item, _Delimiter):
            if item.role is None:
                spans.append(_Span(item.char * item.size, bold > 0, italic > 0))
            elif item.size == 2:
                bold += 1 if item.role == "open" else -1
            else:
                italic += 1 if item.role == "open" else -1
            continue
        for span in [item] if isinstance(item, _Span) else item:
            spans.append(
                replace(span, bold=span.bold or bold > 0, italic=span.italic or italic > 0)
            )
    return _merged(spans)


def _merged(spans: list[_Span]) -> list[_Span]:
    merged: list[_Span] = []
    for span in spans:
        if not span.text:
            continue
        if merged and replace(merged[-1], text="") == replace(span, text=""):
            merged[-1] = replace(span, text=merged[-1].text + span.text)
        else:
            merged.append(span)
    return merged


def _plain(spans: Sequence[_Span]) -> str:
    return "".join(span.text for span in spans)


# --- blocks --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Heading:
    level: int
    text: str


@dataclass(frozen=True, slots=True)
class _Paragraph:
    text: str
    style: Literal["body", "quote", "continue"] = "body"
    level: int = 1


@dataclass(frozen=True, slots=True)
class _ListItem:
    kind: Literal["bullet", "number", "check"]
    level: int
    text: str
    start: int = 1
    checked: bool = False


@dataclass(frozen=True, slots=True)
class _Table:
    header: list[str]
    alignments: list[str | None]
    rows: list[list[str]]


@dataclass(frozen=True, slots=True)
class _Image:
    alt: str
    target: str


@dataclass(frozen=True, slots=True)
class _Rule:
    pass


@dataclass(frozen=True, slots=True)
class _Code:
    lines: list[str]


_Block = _Heading | _Paragraph | _ListItem | _Table | _Image | _Rule | _Code

_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")
_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))??(?:[ \t]+#+)?[ \t]*$")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_BULLET = re.compile(r"^([ \t]*)([-*+])[ \t]+(.*)$")
_ORDERED = re.compile(r"^([ \t]*)(\d{1,9})[.)][ \t]+(.*)$")
_CHECK = re.compile(r"^\[([ xX])\][ \t]+(.*)$")
_QUOTE = re.compile(r"^ {0,3}>[ \t]?(.*)$")
_IMAGE = re.compile(
    r"^ {0,3}!\[((?:[^\]\\]|\\.)*)\]\([ \t]*(<[^<>]*>|[^\s()]+)"
    r"(?:[ \t]+(?:\"[^\"]*\"|'[^']*'))?[ \t]*\)[ \t]*$"
)
_ALIGNMENTS = {
    "left": WD_ALIGN_PARAGRAPH.LEFT,
    "center": WD_ALIGN_PARAGRAPH.CENTER,
    "right": WD_ALIGN_PARAGRAPH.RIGHT,
}
_PIPE = re.compile(r"(?<!\\)\|")
_SEPARATOR_CELL = re.compile(r"^:?-+:?$")


def _indent(whitespace: str) -> int:
    return len(whitespace.expandtabs(4))


def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def _joined(lines: Sequence[str]) -> str:
    """A paragraph's lines as one text: hard breaks as ``\\n``, soft ones as a space between
    Latin text and as nothing next to Chinese."""
    text = ""
    hard_break = False
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        breaks = raw.endswith("  ")
        trailing_backslashes = len(line) - len(line.rstrip("\\"))
        if trailing_backslashes % 2 == 1:
            line, breaks = line[:-1].rstrip(), True
        if text and line:
            if hard_break:
                text += "\n"
            elif not (_is_wide(text[-1]) or _is_wide(line[0])):
                text += " "
        text += line
        hard_break = breaks
    return text


def _cells(line: str) -> list[str]:
    row = line.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    return [cell.strip().replace("\\|", "|") for cell in _PIPE.split(row)]


def _table_at(lines: Sequence[str], i: int) -> tuple[list[str], list[str | None]] | None:
    """The header cells and column alignments where a table starts at ``lines[i]``."""
    if i + 1 >= len(lines) or not _PIPE.search(lines[i]) or "|" not in lines[i + 1]:
        return None
    header, separator = _cells(lines[i]), _cells(lines[i + 1])
    if len(header) != len(separator) or not all(_SEPARATOR_CELL.match(c) for c in separator):
        return None
    alignments: list[str | None] = []
    for cell in separator:
        if cell.startswith(":") and cell.endswith(":"):
            alignments.append("center")
        elif cell.endswith(":"):
            alignments.append("right")
        else:
            alignments.append("left" if cell.startswith(":") else None)
    return header, alignments


def _fitted(cells: list[str], columns: int) -> list[str]:
    if len(cells) > columns:
        cells = [*cells[: columns - 1], " | ".join(cells[columns - 1 :])]
    return cells + [""] * (columns - len(cells))


def _comment_end(lines: Sequence[str], i: int) -> tuple[int, str] | None:
    """Where a comment starting a line ends: the line index and what follows ``-->``."""
    start = lines[i].find("<!--")
    for j in range(i, len(lines)):
        close = lines[j].find("-->", start + 4 if j == i else 0)
        if close >= 0:
            return j, lines[j][close + 3 :]
    return None


def _blocks(markdown: str) -> list[_Block]:
    """The Markdown's blocks, in order; nothing in it raises."""
    lines = xml_text(markdown).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks: list[_Block] = []
    open_lines: list[str] = []
    make: Callable[[str], _Block] | None = None
    after_blank = False

    def flush() -> None:
        nonlocal make
        if make is not None:
            text = _joined(open_lines)
            if text:
                blocks.append(make(text))
        open_lines.clear()
        make = None

    def start(line: str, factory: Callable[[str], _Block]) -> None:
        nonlocal make
        flush()
        open_lines.append(line)
        make = factory

    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip():
            flush()
            after_blank = True
            continue
        if line.lstrip().startswith("<!--") and (end := _comment_end(lines, i - 1)):
            rest_at, rest = end
            i = rest_at + 1
            if rest.strip():
                lines[rest_at] = rest
                i = rest_at
            continue
        previous_blank, after_blank = after_blank, False
        if (fence := _FENCE.match(line)) and not (
            fence.group(2)[0] == "`" and "`" in fence.group(3)  # ```inline``` code is no fence
        ):
            flush()
            marker, indent = fence.group(2), len(fence.group(1))
            code: list[str] = []
            while i < len(lines):
                closing = _FENCE.match(lines[i])
                if closing and closing.group(2).startswith(marker) and not closing.group(3).strip():
                    i += 1
                    break
                code.append(re.sub(f"^ {{0,{indent}}}", "", lines[i]))
                i += 1
            blocks.append(_Code(code))
        elif heading := _HEADING.match(line):
            flush()
            blocks.append(_Heading(len(heading.group(1)), (heading.group(2) or "").strip()))
        elif _RULE.match(line):
            flush()
            blocks.append(_Rule())
        elif image := _IMAGE.match(line):
            flush()
            blocks.append(_Image(image.group(1), image.group(2).strip("<>").strip()))
        elif table := _table_at(lines, i - 1):
            flush()
            header, alignments = table
            rows: list[list[str]] = []
            i += 1
            while i < len(lines) and lines[i].strip() and _PIPE.search(lines[i]):
                if _FENCE.match(lines[i]) or _HEADING.match(lines[i]) or _QUOTE.match(lines[i]):
                    break
                rows.append(_fitted(_cells(lines[i]), len(header)))
                i += 1
            blocks.append(_Table(header, alignments, rows))
        elif quote := _QUOTE.match(line):
            content = quote.group(1)
            while nested := _QUOTE.match(content):
                content = nested.group(1)
            if not content.strip():
                flush()
            elif make is _quote:
                open_lines.append(content)
            else:
                start(content, _quote)
        elif item := _ORDERED.match(line) or _BULLET.match(line):
            level = 2 if _indent(item.group(1)) >= 2 else 1
            marker, content = item.group(2), item.group(3)
            if marker.isdigit():
                start(content, partial(_ListItem, "number", level, start=int(marker)))
            elif check := _CHECK.match(content):
                checked = check.group(1) != " "
                start(check.group(2), partial(_ListItem, "check", level, checked=checked))
            else:
                start(content, partial(_ListItem, "bullet", level))
        elif make is not None:
            open_lines.append(line)  # a paragraph's, an item's or a quote's next line
        elif (in_list := _list_level(blocks)) and previous_blank and _indent_of(line) >= 2:
            start(line, partial(_Paragraph, style="continue", level=in_list))
        else:
            start(line, _Paragraph)
    flush()
    return blocks


def _quote(text: str) -> _Block:
    return _Paragraph(text, "quote")


def _list_level(blocks: Sequence[_Block]) -> int | None:
    """The level of the list the last block is in, if it is."""
    last = blocks[-1] if blocks else None
    if isinstance(last, _ListItem | _Paragraph) and _in_list(last):
        return last.level
    return None


def _in_list(block: _Block) -> bool:
    return isinstance(block, _ListItem) or (
        isinstance(block, _Paragraph) and block.style == "continue"
    )


def _indent_of(line: str) -> int:
    return _indent(line[: len(line) - len(line.lstrip())])


# --- the document --------------------------------------------------------------------------


def _insert_border(p_pr: CT_PPr, side: str, colour: str, size: int, space: int) -> None:
    """A single-line paragraph border on ``side`` (top, left, bottom, right)."""
    borders = p_pr.find(qn("w:pBdr"))
    if borders is None:
        borders = OxmlElement("w:pBdr")
        p_pr.insert_element_before(borders, "w:shd", *_AFTER_SHD)
    line = OxmlElement(
        f"w:{side}",
        {
            qn("w:val"): "single",
            qn("w:sz"): str(size),
            qn("w:space"): str(space),
            qn("w:color"): colour,
        },
    )
    borders.append(line)


def _shading(fill: str) -> BaseOxmlElement:
    attributes = {qn("w:val"): "clear", qn("w:color"): "auto", qn("w:fill"): fill}
    return cast(BaseOxmlElement, OxmlElement("w:shd", attributes))


def _styles(document: DocxDocument, font: str, language_tag: str) -> None:
    """Add this module's styles (Hyperlink, Code), dress the Quote, and name ``font`` for
    Chinese text in every style the document uses."""
    styles = document.styles
    if HYPERLINK_STYLE not in styles:
        link = cast(
            CharacterStyle, styles.add_style(HYPERLINK_STYLE, WD_STYLE_TYPE.CHARACTER, builtin=True)
        )
        link.base_style = styles["Default Paragraph Font"]
        link.font.color.rgb = LINK_BLUE
        link.font.underline = True
        link.unhide_when_used = True
    if CODE_STYLE not in styles:
        code = cast(ParagraphStyle, styles.add_style(CODE_STYLE, WD_STYLE_TYPE.PARAGRAPH))
        code.base_style = styles["Normal"]
        code.font.name = MONOSPACE
        code.font.size = Pt(9.5)
        code.paragraph_format.space_before = code.paragraph_format.space_after = Pt(0)
        code.paragraph_format.line_spacing = 1.0
        code_pr = code.element.get_or_add_pPr()
        code_pr.insert_element_before(_shading(CODE_FILL), *_AFTER_SHD)
    if "Quote" in styles:
        quote = cast(ParagraphStyle, styles["Quote"])
        quote.paragraph_format.left_indent = Cm(0.6)
        quote.font.color.rgb = MUTED
        _insert_border(quote.element.get_or_add_pPr(), "left", RULE_COLOUR, 12, 8)

    use_east_asian_font(document, font, language_tag)
    for name in (name for name in EXTRA_STYLED if name in styles):
        set_east_asian(styles[name].element.get_or_add_rPr(), font, language_tag)


def _page(document: DocxDocument, info: DocumentInfo) -> None:
    """A4, the margins, the muted page header and the page number in the footer."""
    section = document.sections[0]
    section.page_width, section.page_height = PAGE_WIDTH, PAGE_HEIGHT
    section.left_margin = section.right_margin = MARGIN
    section.top_margin = section.bottom_margin = MARGIN
    header_text = _one_line(info.header or info.subject)
    if header_text:
        paragraph = section.header.paragraphs[0]
        paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        _muted(paragraph.add_run(header_text))
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    before, after = FOOTER_TEXTS[info.language]
    _muted(footer.add_run(before))
    for kind in ("begin", "instruction", "separate", "number", "end"):
        run = _muted(footer.add_run("1" if kind == "number" else None))
        if kind == "instruction":
            instruction = OxmlElement("w:instrText", {qn("xml:space"): "preserve"})
            instruction.text = " PAGE "
            run._r.append(instruction)
        elif kind != "number":
            run._r.append(OxmlElement("w:fldChar", {qn("w:fldCharType"): kind}))
    if after:
        _muted(footer.add_run(after))


def _muted(run: Run) -> Run:
    run.font.color.rgb = MUTED
    run.font.size = Pt(9)
    return run


def _one_line(text: str) -> str:
    return " ".join(xml_text(text).split())


def _properties(document: DocxDocument, info: DocumentInfo) -> None:
    properties = document.core_properties
    properties.title = _one_line(info.title)[:255]
    properties.subject = _one_line(info.subject)[:255]
    properties.keywords = _one_line(", ".join(info.keywords))[:255]
    properties.language = LANGUAGE_TAGS[info.language]
    properties.author = properties.last_modified_by = _one_line(info.author)[:255]
    properties.created = properties.modified = datetime.now(UTC).replace(tzinfo=None)
    properties.revision = 1


@dataclass(slots=True)
class _Writer:
    """Appends blocks to a document; keeps what spans blocks (numbering, the Title)."""

    document: DocxDocument
    images: Mapping[str, bytes]
    numbering: dict[int, int | None] = field(default_factory=lambda: {1: None, 2: None})
    has_title: bool = False
    after_table: bool = False

    @property
    def text_width(self) -> int:
        section = self.document.sections[0]
        width = (section.page_width or PAGE_WIDTH) - (section.left_margin or MARGIN)
        return int(width - (section.right_margin or MARGIN))

    def write(self, blocks: Sequence[_Block]) -> None:
        for block in blocks:
            if not _in_list(block):
                self.numbering = {1: None, 2: None}
            if isinstance(block, _Table):
                self.table(block)
            else:
                self.block(block)
            self.after_table = isinstance(block, _Table)

    def block(self, block: _Block) -> None:
        if isinstance(block, _Heading):
            if not block.text:
                return
            if block.level == 1 and not self.has_title:
                style = "Title"
                self.has_title = True
            else:
                style = f"Heading {max(block.level - 1, 1)}"
            self.paragraph(block.text, style)
        elif isinstance(block, _Paragraph):
            self.text_paragraph(block)
        elif isinstance(block, _ListItem):
            self.list_item(block)
        elif isinstance(block, _Image):
            self.image(block)
        elif isinstance(block, _Rule):
            paragraph = self.document.add_paragraph()
            paragraph.paragraph_format.space_after = Pt(6)
            _insert_border(paragraph._p.get_or_add_pPr(), "bottom", RULE_COLOUR, 6, 1)
        elif isinstance(block, _Code):
            for line in block.lines or [""]:
                paragraph = self.document.add_paragraph(style=CODE_STYLE)
                if line:
                    paragraph.add_run(line)
            paragraph.paragraph_format.space_after = Pt(8)

    def paragraph(self, text: str, style: str | None = None) -> Paragraph:
        paragraph = self.document.add_paragraph(style=style)
        self.spans(paragraph, _inline(text))
        return paragraph

    def text_paragraph(self, block: _Paragraph) -> None:
        if block.style == "body":
            self.paragraph(block.text)
        elif block.style == "continue":
            self.paragraph(block.text, "List Continue" if block.level == 1 else "List Continue 2")
        elif "Quote" in self.document.styles:
            self.paragraph(block.text, "Quote")
        else:
            paragraph = self.paragraph(block.text)
            paragraph.paragraph_format.left_indent = Cm(0.6)
            for run in paragraph.runs:
                run.font.color.rgb = MUTED

    def list_item(self, block: _ListItem) -> None:
        level = block.level
        if level == 1:
            self.numbering[2] = None
        if block.kind == "check":
            self.numbering[level] = None
            paragraph = self.document.add_paragraph(style="List Paragraph")
            indent = Cm(0.635 * level)
            paragraph.paragraph_format.left_indent = indent
            paragraph.paragraph_format.first_line_indent = -Cm(0.635)
            paragraph.paragraph_format.tab_stops.add_tab_stop(indent)
            paragraph.add_run(f"{CHECKBOXES[block.checked]}\t")
            self.spans(paragraph, _inline(block.text))
        elif block.kind == "bullet":
            self.numbering[level] = None
            self.paragraph(block.text, "List Bullet" if level == 1 else "List Bullet 2")
        else:
            style = "List Number" if level == 1 else "List Number 2"
            paragraph = self.paragraph(block.text, style)
            num_id = self.numbering[level]
            if num_id is None:
                num_id = self.numbering[level] = self.new_list(style, block.start)
            num_pr = paragraph._p.get_or_add_pPr().get_or_add_numPr()
            num_pr.get_or_add_ilvl().val = 0
            num_pr.get_or_add_numId().val = num_id

    def new_list(self, style: str, start: int) -> int:
        """A numbering instance of ``style``'s list that starts at ``start``: python-docx's
        styles share one, so without this every list would go on counting."""
        numbering = self.document.part.numbering_part.element
        style_num_id = self.document.styles[style].element.pPr.numPr.numId.val
        abstract_id = numbering.num_having_numId(style_num_id).abstractNumId.val
        num = numbering.add_num(abstract_id)
        num.add_lvlOverride(ilvl=0).add_startOverride(start)
        return int(num.numId)

    def spans(self, paragraph: Paragraph, spans: Sequence[_Span], *, bold: bool = False) -> None:
        for link, group in itertools.groupby(spans, key=lambda span: span.link):
            hyperlink = None
            if link is not None:
                r_id = self.document.part.relate_to(
                    link, RELATIONSHIP_TYPE.HYPERLINK, is_external=True
                )
                hyperlink = OxmlElement("w:hyperlink", {qn("r:id"): r_id, qn("w:history"): "1"})
                paragraph._p.append(hyperlink)
            for span in group:
                run = paragraph.add_run(span.text)
                if span.bold or bold:
                    run.bold = True
                if span.italic:
                    run.italic = True
                if span.code:
                    run.font.name = MONOSPACE
                if hyperlink is not None:
                    run.style = HYPERLINK_STYLE
                    hyperlink.append(run._r)

    def table(self, block: _Table) -> None:
        if self.after_table:  # Word would join two tables that touch
            self.document.add_paragraph()
        header = [_inline(cell) for cell in block.header]
        rows = [[_inline(cell) for cell in row] for row in block.rows]
        table: Table = self.document.add_table(
            rows=1 + len(rows), cols=len(header), style=TABLE_STYLE
        )
        widths = self.column_widths([header, *rows])
        for column, width in zip(table.columns, widths, strict=True):
            column.width = width
        for row_index, (row, cells) in enumerate(zip(table.rows, [header, *rows], strict=True)):
            total = row_index > 0 and _is_total(cells[0])
            for cell, spans, alignment, width in zip(
                row.cells, cells, block.alignments, widths, strict=True
            ):
                cell.width = width
                paragraph = cell.paragraphs[0]
                if alignment is not None:
                    paragraph.alignment = _ALIGNMENTS[alignment]
                self.spans(paragraph, spans, bold=row_index == 0)
                if total:
                    _shade(cell, TOTAL_ROW_FILL)
        repeat_header(table)

    def column_widths(self, rows: Sequence[Sequence[Sequence[_Span]]]) -> list[Length]:
        """Widths in proportion to each column's longest line (wide characters count twice),
        within bounds, together the text width."""
        weights = []
        for column in zip(*rows, strict=True):
            longest = max(
                (_display_width(line) for spans in column for line in _plain(spans).split("\n")),
                default=0,
            )
            weights.append(min(max(longest, 4), 36))
        total = sum(weights)
        return [Emu(self.text_width * weight // total) for weight in weights]

    def image(self, block: _Image) -> None:
        alt = _inline(block.alt)
        if _WEB_URL.match(block.target):
            url = _safe_url(block.target)
            spans = [replace(span, link=url) for span in alt or [_Span(block.target)]]
            self.spans(self.document.add_paragraph(), spans)
            return
        data, width, height = _picture(block.target, self.images)
        scale = min(1.0, min(self.text_width, MAX_IMAGE_WIDTH) / width, MAX_IMAGE_HEIGHT / height)
        paragraph = self.document.add_paragraph()
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        paragraph.paragraph_format.keep_with_next = bool(alt)
        shape = paragraph.add_run().add_picture(
            io.BytesIO(data), width=Emu(int(width * scale)), height=Emu(int(height * scale))
        )
        shape._inline.docPr.set("descr", _plain(alt))
        if alt:
            caption = self.document.add_paragraph(style="Caption")
            caption.alignment = WD_ALIGN_PARAGRAPH.CENTER
            self.spans(caption, alt)


def _display_width(text: str) -> int:
    return sum(2 if _is_wide(char) else 1 for char in text)


def _is_total(spans: Sequence[_Span]) -> bool:
    visible = [span for span in spans if span.text.strip()]
    return bool(visible) and all(span.bold for span in visible)


def _shade(cell: _Cell, fill: str) -> None:
    tc_pr = cell._tc.get_or_add_tcPr()
    tc_pr.insert_element_before(_shading(fill), *_AFTER_TC_SHD)


def _picture(name: str, images: Mapping[str, bytes]) -> tuple[bytes, int, int]:
    """The image ``name`` as bytes python-docx embeds, and its natural size in EMU."""
    data = images.get(name)
    if data is None:
        given = ", ".join(sorted(images)) or "none"
        raise MarkdownDocxError(
            f"the Markdown shows the image {name!r}, which is not among the images given ({given})"
        )
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            dpi = image.info.get("dpi", (96, 96))
            pixels = image.size
            if image.format not in ("PNG", "JPEG"):  # what Pillow reads, Word gets as PNG
                writable = image.mode in ("1", "L", "LA", "P", "RGB", "RGBA")
                buffer = io.BytesIO()
                (image if writable else image.convert("RGBA")).save(buffer, format="PNG")
                data = buffer.getvalue()
    except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as error:
        raise MarkdownDocxError(
            f"the image {name!r} is not an image Pillow can read (PNG or JPEG expected): {error}"
        ) from error
    if pixels[0] < 1 or pixels[1] < 1:
        raise MarkdownDocxError(f"the image {name!r} has no pixels")
    sizes = []
    for count, resolution in zip(pixels, dpi, strict=False):
        per_inch = float(resolution) if 30 <= float(resolution) <= 2400 else 96.0
        sizes.append(int(count / per_inch * EMU_PER_INCH))
    return data, sizes[0], sizes[1]


def build_document(
    markdown: str,
    info: DocumentInfo,
    *,
    images: Mapping[str, bytes] | None = None,
    east_asian_font: str = DEFAULT_EAST_ASIAN_FONT,
) -> DocxDocument:
    """The Markdown as a python-docx ``Document`` (``markdown_to_docx`` saves it).

    ``images`` holds the pictures ``![alt](name)`` refers to, by name; ``east_asian_font``
    is the font named for Chinese text (a reader without it gets a similar one).
    """
    document = Document()
    _styles(document, east_asian_font, LANGUAGE_TAGS[info.language])
    _page(document, info)
    _properties(document, info)
    _Writer(document, images or {}).write(_blocks(markdown))
    return document


def markdown_to_docx(
    markdown: str,
    info: DocumentInfo,
    *,
    images: Mapping[str, bytes] | None = None,
    east_asian_font: str = DEFAULT_EAST_ASIAN_FONT,
) -> bytes:
    """The Markdown as .docx bytes; see ``build_document``."""
    buffer = io.BytesIO()
    build_document(markdown, info, images=images, east_asian_font=east_asian_font).save(buffer)
    return buffer.getvalue()
