"""Topic segmentation of a group chat: which messages talk about the same thing.

Group chats interleave: people switch topics and come back to one hours later. So a topic is
a thread, not a run of consecutive messages, and each message joins the thread it belongs to:

1. A reply (a quoted message) joins its original's thread.
2. Otherwise the message is compared with the threads active in the last hours by the words
   they share (tf-idf cosine over jieba words), recent threads weighing more. The thread of
   the message just before gets a bonus when the message follows within minutes (a quick
   answer often shares no word with its question: "可以" after "周五前能给吗？").
3. A message with too few content words to compare ("收到", "好的", "+1", an emoji) follows
   the previous message's thread, unless a long silence lies between them.
4. A message that matches no thread starts a new one.

Afterwards, threads too small to be a topic join the thread they are closest to (by words,
then by time), and threads that turn out to be about the same words are merged. The cost
is linear in the messages: each one is compared only with the threads that share a word
with it (an inverted index).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from chat_summary.keywords import idf, top_words, weighted

JOIN_SIMILARITY = 0.18
"""A message joins the best-matching thread when their cosine (after recency) reaches this."""
QUICK_REPLY_S = 120.0
"""A message within this many seconds of the previous one leans to its thread ..."""
QUICK_REPLY_BONUS = 0.3
"""... by this much on the similarity scale."""
NEAR_REPLY_S = 600.0
NEAR_REPLY_BONUS = 0.15
SILENCE_S = 3 * 3600.0
"""After a silence this long, a message without content words starts afresh."""
ACTIVE_S = 12 * 3600.0
"""Threads silent for longer than this are no longer joined by similarity alone."""
RECENCY_HALF_LIFE_S = 3600.0
MIN_WORDS = 2
"""Messages with fewer content words are too short to compare."""
MIN_TOPIC_SHARE = 1 / 20
"""A thread smaller than this share of the chat (at least MIN_TOPIC_MESSAGES, at most
MAX_MIN_TOPIC_MESSAGES messages) is no topic of its own."""
MIN_TOPIC_MESSAGES = 3
MAX_MIN_TOPIC_MESSAGES = 20
ABSORB_SIMILARITY = 0.09
"""A thread too small to be a topic joins the topic it is this similar to, else the nearest."""
MERGE_SIMILARITY = 0.42
"""Two threads whose word profiles are this similar are one topic."""
DECAY = 0.8
"""Each new message of a thread scales the thread's older words by this: a thread drifts."""
MAX_THREADS_SCORED = 64
KEYWORDS = 12
"""Characteristic words kept per topic (titles use the first few)."""


@dataclass(frozen=True, slots=True)
class SegmentInput:
    """What segmentation needs of one message."""

    time: datetime
    words: Sequence[str]
    reply_to: int | None = None
    """Index (in the same sequence) of the message this one replies to."""


@dataclass(frozen=True, slots=True)
class Segment:
    """One topic: the indices of its messages (in order) and its characteristic words."""

    members: tuple[int, ...]
    keywords: tuple[str, ...]


@dataclass(slots=True)
class _Thread:
    members: list[int] = field(default_factory=list)
    vector: dict[str, float] = field(default_factory=dict)
    profile: dict[str, float] = field(default_factory=dict)
    """Undecayed word weights: what the whole thread is about."""
    last: float = 0.0

    def norm(self) -> float:
        return math.sqrt(sum(v * v for v in self.vector.values())) or 1.0


def segment(messages: Sequence[SegmentInput]) -> list[Segment]:
    """The topics of ``messages``, ordered by their first message; every message is in
    exactly one."""
    if not messages:
        return []
    weights = idf(m.words for m in messages)
    vectors = [weighted(m.words, weights) for m in messages]
    owner: list[int] = []
    threads: list[_Thread] = []
    index: dict[str, set[int]] = {}
    for i, message in enumerate(messages):
        now = message.time.timestamp()
        previous = owner[-1] if owner else None
        gap = now - messages[i - 1].time.timestamp() if i else math.inf
        chosen = _choose(i, message, vectors[i], previous, gap, now, owner, threads, index)
        if chosen is None:
            threads.append(_Thread())
            chosen = len(threads) - 1
        _add(threads[chosen], chosen, i, vectors[i], now, index)
        owner.append(chosen)
    groups = _absorb_small(threads, owner, messages)
    groups = _merge_alike(groups)
    groups.sort(key=lambda g: g.members[0])
    return [Segment(tuple(g.members), tuple(top_words(g.profile, 6))) for g in groups if g.members]


def _choose(
    i: int,
    message: SegmentInput,
    vector: dict[str, float],
    previous: int | None,
    gap: float,
    now: float,
    owner: list[int],
    threads: list[_Thread],
    index: dict[str, set[int]],
) -> int | None:
    if message.reply_to is not None and 0 <= message.reply_to < i:
        return owner[message.reply_to]
    if len(vector) < MIN_WORDS:
        if previous is not None and gap <= SILENCE_S:
            return previous
        if not vector:
            return previous
    candidates: set[int] = set()
    for word in vector:
        candidates |= index.get(word, set())
    if previous is not None:
        candidates.add(previous)
    norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
    best, best_score = None, 0.0
    recent = sorted(candidates, key=lambda t: -threads[t].last)[:MAX_THREADS_SCORED]
    for t in recent:
        thread = threads[t]
        idle = now - thread.last
        if idle > ACTIVE_S and t != previous:
            continue
        dot = sum(w * thread.vector.get(word, 0.0) for word, w in vector.items())
        score = dot / (norm * thread.norm()) * 0.5 ** (idle / RECENCY_HALF_LIFE_S / 4)
        if t == previous:
            if gap <= QUICK_REPLY_S:
                score += QUICK_REPLY_BONUS
            elif gap <= NEAR_REPLY_S:
                score += NEAR_REPLY_BONUS
        if score > best_score:
            best, best_score = t, score
    if best is not None and best_score >= JOIN_SIMILARITY:
        return best
    if len(vector) < MIN_WORDS and previous is not None:
        return previous
    return None


def _add(
    thread: _Thread,
    number: int,
    member: int,
    vector: dict[str, float],
    now: float,
    index: dict[str, set[int]],
) -> None:
    for word in thread.vector:
        thread.vector[word] *= DECAY
    for word, weight in vector.items():
        thread.vector[word] = thread.vector.get(word, 0.0) + weight
        thread.profile[word] = thread.profile.get(word, 0.0) + weight
        index.setdefault(word, set()).add(number)
    if len(thread.vector) > 200:  # keep the live profile small: drop the faded words
        for word in sorted(thread.vector, key=thread.vector.__getitem__)[:100]:
            del thread.vector[word]
    thread.members.append(member)
    thread.last = now


@dataclass(slots=True)
class _Group:
    members: list[int]
    profile: dict[str, float]

    def norm(self) -> float:
        return math.sqrt(sum(v * v for v in self.profile.values())) or 1.0


def _cosine(a: dict[str, float], b: dict[str, float], norm_a: float, norm_b: float) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b.get(word, 0.0) for word, w in a.items()) / (norm_a * norm_b)


def _absorb_small(
    threads: list[_Thread], owner: list[int], messages: Sequence[SegmentInput]
) -> list[_Group]:
    """Threads too small to be a topic join the thread they share most words with, else the
    thread nearest to them in the chat."""
    groups = [_Group(list(t.members), dict(t.profile)) for t in threads]
    if len(groups) <= 1:
        return groups
    smallest = max(
        MIN_TOPIC_MESSAGES, min(MAX_MIN_TOPIC_MESSAGES, int(len(messages) * MIN_TOPIC_SHARE))
    )
    large = [g for g in groups if len(g.members) >= smallest]
    if not large:
        return [_Group(list(range(len(messages))), _sum_profiles(groups))]
    tops = [g.profile for g in large]
    norms = [g.norm() for g in large]
    members = [sorted(g.members) for g in large]
    holders: dict[str, list[tuple[int, float]]] = {}
    for k, top in enumerate(tops):
        for word, weight in top.items():
            holders.setdefault(word, []).append((k, weight))
    for group in groups:
        if len(group.members) >= smallest:
            continue
        norm = group.norm()
        dots: dict[int, float] = {}
        for word, weight in group.profile.items():
            for k, other in holders.get(word, ()):
                dots[k] = dots.get(k, 0.0) + weight * other
        scores = {k: dot / (norm * norms[k]) for k, dot in dots.items()}
        best = max(scores, key=lambda k: (scores[k], -k)) if scores else 0
        if scores.get(best, 0.0) < ABSORB_SIMILARITY:
            best = min(range(len(large)), key=lambda k: _distance(group.members, members[k]))
        target = large[best]
        target.members.extend(group.members)
        for member in group.members:
            bisect.insort(members[best], member)
        for word, weight in group.profile.items():
            target.profile[word] = target.profile.get(word, 0.0) + weight
            # What a topic absorbed counts when the next small thread is compared with it.
            holders.setdefault(word, []).append((best, weight))
    for group in large:
        group.members.sort()
    return large


def _distance(members: Sequence[int], others: Sequence[int]) -> int:
    """How many messages lie between a group's first or last member and the closest member of
    ``others`` (sorted)."""
    best = len(others) + max(members) + 1
    for x in (members[0], members[-1]):
        at = bisect.bisect_left(others, x)
        for y in others[max(0, at - 1) : at + 1]:
            best = min(best, abs(x - y))
    return best


def _sum_profiles(groups: Sequence[_Group]) -> dict[str, float]:
    total: dict[str, float] = {}
    for group in groups:
        for word, weight in group.profile.items():
            total[word] = total.get(word, 0.0) + weight
    return total


def _top(profile: dict[str, float], count: int = 40) -> dict[str, float]:
    return dict(sorted(profile.items(), key=lambda item: -item[1])[:count])


def _merge_alike(groups: list[_Group]) -> list[_Group]:
    """Merge threads about the same words (a topic resumed after its thread went quiet):
    every pair is compared once, on each thread's strongest words, and alike pairs joined."""
    if len(groups) < 2:
        return groups
    tops = [_top(g.profile) for g in groups]
    norms = [math.sqrt(sum(v * v for v in t.values())) or 1.0 for t in tops]
    parent = list(range(len(groups)))

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for a in range(len(groups)):
        for b in range(a + 1, len(groups)):
            if _cosine(tops[a], tops[b], norms[a], norms[b]) >= MERGE_SIMILARITY:
                parent[root(b)] = root(a)
    joined: dict[int, _Group] = {}
    for k, group in enumerate(groups):
        target = joined.setdefault(root(k), _Group([], {}))
        target.members.extend(group.members)
        for word, weight in group.profile.items():
            target.profile[word] = target.profile.get(word, 0.0) + weight
    for group in joined.values():
        group.members.sort()
    return list(joined.values())
