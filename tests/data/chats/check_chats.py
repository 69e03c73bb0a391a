#!/usr/bin/env python3
"""Consistency checks for the hand-written chat fixtures and their ground truth.

Run from the repository root:

    python tests/data/chats/check_chats.py

For every chat <name>.json with its <name>.expected.json this verifies the
structure of the chat (ids, times, replies), that every ground-truth
reference points at a real message and literally matches its text, that
owners are participants and outsiders never speak, and that every todo's
due date is what its due expression means (resolved against the date of the
message that states it, in the chat's own timezone).  Exits non-zero on any
failure.  Standard library only.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name -> (min messages, max messages, allowed UTC offsets)
CHATS = {
    "zh_product": (170, 200, {"+08:00"}),
    "zh_ops": (160, 190, {"+08:00"}),
    "en_eng": (170, 200, {"-05:00", "+00:00"}),
    "en_marketing": (160, 190, {"-05:00", "+00:00"}),
}

RANGES = {  # ground-truth list sizes
    "topics": (4, 6),
    "decisions": (4, 6),
    "non_decisions": (1, 2),
    "todos": (6, 9),
    "open_questions": (2, 4),
}

ZH_WD = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
EN_WD = {d: i for i, d in enumerate(
    ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"])}
EN_WD.update({"mon": 0, "tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3,
              "fri": 4, "sat": 5, "sun": 6})
EN_MONTHS = {m: i + 1 for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}
EN_NUM = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
          "eight": 8, "nine": 9, "ten": 10}
WEEKDAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def on_or_after(d: dt.date, wd: int) -> dt.date:
    return d + dt.timedelta(days=(wd - d.weekday()) % 7)


def next_week(d: dt.date, wd: int) -> dt.date:
    monday = d - dt.timedelta(days=d.weekday()) + dt.timedelta(days=7)
    return monday + dt.timedelta(days=wd)


def month_day(d: dt.date, month: int, day: int) -> dt.date:
    cand = dt.date(d.year, month, day)
    return cand if cand >= d else dt.date(d.year + 1, month, day)


def resolve_due(text: str, d: dt.date):
    """Resolve a due expression against message date d.

    Returns (date, weekday_or_None, rule) or None if the expression is not
    recognised.  weekday_or_None is set for weekday expressions so the caller
    can check the weekday explicitly.
    """
    t = text.strip()
    low = t.lower()
    # --- Chinese ---
    m = re.search(r"下(?:个)?(?:周|星期|礼拜)([一二三四五六日天])", t)
    if m:
        wd = ZH_WD[m.group(1)]
        return next_week(d, wd), wd, "下周X"
    m = re.search(r"(?:本|这)?(?:周|星期|礼拜)([一二三四五六日天])", t)
    if m:
        wd = ZH_WD[m.group(1)]
        return on_or_after(d, wd), wd, "周X"
    m = re.search(r"(\d{1,2})月(\d{1,2})[日号]", t)
    if m:
        return month_day(d, int(m.group(1)), int(m.group(2))), None, "M月D日"
    m = re.search(r"(\d+)天内", t)
    if m:
        return d + dt.timedelta(days=int(m.group(1))), None, "N天内"
    if "后天" in t:
        return d + dt.timedelta(days=2), None, "后天"
    if "明天" in t or "明早" in t or "明晚" in t:
        return d + dt.timedelta(days=1), None, "明天"
    if "今天" in t or "今晚" in t or "下班前" in t:
        return d, None, "今天"
    # --- English ---
    wd_re = "|".join(sorted(EN_WD, key=len, reverse=True))
    m = re.search(r"\bnext (" + wd_re + r")\b", low)
    if m:
        wd = EN_WD[m.group(1)]
        return next_week(d, wd), wd, "next <weekday>"
    m = re.search(r"\b(" + "|".join(EN_MONTHS) + r")[a-z]*\.? (\d{1,2})(?:st|nd|rd|th)?\b", low)
    if m:
        return month_day(d, EN_MONTHS[m.group(1)], int(m.group(2))), None, "<Mon> D"
    m = re.search(r"\b(\d{1,2})/(\d{1,2})\b", low)
    if m:
        return month_day(d, int(m.group(1)), int(m.group(2))), None, "M/D"
    m = re.search(r"\b(?:within|in) (\d+|" + "|".join(EN_NUM) + r") (?:business |working )?days?\b", low)
    if m:
        n = int(m.group(1)) if m.group(1).isdigit() else EN_NUM[m.group(1)]
        return d + dt.timedelta(days=n), None, "within N days"
    if re.search(r"\b(tomorrow|tmrw|tmr)\b", low):
        return d + dt.timedelta(days=1), None, "tomorrow"
    m = re.search(r"\b(?:by |on |this |before )?(" + wd_re + r")\b", low)
    if m:
        wd = EN_WD[m.group(1)]
        return on_or_after(d, wd), wd, "<weekday>"
    if re.search(r"\b(today|tonight|eod|cob|end of day|end of the day)\b", low):
        return d, None, "today/EOD"
    return None


class Checker:
    def __init__(self, name: str):
        self.name = name
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def err(self, msg: str) -> None:
        self.errors.append(msg)

    def warn(self, msg: str) -> None:
        self.warnings.append(msg)

    def check(self, cond: bool, msg: str) -> bool:
        if not cond:
            self.err(msg)
        return cond


def first_name(name: str) -> str:
    return name.split()[0]


def check_chat(name: str) -> tuple[Checker, str]:
    c = Checker(name)
    lo, hi, offsets = CHATS[name]
    chat_path = HERE / f"{name}.json"
    exp_path = HERE / f"{name}.expected.json"
    try:
        msgs = json.loads(chat_path.read_text(encoding="utf-8"))
        exp = json.loads(exp_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        c.err(f"cannot load: {e}")
        return c, ""

    # ---------- chat structure ----------
    c.check(isinstance(msgs, list), "chat is not a JSON array")
    c.check(lo <= len(msgs) <= hi, f"message count {len(msgs)} not in {lo}-{hi}")
    by_id: dict[str, dict] = {}
    index: dict[str, int] = {}
    times: list[dt.datetime] = []
    allowed_keys = {"id", "sender", "time", "text", "reply_to"}
    for i, m in enumerate(msgs):
        want = f"m{i + 1:03d}"
        if not c.check(isinstance(m, dict), f"message #{i + 1} is not an object"):
            continue
        extra = set(m) - allowed_keys
        c.check(not extra, f"{m.get('id')}: unexpected keys {sorted(extra)}")
        for k in ("id", "sender", "time", "text"):
            c.check(isinstance(m.get(k), str) and m.get(k, "").strip() != "", f"{want}: missing/empty {k}")
        mid = m.get("id")
        c.check(mid == want, f"id #{i + 1} is {mid!r}, expected {want!r}")
        c.check(mid not in by_id, f"duplicate id {mid}")
        by_id[mid] = m
        index[mid] = i
        try:
            t = dt.datetime.fromisoformat(m["time"])
        except (ValueError, TypeError, KeyError):
            c.err(f"{mid}: bad time {m.get('time')!r}")
            continue
        if not c.check(t.tzinfo is not None, f"{mid}: time has no offset"):
            continue
        off = m["time"][-6:]
        c.check(off in offsets, f"{mid}: offset {off} not one of {sorted(offsets)}")
        if times:
            c.check(t >= times[-1], f"{mid}: time {m['time']} goes backwards")
            c.check(t.utcoffset() == times[0].utcoffset(), f"{mid}: offset differs from first message")
        times.append(t)
        rt = m.get("reply_to")
        if rt is not None:
            c.check(rt in index and index[rt] < i, f"{mid}: reply_to {rt!r} is not an earlier message")
    n = len(msgs)
    days = sorted({t.date() for t in times})
    c.check(2 <= len(days) <= 3, f"chat spans {len(days)} calendar days, expected 2-3")
    for d in days:
        c.check(d.weekday() < 5, f"{d} is a weekend day, expected working days")
    n_reply = sum(1 for m in msgs if isinstance(m, dict) and m.get("reply_to"))
    ratio = n_reply / n if n else 0
    if not 0.08 <= ratio <= 0.18:
        c.err(f"reply_to ratio {ratio:.0%} outside 8-18%")
    # quiet gaps: at least one gap of >= 45 minutes inside a working day
    gaps = [(b - a) for a, b in zip(times, times[1:]) if a.date() == b.date()]
    c.check(any(g >= dt.timedelta(minutes=45) for g in gaps), "no quiet gap of 45+ minutes within a day")

    senders = [m["sender"] for m in msgs if isinstance(m, dict) and "sender" in m]
    sender_set = set(senders)
    c.check(6 <= len(sender_set) <= 8, f"{len(sender_set)} distinct senders, expected 6-8")

    # ---------- expected file ----------
    lang = exp.get("language")
    c.check(lang in ("zh", "en"), f"language {lang!r}")
    c.check(name.startswith(str(lang)), f"language {lang!r} does not match file name")
    parts = exp.get("participants", [])
    c.check(set(parts) == sender_set, f"participants {sorted(parts)} != senders {sorted(sender_set)}")
    c.check(len(parts) == len(set(parts)), "participants has duplicates")
    outsiders = exp.get("outsiders", [])
    c.check(len(outsiders) >= 1, "no outsiders listed")
    all_text = "\n".join(m.get("text", "") for m in msgs if isinstance(m, dict))
    for o in outsiders:
        c.check(o not in sender_set, f"outsider {o!r} is a sender")
        c.check(o not in parts, f"outsider {o!r} is listed as participant")
        c.check(o in all_text, f"outsider {o!r} never mentioned in the chat")
        for p in parts:
            c.check(o != first_name(p), f"outsider {o!r} collides with participant {p!r}")

    for key in ("topics", "decisions", "non_decisions", "todos", "non_todos", "open_questions", "links", "files"):
        c.check(isinstance(exp.get(key), list), f"expected.{key} missing or not a list")
    for key, (a, b) in RANGES.items():
        k = len(exp.get(key, []))
        c.check(a <= k <= b, f"{key}: {k} entries, expected {a}-{b}")
    c.check(len(exp.get("non_todos", [])) >= 2, "need at least 2 non_todos (distractors)")

    def ref(item: dict, where: str) -> dict | None:
        mid = item.get("message_id")
        if not c.check(mid in by_id, f"{where}: message_id {mid!r} does not exist"):
            return None
        return by_id[mid]

    def kw(item: dict, m: dict, where: str) -> None:
        kws = item.get("keywords")
        if not c.check(isinstance(kws, list) and 1 <= len(kws) <= 3, f"{where}: needs 1-3 keywords"):
            return
        for k in kws:
            c.check(isinstance(k, str) and k != "" and k in m["text"],
                    f"{where}: keyword {k!r} not in {m['id']} text {m['text']!r}")

    # topics
    topical = {mid for t in exp.get("topics", []) for mid in t.get("message_ids", [])}
    seen_topic_ids: dict[str, str] = {}
    segs_per_topic = []
    for t in exp.get("topics", []):
        tname = t.get("name")
        ids = t.get("message_ids", [])
        c.check(bool(tname), "topic without name")
        c.check(len(ids) >= 8, f"topic {tname!r}: only {len(ids)} messages")
        c.check(len(ids) == len(set(ids)), f"topic {tname!r}: duplicate ids")
        for mid in ids:
            c.check(mid in by_id, f"topic {tname!r}: message_id {mid!r} does not exist")
            c.check(mid not in seen_topic_ids, f"{mid} in two topics ({seen_topic_ids.get(mid)!r}, {tname!r})")
            seen_topic_ids[mid] = tname
        pos = sorted(index[m] for m in ids if m in index)
        # contiguous segments, ignoring untopical noise in between
        segs = 1
        for a, b in zip(pos, pos[1:]):
            if any(msgs[j]["id"] in topical for j in range(a + 1, b)):
                segs += 1
        segs_per_topic.append(segs)
    c.check(sum(1 for s in segs_per_topic if s >= 2) >= 3,
            f"topics do not interleave enough (segments per topic: {segs_per_topic})")

    # decisions / non-decisions
    dec_ids = set()
    for i, d in enumerate(exp.get("decisions", [])):
        m = ref(d, f"decision[{i}]")
        if m:
            kw(d, m, f"decision[{i}]")
            c.check(m["sender"] in parts, f"decision[{i}]: sender {m['sender']!r} not a participant")
            c.check(d["message_id"] in seen_topic_ids, f"decision[{i}] {d['message_id']} not in any topic")
            dec_ids.add(d["message_id"])
    for i, d in enumerate(exp.get("non_decisions", [])):
        m = ref(d, f"non_decision[{i}]")
        c.check(bool(d.get("why")), f"non_decision[{i}]: missing why")
        c.check(d.get("message_id") not in dec_ids, f"non_decision[{i}] is also a decision")

    # todos
    todo_ids = set()
    kinds = {"self": 0, "assigned": 0}
    n_nodue = 0
    weekday_checked = 0
    for i, td in enumerate(exp.get("todos", [])):
        where = f"todo[{i}]"
        m = ref(td, where)
        if not m:
            continue
        todo_ids.add(td["message_id"])
        kw(td, m, where)
        owner = td.get("owner")
        c.check(owner in parts, f"{where}: owner {owner!r} is not a participant")
        c.check(owner not in outsiders, f"{where}: owner {owner!r} is an outsider")
        c.check(td["message_id"] in seen_topic_ids, f"{where} {td['message_id']} not in any topic")
        if owner == m["sender"]:
            kinds["self"] += 1
        else:
            kinds["assigned"] += 1
            # an assignment must name the person asked
            c.check(owner in m["text"] or first_name(owner) in m["text"],
                    f"{where}: assignment to {owner!r} but the name is not in {m['id']} text")
        due, due_text = td.get("due"), td.get("due_text")
        if due is None:
            n_nodue += 1
            c.check(due_text is None, f"{where}: due is null but due_text is {due_text!r}")
            continue
        if not c.check(isinstance(due_text, str) and due_text in m["text"],
                       f"{where}: due_text {due_text!r} not literally in {m['id']} text"):
            continue
        try:
            due_d = dt.date.fromisoformat(due)
        except (TypeError, ValueError):
            c.err(f"{where}: bad due {due!r}")
            continue
        msg_d = dt.datetime.fromisoformat(m["time"]).date()  # date in the chat's own offset
        c.check(due_d >= msg_d, f"{where}: due {due} before message date {msg_d}")
        r = resolve_due(due_text, msg_d)
        if not c.check(r is not None, f"{where}: due_text {due_text!r} not recognised by resolver"):
            continue
        r_date, r_wd, rule = r
        c.check(r_date == due_d,
                f"{where}: {due_text!r} on {msg_d} ({rule}) resolves to {r_date}, expected file says {due}")
        if r_wd is not None:
            weekday_checked += 1
            c.check(due_d.weekday() == r_wd,
                    f"{where}: {due_text!r} means {WEEKDAY_NAMES[r_wd]} but {due} is a {WEEKDAY_NAMES[due_d.weekday()]}")
    c.check(kinds["self"] >= 2 and kinds["assigned"] >= 2, f"todo kinds unbalanced: {kinds}")
    c.check(1 <= n_nodue <= 2, f"{n_nodue} todos without due date, expected 1-2")
    c.check(len({td.get("owner") for td in exp.get("todos", [])}) >= 4, "todo owners not varied enough")

    for i, nt in enumerate(exp.get("non_todos", [])):
        ref(nt, f"non_todo[{i}]")
        c.check(bool(nt.get("why")), f"non_todo[{i}]: missing why")
        c.check(nt.get("message_id") not in todo_ids, f"non_todo[{i}] is also a todo")

    for i, oq in enumerate(exp.get("open_questions", [])):
        m = ref(oq, f"open_question[{i}]")
        if m:
            kw(oq, m, f"open_question[{i}]")
            c.check(oq["message_id"] not in dec_ids, f"open_question[{i}] is also a decision")

    # links and files: each listed one appears, and every one in the chat is listed
    links = exp.get("links", [])
    c.check(len(links) >= 3, "fewer than 3 links")
    c.check(len(links) == len(set(links)), "duplicate links")
    for u in links:
        c.check(u.startswith("https://"), f"link {u!r} is not https")
        c.check(any(u in m.get("text", "") for m in msgs), f"link {u!r} not in any message")
    found = set()
    for u in re.findall(r"https?://[^\s，。、）)\]]+", all_text):
        found.add(u.rstrip(".,;:!?"))
    for u in sorted(found - set(links)):
        c.err(f"link {u!r} appears in chat but is not in expected links")
    files = exp.get("files", [])
    c.check(len(files) >= 2, "fewer than 2 files")
    for f in files:
        c.check(f in all_text, f"file {f!r} not mentioned in chat")
    for f in re.findall(r"\[(?:文件|file)\] ?([^\s，。]+)", all_text):
        c.check(f in files, f"file {f!r} mentioned but not in expected files")

    # mentions point at participants
    names = sorted(set(parts) | {first_name(p) for p in parts}, key=len, reverse=True)
    for m in msgs:
        for mm in re.finditer(r"(?<![\w.])@(\S+)", m.get("text", "")):
            tail = mm.group(1)
            c.check(any(tail.startswith(nm) for nm in names),
                    f"{m['id']}: mention @{tail[:12]} is not a participant")

    # message length sanity (warnings only)
    if lang == "zh":
        lens = [len(m["text"]) for m in msgs]
        med = statistics.median(lens)
        if not 5 <= med <= 40:
            c.warn(f"median length {med} chars")
    else:
        lens = [len(m["text"].split()) for m in msgs]
        med = statistics.median(lens)
        if not 3 <= med <= 20:
            c.warn(f"median length {med} words")

    summary = (f"{name}: {n} msgs, {len(sender_set)} people, {len(days)} days "
               f"({days[0]}..{days[-1]}), replies {n_reply} ({ratio:.0%}); "
               f"topics {len(exp['topics'])}, decisions {len(exp['decisions'])} "
               f"(+{len(exp['non_decisions'])} non), todos {len(exp['todos'])} "
               f"(self {kinds['self']}/assigned {kinds['assigned']}, no due {n_nodue}, weekday-checked {weekday_checked}; "
               f"+{len(exp['non_todos'])} non), open questions {len(exp['open_questions'])}, "
               f"links {len(links)}, files {len(files)}")
    return c, summary


def selftest() -> None:
    """Sanity-check the due-date resolver itself against hand-computed cases."""
    mon = dt.date(2026, 11, 30)  # a Monday
    wed = dt.date(2026, 12, 2)
    cases = [
        ("今天下班前", mon, "2026-11-30"), ("明天中午前", mon, "2026-12-01"), ("周五前", mon, "2026-12-04"),
        ("周一", mon, "2026-11-30"), ("下周一前", wed, "2026-12-07"), ("下周三", mon, "2026-12-09"),
        ("3天内", wed, "2026-12-05"), ("12月4日前", mon, "2026-12-04"), ("1月5号", mon, "2027-01-05"),
        ("后天", wed, "2026-12-04"), ("by Friday", wed, "2026-12-04"), ("by Monday", wed, "2026-12-07"),
        ("next Monday", mon, "2026-12-07"), ("next Wednesday", wed, "2026-12-09"), ("EOD", wed, "2026-12-02"),
        ("tomorrow EOD", mon, "2026-12-01"), ("by Dec 4", mon, "2026-12-04"), ("within 2 days", mon, "2026-12-02"),
        ("within three days", wed, "2026-12-05"), ("by Jan 12", wed, "2027-01-12"), ("12/10", wed, "2026-12-10"),
    ]
    bad = []
    for text, d, want in cases:
        r = resolve_due(text, d)
        if r is None or r[0].isoformat() != want:
            bad.append(f"{text!r} on {d}: got {r and r[0]}, want {want}")
    if bad:
        raise SystemExit("resolver self-test failed:\n  " + "\n  ".join(bad))


def main(argv: list[str]) -> int:
    selftest()
    names = argv[1:] or list(CHATS)
    failed = 0
    for name in names:
        c, summary = check_chat(name)
        status = "OK  " if not c.errors else "FAIL"
        print(f"{status} {summary or name}")
        for w in c.warnings:
            print(f"     warning: {w}")
        for e in c.errors:
            print(f"     error: {e}")
        failed += bool(c.errors)
    print(f"{len(names) - failed}/{len(names)} chats pass")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
