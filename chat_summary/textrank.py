"""TextRank over sentences: the sentences most other sentences of a topic echo.

Each sentence is a node; two sentences are linked by the words they share, normalised by their
lengths (Mihalcea and Tarau's similarity: |A ∩ B| / (log|A| + log|B|)); PageRank on that graph
scores each sentence. The graph is quadratic in its sentences, so a large topic is first cut
down to the sentences closest to its overall word profile (``preselect``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

DAMPING = 0.85
ITERATIONS = 30
TOLERANCE = 1e-4
MAX_NODES = 60


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    shared = len(a & b)
    if not shared:
        return 0.0
    return shared / (math.log(len(a) + 1) + math.log(len(b) + 1))


def rank(sentences: Sequence[frozenset[str]]) -> list[float]:
    """The TextRank score of each sentence (a sentence without links scores 1 - DAMPING)."""
    count = len(sentences)
    if count == 0:
        return []
    edges: list[list[tuple[int, float]]] = [[] for _ in range(count)]
    for i in range(count):
        if not sentences[i]:
            continue
        for j in range(i + 1, count):
            weight = similarity(sentences[i], sentences[j])
            if weight > 0:
                edges[i].append((j, weight))
                edges[j].append((i, weight))
    out = [sum(w for _, w in links) for links in edges]
    scores = [1.0] * count
    for _ in range(ITERATIONS):
        updated = [
            (1 - DAMPING) + DAMPING * sum(scores[j] * w / out[j] for j, w in edges[i] if out[j])
            for i in range(count)
        ]
        change = max(abs(a - b) for a, b in zip(updated, scores, strict=True))
        scores = updated
        if change < TOLERANCE:
            break
    return scores


def preselect(
    sentences: Sequence[frozenset[str]], profile: dict[str, float], limit: int = MAX_NODES
) -> list[int]:
    """Indices of the ``limit`` sentences that weigh most in ``profile`` (a topic's word
    weights), per word so long sentences do not win by length alone; in order."""
    if len(sentences) <= limit:
        return list(range(len(sentences)))

    def weight(i: int) -> float:
        words = sentences[i]
        return sum(profile.get(w, 0.0) for w in words) / math.sqrt(len(words)) if words else 0.0

    best = sorted(range(len(sentences)), key=lambda i: -weight(i))[:limit]
    return sorted(best)
