"""Grouping window embeddings by voice.

Agglomerative clustering (average linkage on cosine distance) builds the tree. The speaker
count is the count given, or the number of clusters where the tree is cut at ``threshold``,
minus those too small to be a speaker of their own (a cough, a door, a beep), which fold into
the nearest real one. The windows are then split into that many clusters twice, from the tree
and from a tree of the embeddings centred on the recording's mean voice, each refined by a few
rounds of reassignment to the centroids (cosine k-means); the tighter result wins. When the
count was estimated, a cluster not clearly distinct from its neighbour (``MIN_MARGIN``) means
one speaker fewer. ``smooth_flips`` relabels a lone window between two of another speaker.

Everything is numpy and scipy; the estimate works from one voice (no second speaker is
invented: the threshold and the margin must both agree) up to about eight.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import numpy.typing as npt

logger = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.3
"""Cosine distance (average linkage) above which two groups of windows are different voices.

Measured with resemblyzer on 1.5 s windows: one espeak voice never splits above 0.28; three
espeak voices separate at 0.32-0.53; the two callers of pyannote's telephone sample at 0.34.
"""
MIN_MARGIN = 0.08
"""A cluster whose windows are on average less than this much more similar (cosine) to their
own centroid than to the next is a voice split in two, not a speaker: one espeak voice split
by force gives 0.065-0.072, the telephone sample's two callers 0.095, distinct voices 0.1-0.4."""
MIN_CLUSTER_WINDOWS = 3
MIN_CLUSTER_SHARE = 0.02
"""A cluster with fewer windows than both of these limits is noise, not a speaker."""


def _unit_rows(matrix: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.asarray(matrix / np.maximum(norms, 1e-12), dtype=np.float64)


def centroids(
    embeddings: npt.NDArray[np.floating], labels: npt.NDArray[np.intp], count: int
) -> npt.NDArray[np.float64]:
    """Unit-length mean embedding of each label ``0..count-1`` (zeros for an empty label)."""
    sums = np.zeros((count, embeddings.shape[1]), dtype=np.float64)
    np.add.at(sums, labels, embeddings)
    return _unit_rows(sums)


def _compact(labels: npt.NDArray[np.intp]) -> tuple[npt.NDArray[np.intp], int]:
    """Labels renumbered ``0..k-1`` (by first occurrence) and ``k``."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse].astype(np.intp), len(first)


def _reassign(
    embeddings: npt.NDArray[np.float64],
    labels: npt.NDArray[np.intp],
    count: int,
    *,
    rounds: int = 10,
) -> npt.NDArray[np.intp]:
    for _ in range(rounds):
        centres = centroids(embeddings, labels, count)
        updated = np.argmax(embeddings @ centres.T, axis=1).astype(np.intp)
        if np.array_equal(updated, labels):
            break
        labels = updated
    return labels


def _fold_small(
    embeddings: npt.NDArray[np.float64], labels: npt.NDArray[np.intp], count: int
) -> tuple[npt.NDArray[np.intp], int]:
    """Fold clusters too small to be a speaker into their nearest large cluster."""
    sizes = np.bincount(labels, minlength=count)
    limit = max(MIN_CLUSTER_WINDOWS, MIN_CLUSTER_SHARE * len(labels))
    large = np.flatnonzero(sizes >= limit)
    if len(large) == count:
        return labels, count
    if len(large) == 0:
        return np.zeros_like(labels), 1
    centres = centroids(embeddings, labels, count)[large]
    small = ~np.isin(labels, large)
    nearest = large[np.argmax(embeddings[small] @ centres.T, axis=1)]
    labels = labels.copy()
    labels[small] = nearest
    return _compact(labels)


def _merge_closest(
    embeddings: npt.NDArray[np.float64], labels: npt.NDArray[np.intp], count: int, target: int
) -> tuple[npt.NDArray[np.intp], int]:
    """Merge the two clusters with the most similar centroids until ``target`` are left."""
    labels = labels.copy()
    while count > target:
        centres = centroids(embeddings, labels, count)
        similarity = centres @ centres.T
        np.fill_diagonal(similarity, -np.inf)
        keep, drop = sorted(np.unravel_index(int(np.argmax(similarity)), similarity.shape))
        labels[labels == drop] = keep
        labels, count = _compact(labels)
    return labels, count


def _cohesion(
    embeddings: npt.NDArray[np.float64], labels: npt.NDArray[np.intp], count: int
) -> float:
    """Mean cosine similarity of each embedding to its cluster's centroid (k-means' objective)."""
    centres = centroids(embeddings, labels, count)
    return float(np.mean(np.sum(embeddings * centres[labels], axis=1)))


def _cut_into(
    embeddings: npt.NDArray[np.float64], tree: npt.NDArray[np.float64], wanted: int
) -> tuple[npt.NDArray[np.intp], int]:
    """Exactly ``wanted`` clusters: the tree is cut ever lower until ``wanted`` clusters are
    large enough to be speakers (a lone odd window must not take a speaker's place)."""
    from scipy.cluster.hierarchy import fcluster

    for cut in range(wanted, min(len(embeddings), wanted + 12) + 1):
        labels, count = _compact(fcluster(tree, cut, criterion="maxclust") - 1)
        labels, count = _fold_small(embeddings, labels, count)
        if count >= wanted:
            return _merge_closest(embeddings, labels, count, wanted)
    return _compact(fcluster(tree, wanted, criterion="maxclust") - 1)


def _margins(
    embeddings: npt.NDArray[np.float64], labels: npt.NDArray[np.intp], count: int
) -> list[float]:
    """Per cluster: how much closer its members are to their own centroid than to the next."""
    similarity = embeddings @ centroids(embeddings, labels, count).T
    rows = np.arange(len(labels))
    own = similarity[rows, labels]
    similarity[rows, labels] = -np.inf
    gap = own - similarity.max(axis=1)
    return [float(gap[labels == label].mean()) for label in range(count)]


def _partition(
    unit: npt.NDArray[np.float64], tree: npt.NDArray[np.float64], wanted: int
) -> tuple[npt.NDArray[np.intp], int]:
    """The best of two starts for ``wanted`` clusters, each refined by cosine k-means.

    The greedy tree's top split can be lopsided (a few odd windows against the rest); the
    same cut of a tree built on embeddings centred on the recording's mean voice stresses what
    differs between speakers. The start whose refinement is tighter wins.
    """
    from scipy.cluster.hierarchy import linkage

    if wanted <= 1:
        return np.zeros(len(unit), dtype=np.intp), 1
    centred = _unit_rows(unit - unit.mean(axis=0))
    centred_tree = linkage(centred, method="average", metric="cosine")
    candidates = [_cut_into(unit, tree, wanted), _cut_into(unit, centred_tree, wanted)]
    return max(
        (_compact(_reassign(unit, start, size)) for start, size in candidates),
        key=lambda result: _cohesion(unit, *result),
    )


def cluster_embeddings(
    embeddings: npt.NDArray[np.floating],
    *,
    num_speakers: int | None = None,
    max_speakers: int = 8,
    threshold: float = DEFAULT_THRESHOLD,
) -> npt.NDArray[np.intp]:
    """A speaker index ``0..k-1`` per embedding row, numbered by first appearance.

    ``num_speakers`` fixes ``k`` (at most one per window); otherwise ``k`` is the number of
    clusters where average linkage exceeds ``threshold``, small clusters folded away, at most
    ``max_speakers``, and fewer while a cluster is not distinct enough (``MIN_MARGIN``).
    """
    from scipy.cluster.hierarchy import fcluster, linkage

    count = len(embeddings)
    if count == 0:
        return np.zeros(0, dtype=np.intp)
    if count == 1 or num_speakers == 1 or max_speakers <= 1:
        return np.zeros(count, dtype=np.intp)
    unit = _unit_rows(embeddings)
    tree = linkage(unit, method="average", metric="cosine")
    if num_speakers is not None:
        wanted = min(num_speakers, count)
    else:
        labels, wanted = _compact(fcluster(tree, threshold, criterion="distance") - 1)
        labels, wanted = _fold_small(unit, labels, wanted)
        wanted = min(wanted, max_speakers)
    labels, k = _partition(unit, tree, wanted)
    if num_speakers is None:
        while k > 1 and min(_margins(unit, labels, k)) < MIN_MARGIN:
            labels, k = _partition(unit, tree, k - 1)
    logger.debug("clustered %d windows into %d speakers", count, k)
    return labels


def smooth_flips(
    labels: npt.NDArray[np.intp], groups: Sequence[int] | npt.NDArray[np.intp]
) -> npt.NDArray[np.intp]:
    """Relabel a lone window whose neighbours on both sides, in the same group (a stretch of
    continuous speech), agree on another speaker: one 1.5 s window is too little to trust."""
    result = labels.copy()
    group_ids = np.asarray(groups)
    for index in range(1, len(labels) - 1):
        before, after = result[index - 1], labels[index + 1]
        if (
            before == after != labels[index]
            and group_ids[index - 1] == group_ids[index] == group_ids[index + 1]
        ):
            result[index] = before
    return result
