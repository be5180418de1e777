"""Diversity selection on embeddings: k-center greedy (core-set), and the
hybrid that picks a diverse subset of the most uncertain images."""
from __future__ import annotations

import numpy as np


def k_center_greedy(embeddings, k: int, selected=(), seed: int = 0) -> list[int]:
    """``k`` indices, each the point farthest (Euclidean) from everything
    chosen so far (``selected``: indices already labelled, which count as
    chosen but are not returned).  With nothing chosen, the first pick is
    random by ``seed``."""
    x = np.asarray(embeddings, dtype=np.float64)
    n = len(x)
    k = min(k, n - len(set(selected)))
    if k <= 0:
        return []
    dist = np.full(n, np.inf)
    for i in selected:
        dist = np.minimum(dist, np.linalg.norm(x - x[i], axis=1))
    out: list[int] = []
    if not len(selected):
        first = int(np.random.default_rng(seed).integers(n))
        out.append(first)
        dist = np.linalg.norm(x - x[first], axis=1)
    while len(out) < k:
        dist[list(selected)] = -1.0
        dist[out] = -1.0
        pick = int(dist.argmax())
        out.append(pick)
        dist = np.minimum(dist, np.linalg.norm(x - x[pick], axis=1))
    return out


def hybrid(scores, embeddings, k: int, candidates: int | None = None, seed: int = 0) -> list[int]:
    """Uncertain first, then diverse: the ``candidates`` (default 3k) highest
    scores, of which k-center greedy keeps ``k``; indices into the inputs,
    the most uncertain candidate first."""
    s = np.asarray(scores, dtype=np.float64)
    m = min(len(s), candidates or 3 * k)
    top = np.argsort(-s, kind="stable")[:m]
    x = np.asarray(embeddings, dtype=np.float64)[top]
    first = 0  # start from the most uncertain, not a random one
    rest = k_center_greedy(x, k - 1, selected=[first], seed=seed) if k > 1 else []
    return [int(top[i]) for i in [first] + rest][:k]
