"""What code alone can read from a conversation: numbered lines, names, commitments, due dates.

The summarizer numbers every utterance (``Line``) so the model can cite where a point comes
from, and then checks each point against the cited line with these helpers. The same helpers
make ``extractive_minutes``: minutes without any model (sentences picked by a simple score,
to-dos from commitment and date patterns), for when the model is unavailable or too slow.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date as Date
from datetime import datetime

from chat_summary.dates import DueMatch, find_due_dates
from chat_summary.types import Decision, Minutes, Todo, Utterance
from llm.guardrails import bound_text, normalize

log = logging.getLogger(__name__)

MAX_LINE_CHARS = 600
"""A line longer than this is cut in the prompt (its full text still serves as the source)."""
MAX_TASK_CHARS = 120
DEDUPE_WINDOW = 200
"""A to-do is compared with the this many before it (a long chat has thousands)."""
EXTRACTIVE_SENTENCES = 4


# --- lines ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Line:
    """One utterance with its global 1-based line number, as the model sees it."""

    number: int
    speaker: str
    text: str
    at: float | None = None
    end: float | None = None
    time: datetime | None = None

    def rendered(self, max_chars: int = MAX_LINE_CHARS) -> str:
        flat = " ".join(self.text.split())
        return f"[{self.number}] {self.speaker}: {bound_text(flat, max_chars)}"

    def reference(self, default: Date) -> Date:
        """The date relative expressions in this line resolve against: the day it was written
        (chat messages carry their time), else the conversation's reference date."""
        return self.time.date() if self.time is not None else default


def number_lines(utterances: Iterable[Utterance]) -> list[Line]:
    """The non-empty utterances as numbered lines (1, 2, ...), in order."""
    lines: list[Line] = []
    for utterance in utterances:
        text = utterance.text.strip()
        if text:
            speaker = " ".join(utterance.speaker.split()) or "?"
            lines.append(
                Line(len(lines) + 1, speaker, text, utterance.at, utterance.end, utterance.time)
            )
    return lines


# --- sentences and similarity --------------------------------------------------------------

_SENTENCE_END = re.compile(r"[。！？；!?;…]+[”’\"'」』）)]*\s*|\.+(?=\s|$)[\"')\]]*\s*|\n+")


_URL = re.compile(r"https?://\S+", re.IGNORECASE)


def sentences(text: str) -> list[str]:
    """``text`` cut into sentences, each a verbatim substring (stripped). A link's "?" or
    "." ends no sentence."""
    found: list[str] = []
    start = 0
    links = [m.span() for m in _URL.finditer(text)] if "://" in text else []
    for match in _SENTENCE_END.finditer(text):
        if any(a <= match.start() < b - 1 for a, b in links):
            continue
        piece = text[start : match.end()].strip()
        if piece:
            found.append(piece)
        start = match.end()
    rest = text[start:].strip()
    if rest:
        found.append(rest)
    return found


_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_LATIN = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
_EN_STOPWORDS = frozenset(
    """
    a an the and or but of to in on at by for with from as is are was were be been being it
    its this that these those we you he she they i me my our your their them us will would
    shall should can could may might must do does did have has had not no so if then than
    also just about into over up out all any some there here what which who whom when where
    why how i'll we'll you'll let's let ok okay yes yeah thanks thank good great well right
    """.split()  # noqa: SIM905 - a word list reads better as words
)
_ZH_STOP_CHARS = frozenset("的了是在我们你他她它这那就都也和与及或把被给吧呢啊吗嘛呀哦个")


@functools.lru_cache(maxsize=8192)
def terms(text: str) -> frozenset[str]:
    """Comparable terms of ``text``: Chinese character bigrams (and single characters of
    one-character runs) plus English words without stopwords, crudely stemmed. Cached: the
    checks compare many claims with the same source lines."""
    folded = normalize(text)
    found: set[str] = set()
    for run in _CJK.findall(folded):
        kept = "".join(c for c in run if c not in _ZH_STOP_CHARS) or run
        if len(kept) == 1:
            found.add(kept)
        found.update(kept[i : i + 2] for i in range(len(kept) - 1))
    for word in _LATIN.findall(folded):
        if word in _EN_STOPWORDS or (len(word) < 2 and not word.isdigit()):
            continue
        found.add(stem(word))
    return frozenset(found)


def stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def support(claim: str, source: str) -> float:
    """The share of ``claim``'s terms found in ``source`` (0 when the claim has none)."""
    wanted = terms(claim)
    if not wanted:
        return 0.0
    return len(wanted & terms(source)) / len(wanted)


def best_sentence(text: str, claim: str, prefer: str | None = None) -> str:
    """The sentence of ``text`` that best supports ``claim`` (one containing ``prefer``, a
    due-date expression, wins ties); the whole text when it is a single sentence."""
    options = sentences(text)
    if len(options) <= 1:
        return text.strip()

    def score(sentence: str) -> tuple[float, bool]:
        return support(claim, sentence), prefer is not None and prefer in sentence

    return max(options, key=score)


# --- names ---------------------------------------------------------------------------------


def known_names(participants: Iterable[str], lines: Sequence[Line]) -> list[str]:
    """Everyone who may own a to-do: the participants, then every speaker, without repeats."""
    names: dict[str, str] = {}
    for name in [*participants, *(line.speaker for line in lines)]:
        clean = " ".join(name.split())
        if clean and clean != "?":
            names.setdefault(normalize(clean), clean)
    return list(names.values())


@functools.lru_cache(maxsize=4096)
def _name_pattern(name: str) -> re.Pattern[str]:
    folded = re.escape(normalize(name))
    if _CJK.search(name):
        return re.compile(folded)
    return re.compile(rf"(?<![a-z0-9]){folded}(?![a-z0-9])")


@functools.lru_cache(maxsize=4096)
def _name_forms(name: str) -> tuple[str, ...]:
    """A name and, for a multi-word Latin name, its first word ("Carol" for "Carol Smith")."""
    parts = name.split()
    if len(parts) > 1 and not _CJK.search(name) and len(parts[0]) >= 3:
        return (name, parts[0])
    return (name,)


@functools.lru_cache(maxsize=64)
def _any_name(names: tuple[str, ...]) -> re.Pattern[str] | None:
    """One pattern for all of ``names``' forms: a text that matches none names nobody."""
    forms = sorted({normalize(f) for n in names for f in _name_forms(n) if f}, key=len)
    return re.compile("|".join(re.escape(f) for f in reversed(forms))) if forms else None


def mentions(text: str, names: Sequence[str]) -> list[tuple[int, int, str]]:
    """(start, end, name) for every known name in ``text``, positions in ``normalize(text)``."""
    folded = normalize(text)
    union = _any_name(tuple(names))
    if union is None or not union.search(folded):
        return []
    found: list[tuple[int, int, str]] = []
    for name in names:
        for form in _name_forms(name):
            for match in _name_pattern(form).finditer(folded):
                if not any(s < match.end() and match.start() < e for s, e, _ in found):
                    found.append((match.start(), match.end(), name))
    return sorted(found)


def match_name(candidate: str, names: Sequence[str]) -> str | None:
    """The known name ``candidate`` (a model's answer) stands for, or None: the same name, or
    a text naming exactly one known person ("张伟负责" -> 张伟)."""
    folded = normalize(candidate)
    if not folded:
        return None
    for name in names:
        if folded in {normalize(form) for form in _name_forms(name)}:
            return name
    named = {name for _, _, name in mentions(candidate, names)}
    return named.pop() if len(named) == 1 else None


# --- commitments ---------------------------------------------------------------------------

_ZH_FIRST_PERSON = re.compile(
    r"我(?!们|觉得|认为|想|看|说|听|记得|知道|同意|的|是|也觉得)(?:这边|这里)?(?:也|就|先|再)?来"
    r"|我(?!们|觉得|认为|想|看|说|听|记得|知道|同意|的|是|也觉得|正在|在(?=[查看弄改写做跑测修找忙等]))"
    r"(?:这边|这里)?[^，。！？,.!?；;]{0,12}?"
    r"(?:会|负责|去做|争取|尽快|保证|跟进|处理|准备|完成|整理|提交|修复|写|做|发|改|更新|安排|"
    r"联系|确认|搞定|补|出|给|交|把|签|订|约|谈|(?<!想)问|查|盯|催)"
)
_EN_FIRST_PERSON = re.compile(
    r"\b(?<!when\s)(?<!if\s)(?<!until\s)(?<!once\s)"
    r"(?:I\s+(?:will(?!\s+not)|shall|can(?!['’]t|not)|could(?!n)|am\s+going\s+to|plan\s+to|"
    r"need\s+to|have\s+to|must|"
    r"should|am\s+on|take|own|volunteer)|I['’](?:ll|m\s+going\s+to|m\s+on)|"
    r"let\s+me(?!\s+(?:know|think|see|guess|be))|"
    r"leave\s+it\s+(?:to|with)\s+me)\b",
    re.IGNORECASE,
)
_ZH_AFTER_NAME = re.compile(
    r"^\s*[，,]?\s*(?:你|您)?(?:也|再|还|就|先|这边|那边)?"
    r"(?:负责|来(?!了|过|自)|去(?!年|了)|会(?!上|议)|需要|要(?!求)|得|跟进|处理|准备|完成|把|"
    r"在[^，。！？,.!?]{0,10}(?:之前|以前|前|内)|尽快|帮忙|请(?!假)|修复|写|做|整理|提交|更新)"
)
_ZH_BEFORE_NAME = re.compile(r"(?:请|让|由|交给|麻烦|辛苦|安排)\s*$")
_AT_BEFORE_NAME = re.compile(r"@\s*$")
_ACTION_VERB = re.compile(
    r"负责|跟进|处理|准备|完成|整理|提交|修复|修|写|做|发|改|更新|安排|联系|确认|搞定|补|出|给|交|"
    r"看|查|验|测|对一下|牵头|跟|弄|搞|订|约|回复|答复|上传|同步|推进|评估|拉|建|评审|过一下|"
    r"打个?电话|安抚|沟通|通知|问问|催|盯|批|签|"
    r"\b(?:review|check|send|fix|update|write|prepare|draft|finish|test|verify|look|call|"
    r"email|ping|follow|share|book|schedule|file|merge|deploy|ship|own|take|handle|sync|"
    r"set\s+up|reach\s+out|get|give|pull|grab|lock|confirm|finalize|run|post)\b",
    re.IGNORECASE,
)
"""What an @-mention must be followed by to give the person a task ("@李娜 回归报告周五前发群里"),
not just to call them ("下午两点开会 @张伟 @黄婷")."""
_EN_AFTER_NAME = re.compile(
    r"^\s*,?\s*(?:(?:also|then|please|pls|plz|will\s+you)\s+)?"
    r"(?:will|['’]ll|should|needs?\s+to|has\s+to|must|is\s+going\s+to|can\s+you|could\s+you|"
    r"would\s+you|please|pls|plz|to\s+[a-z]+|owns|takes|is\s+responsible|is\s+on|handles?)\b"
)
_EN_BEFORE_NAME = re.compile(r"\b(?:ask|asks|asked|assign|assigned|have|let|tell|get)\s+$")
_ZH_OBLIGATION = re.compile(
    r"需要|必须|务必|记得|别忘了|待办|跟进|落实|负责|得(?:在|把|尽快)|"
    r"要(?:在|把|尽快|先)?(?:做|写|改|修|更新|完成|提交|准备|整理|确认|联系|发|出|补|处理|解决)"
)
_EN_OBLIGATION = re.compile(
    r"\b(?:needs?\s+(?:to|an?)|must|should|have\s+to|has\s+to|action\s+item|to-?do|"
    r"follow[-\s]up|deadline|make\s+sure|please|remember\s+to|don['’]t\s+forget)\b",
    re.IGNORECASE,
)
_DECISION = re.compile(
    r"决定|确定(?:了|下来|为|在|用|选)|已确定|最终确定|(?<![得要该没])定了|定下来|(?<![不])同意|"
    r"(?<![沟普])通过(?![邮钉微电系])|批准|就这么|拍板|敲定|(?:小会|会议|最终)结论|结论(?:是|[：:])|"
    r"(?:就|先|最终)定|定个规矩|(?<![没不还])定在|那就这样|就这样吧|就统一|那就按|按这个来|照这个来|"
    r"\b(?:decided|agreed|agree|approved|decision|we(?:['’]ll| will) go with|let['’]?s go with|"
    r"let['’]?s do (?:it|that|this)|we(?:['’]re| are) (?:dropping|going with|moving to|switching "
    r"to|sticking with|not doing)|settled on|confirmed|final call|final\s*[:：]|,\s*final\b|"
    r"^\s*ok(?:ay)?\s*[:：]|\bbut\s+no\b\s*[.!]|from\s+now\s+on|going\s+forward)",
    re.IGNORECASE,
)
_OPEN = re.compile(
    r"待定|还没确定|还不确定|未确定|尚未确定|不确定|有待|悬而未决|还没定|没有结论|"
    r"还没(?:批|确认|决定|结论|答复|回复|落实|想好|排期)|没批下来|待批|待确认|"
    r"\b(?:open\s+question|TBD|to\s+be\s+decided|(?:still\s+)?unclear|not\s+sure|undecided|"
    r"still\s+unknown|no\s+decision\s+yet|still\s+waiting\s+(?:on|for)|pending\s+approval|"
    r"haven['’]t\s+heard\s+back)\b",
    re.IGNORECASE,
)
_QUESTION = re.compile(rf"[？?]\s*$|问题是|{_OPEN.pattern}", re.IGNORECASE)


def first_person_commitment(text: str) -> bool:
    """True when the speaker commits to doing something ("我会", "我负责", "I will", "I'll")."""
    return bool(_ZH_FIRST_PERSON.search(text) or _EN_FIRST_PERSON.search(text))


def assignees(text: str, names: Sequence[str]) -> list[str]:
    """The known people ``text`` gives a task to ("张伟负责...", "请李娜...", "Carol needs to",
    "ask Dave to"), in order of appearance."""
    folded = normalize(text)
    found: list[str] = []
    for start, end, name in mentions(text, names):
        before, after = folded[:start], folded[end:]
        called = bool(_AT_BEFORE_NAME.search(before)) and _asked_to_act(after)
        if _CJK.search(name):
            hit = _ZH_AFTER_NAME.search(after) or _ZH_BEFORE_NAME.search(before) or called
        else:
            hit = (
                _EN_AFTER_NAME.search(after)
                or _EN_BEFORE_NAME.search(before)
                or _ZH_AFTER_NAME.search(after)
                or called
            )
        if hit and name not in found:
            found.append(name)
    return found


_CLAUSE_END = re.compile(r"[，。！？,!?;；\n]")


def _asked_to_act(after: str) -> bool:
    """Whether the words after an @-mention ask that person to do something: the clause that
    follows names an action and reports nothing done ("@李娜 回归报告周五前发群里", not
    "@吴涛 出事了" or "@张伟 @黄婷 会议室A")."""
    clause = _CLAUSE_END.split(after.lstrip(" ，,：:"), maxsplit=1)[0]
    while clause.lstrip().startswith("@"):  # "@张伟 @黄婷 ...": the words after the last one
        parts = clause.lstrip().split(maxsplit=1)
        clause = parts[1] if len(parts) > 1 else ""
    return bool(_ACTION_VERB.search(clause)) and not is_done(clause)


def is_decision(text: str) -> bool:
    return bool(_DECISION.search(text))


def is_question(text: str) -> bool:
    """A question, or a sentence saying something is still open."""
    return bool(_QUESTION.search(text))


def is_open_point(text: str) -> bool:
    """A sentence saying in so many words that something is still open ("审核时间还不确定",
    "the budget is still an open question"); a plain question is often answered next."""
    return bool(_OPEN.search(text))


_ZH_DONE = re.compile(
    r"已经|已(?:发|完成|上线|修复|提交|处理|搞定|改|更新|合并|确认|转|通知|联系|安排)|"
    r"刚(?:刚|才)?(?:发|改|提|弄|修|做|写|传|转)|"
    r"(?:改|写|做|发|弄|提|交|更新|整理|搞|修|补|订|约|签|转|传|放|打|试|见|聊|谈|问|看|去|用)"
    r"(?:了|过|好了|完了)(?![解么吗呢吧])"
)
_ZH_DONE_CLAUSE = re.compile(r"\S{2,}(?:了|过了|好了|完了|掉了)[哈啊呀啦哦~～]*[。！!.]*\s*$")
_ZH_SPEAKER = re.compile(r"我(?!们)")
_EN_DONE = re.compile(
    r"\b(?:already|just)\s+(?:\w+ed|sent|did|done|made|wrote|shipped|got|put|built)\b|"
    r"\bI(?:['’]ve|\s+have)\s+(?:already\s+)?(?:\w+ed|sent|done|made|written|shipped|put|"
    r"built)\b|\bI\s+(?:sent|did|fixed|merged|pushed|shipped|wrote|updated|finished|completed|"
    r"uploaded|shared|posted|filed|opened|created|booked|paid)\b|"
    r"^\s*(?:done|finished|fixed|merged|shipped)\b",
    re.IGNORECASE,
)
_ASKS = re.compile(
    r"[？?]\s*\S{0,12}$|[吗呢](?:[~～。.!！]*)\s*\S{0,12}$|^\s*(?:要不要|是不是|有没有)|"
    r"谁(?:来|负责|写|做|去)|\bwho(?:['’]s| is| will| can)\b",
    re.IGNORECASE,
)
_REQUEST = re.compile(
    r"能不能|可不可以|能否|可否|麻烦|帮忙|请你|请您|辛苦|"
    r"\b(?:can|could|would|will)\s+you\b|\b(?:can|could)\s+(?:I|we)\s+get\b|\bplease\b|"
    r"\bpls\b",
    re.IGNORECASE,
)


def is_done(text: str) -> bool:
    """Whether ``text`` reports something as done ("我已经把合同发了", "I sent the deck",
    "报价单我上周五就发给他了，..."): a report, not a to-do. With a due date ("明天就发了")
    it is still one."""
    if _ZH_DONE.search(text) or _EN_DONE.search(text):
        return True
    clauses = re.split(r"[，,；;]", text)
    ended = [
        k
        for k, clause in enumerate(clauses)
        if _ZH_DONE_CLAUSE.search(clause) and (k == len(clauses) - 1 or _ZH_SPEAKER.search(clause))
    ]
    return bool(ended) and not find_due_dates(text, Date.today())


def asks(text: str) -> bool:
    """Whether ``text`` asks something ("要不要推迟？", "谁来写？", "Who owns this?") rather
    than asking someone to do something ("能不能周五前给我？", "can you review it?")."""
    plain = _URL.sub(" ", text) if "://" in text else text
    return bool(_ASKS.search(plain)) and not _REQUEST.search(plain)


_IMMEDIATE = re.compile(
    r"马上|立刻|立即|现在就|这就|\b(?:right\s+now|right\s+away|now|asap\s+now|on\s+it)\b",
    re.IGNORECASE,
)


def is_immediate(text: str) -> bool:
    """A first-person "doing it now" ("I'll post it now", "我马上改"): done in minutes, no
    to-do for the list (unless a due date says otherwise)."""
    return bool(_IMMEDIATE.search(text)) and not find_due_dates(text, Date.today())


def action_strength(text: str, names: Sequence[str]) -> int:
    """How surely ``text`` holds a to-do: 2 a commitment ("我会", "I'll") or an assignment to
    a known person, 1 an obligation ("需要", "必须", "needs to", "please"), 0 neither. A due
    date alone is no to-do ("今天我们讨论...", "we launch on April 1"), and neither is a
    report of work done or a question ("要不要推迟到周五？")."""
    if is_done(text) or asks(text):
        return 0
    named = assignees(text, names)
    if named:
        return 2
    if first_person_commitment(text):
        return 0 if is_immediate(text) else 2
    if _ZH_OBLIGATION.search(text) or _EN_OBLIGATION.search(text):
        return 1
    return 0


def owner_of(
    line: Line, sentence: str, names: Sequence[str], proposed: str | None = None
) -> str | None:
    """Who owns the to-do in ``sentence`` of ``line``: never a name outside ``names``.

    A proposed owner (the model's) stands only when the sentence agrees: it gives the task to
    that person, or that person is the speaker and commits in the first person. Otherwise the
    sentence decides: a person it gives the task to, else the speaker of a first-person
    commitment, else nobody (a request such as "必须在发布前解决" names no owner, and the
    model's guess is not evidence).
    """
    named = assignees(sentence, names)
    first_person = first_person_commitment(sentence)
    candidate = match_name(proposed, names) if proposed else None
    speaker = match_name(line.speaker, names)
    if candidate is not None and (candidate in named or (candidate == speaker and first_person)):
        return candidate
    others = [name for name in named if name != speaker]
    if others:
        return others[0]
    if first_person and speaker is not None:
        return speaker
    if named:
        return named[0]
    return None


def due_in(sentence: str, reference: Date, said: str | None = None) -> DueMatch | None:
    """The due date of a to-do in ``sentence``: the expression the model quoted when the
    sentence contains it, else the sentence's first due-date expression, else None."""
    found = find_due_dates(sentence, reference)
    if not found:
        return None
    if said:
        wanted = normalize(said)
        for match in found:
            text = normalize(match.text)
            if wanted and (wanted in text or text in wanted):
                return match
    return found[0]


_LEADING_FILLER = re.compile(
    r"^(?:(?:好的?|嗯|那|那么|另外|还有|然后|OK|Okay|Ok|Good|Right|Thanks|Thank\s+you|And|So|Also)"
    r"[，,。.!！\s]+)+",
    re.IGNORECASE,
)


def task_from_sentence(sentence: str) -> str:
    """A to-do's task worded from its source sentence (fillers and end punctuation dropped)."""
    task = _LEADING_FILLER.sub("", sentence.strip())
    task = task.rstrip("。！？!?.；;，, ")
    return bound_text(task or sentence.strip(), MAX_TASK_CHARS)


def todo_from_line(line: Line, names: Sequence[str], reference: Date) -> Todo | None:
    """A to-do read from ``line`` by patterns alone, or None when it commits nobody to
    anything: the sentence with the commitment (or the due date), its owner and due date."""
    candidates = [s for s in sentences(line.text) if action_strength(s, names) == 2]
    if not candidates:
        return None
    day = line.reference(reference)
    sentence = next((s for s in candidates if find_due_dates(s, day)), candidates[0])
    due = due_in(sentence, day)
    return Todo(
        owner=owner_of(line, sentence, names),
        task=task_from_sentence(sentence),
        due=due.date if due else None,
        due_text=due.text if due else None,
        quote=sentence,
        at=line.at,
    )


def _without_names(text: str, names: Sequence[str]) -> str:
    folded = normalize(text)
    for start, end, _ in reversed(mentions(text, names)):
        folded = folded[:start] + " " + folded[end:]
    return folded


def dedupe_todos(
    todos: Iterable[tuple[int, Todo]], names: Sequence[str] = ()
) -> list[tuple[int, Todo]]:
    """(line number, to-do) pairs in line order without repeats. A repeat is the same line
    and owner with a similar task, the same owner, task and due date wherever cited, or a
    hand-over without a date ("用户手册交给张伟吧") followed within three lines by the same
    person's own commitment on the same matter ("我本周五前把用户手册更新好"): the later,
    dated one stays."""
    ordered = sorted(todos, key=lambda item: item[0])
    dropped: set[int] = set()
    for i, (number, todo) in enumerate(ordered):
        for j in range(max(0, i - DEDUPE_WINDOW), i):
            other_number, other = ordered[j]
            if j in dropped:
                continue
            similar = max(support(todo.task, other.task), support(other.task, todo.task))
            same_owner = todo.owner == other.owner or None in (todo.owner, other.owner)
            if same_owner and (
                (number == other_number and (similar >= 0.5 or todo.quote == other.quote))
                or (similar >= 0.8 and todo.due == other.due)
            ):
                dropped.add(i)
                break
    for i, (number, todo) in enumerate(ordered):
        for j in range(i + 1, len(ordered)):
            later_number, later = ordered[j]
            if i in dropped or j in dropped or later_number - number > 3:
                continue
            if (
                todo.owner is not None
                and todo.owner == later.owner
                and todo.due is None
                and later.due is not None
                and support(_without_names(todo.task, names), later.quote) >= 0.3
            ):
                dropped.add(i)
    return [item for i, item in enumerate(ordered) if i not in dropped]


# --- extractive minutes --------------------------------------------------------------------

_GREETING = re.compile(
    r"^(?:大家好|谢谢|好的|好|嗯|收到|OK|ok|Okay|Thanks|Thank you|Good morning|Hi|Hello)"
    r"[^。！？.!?]{0,12}[。！？.!?]?$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class _Sentence:
    line: Line
    text: str
    order: int


def _all_sentences(lines: Sequence[Line]) -> list[_Sentence]:
    found: list[_Sentence] = []
    for line in lines:
        for text in sentences(line.text):
            found.append(_Sentence(line, text, len(found)))
    return found


def _sentence_scores(items: Sequence[_Sentence], reference: Date) -> list[float]:
    frequency: Counter[str] = Counter()
    for item in items:
        frequency.update(terms(item.text))
    scores = []
    for item in items:
        own = terms(item.text)
        if not own or _GREETING.match(item.text.strip()):
            scores.append(0.0)
            continue
        weight = sum(math.log(1 + frequency[t]) for t in own) / math.sqrt(len(own))
        if is_decision(item.text):
            weight *= 1.6
        if find_due_dates(item.text, item.line.reference(reference)):
            weight *= 1.3
        if len(item.text) < 8:
            weight *= 0.5
        scores.append(weight)
    return scores


def keywords_of(lines: Sequence[Line], limit: int = 6) -> list[str]:
    """Frequent terms: Chinese 2-4 character sequences seen at least twice (the longest
    form of each), English words seen at least twice (or the most frequent ones)."""
    text = "\n".join(line.text for line in lines)
    counts: Counter[str] = Counter()
    for run in _CJK.findall(text):
        for size in (2, 3, 4):
            for i in range(len(run) - size + 1):
                gram = run[i : i + size]
                if not (_ZH_STOP_CHARS & {gram[0], gram[-1]}):
                    counts[gram] += 1
    for word in re.findall(r"[A-Za-z][A-Za-z0-9-]{3,}", text):
        if word.lower() not in _EN_STOPWORDS:
            counts[word.lower()] += 1
    names = {normalize(line.speaker) for line in lines}
    frequent = [(g, n) for g, n in counts.items() if n >= 2 and normalize(g) not in names]
    # Keep the longest form: drop a gram inside a longer one seen as often.
    kept = [
        (g, n)
        for g, n in frequent
        if not any(g != other and g in other and m >= n for other, m in frequent)
    ]
    kept.sort(key=lambda item: (-item[1] * len(item[0]) ** 0.5, item[0]))
    return [g for g, _ in kept[:limit]]


def extractive_minutes(
    lines: Sequence[Line],
    *,
    language: str,
    names: Sequence[str],
    reference: Date,
) -> Minutes:
    """Minutes without a model, labelled ``method="extractive"``: the best-scoring sentences
    as the summary (in order, with their speakers), decisions and open questions by pattern,
    to-dos from commitments and assignments, keywords by frequency."""
    items = _all_sentences(lines)
    scores = _sentence_scores(items, reference)
    count = min(EXTRACTIVE_SENTENCES, max(1, len(items) // 4))
    ranked = sorted(range(len(items)), key=lambda i: -scores[i])
    chosen = sorted(i for i in ranked[:count] if scores[i] > 0)
    summary = "\n".join(f"{items[i].line.speaker}: {items[i].text}" for i in chosen)

    decisions = [
        Decision(text=item.text, quote=item.text, at=item.line.at)
        for item in items
        if is_decision(item.text) and not is_question(item.text)
    ][:5]
    questions = list(
        dict.fromkeys(item.text for item in items if is_question(item.text) and len(item.text) > 4)
    )[:5]
    todos: list[tuple[int, Todo]] = []
    for line in lines:
        todo = todo_from_line(line, names, reference)
        if todo is not None:
            todos.append((line.number, todo))
    log.info("extractive minutes: %d sentences, %d to-dos", len(chosen), len(todos))
    return Minutes(
        language=language,
        summary=summary,
        decisions=tuple(decisions),
        keywords=tuple(keywords_of(lines)),
        todos=tuple(todo for _, todo in dedupe_todos(todos, names)),
        open_questions=tuple(questions),
        method="extractive",
    )
