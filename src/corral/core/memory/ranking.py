"""Ranking of recall candidates: BM25 with context, fused with an optional dense score, then
recency, pinned and importance factors. Pure functions: no database, no clock.

The numbers here are fixed defaults chosen before measuring, not fitted to a benchmark:
``k1 = 0.9, b = 0.4`` are the BM25 defaults of Anserini (Lucene) for short passages.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

K1 = 0.9
B = 0.4
CONTEXT_WEIGHT = 0.3
"""How much a term of the preceding item of the same session counts, against 1 for the item's
own terms: a reply ("yes, twice last year") is found through the question it answers."""
RECENCY_WEIGHT = 0.1
PINNED_BOOST = 0.25
RRF_K = 60
DENSE_WEIGHT = 0.5


@dataclass(frozen=True)
class CorpusStats:
    """What BM25 needs to know about a project's index."""

    doc_count: int
    avg_length: float
    df: Mapping[str, int]

    def idf(self, term: str) -> float:
        df = self.df.get(term, 0)
        return math.log(1 + (self.doc_count - df + 0.5) / (df + 0.5))


@dataclass(frozen=True)
class Candidate:
    """An item as scoring sees it: its own terms (index tokens), its context terms and boosts."""

    id: int
    tokens: str
    context: str
    length: int
    pinned: bool
    importance: float
    valid_from: datetime


@dataclass(frozen=True)
class Scored:
    id: int
    score: float
    bm25: float
    dense: float | None
    relevance: float
    recency: float
    recency_factor: float
    pinned_factor: float
    importance_factor: float
    matched: tuple[str, ...]


def _count(haystack: str, needle: str) -> int:
    return f" {haystack} ".count(f" {needle} ")


def bm25_scores(
    terms: Sequence[str],
    tokens: Sequence[str],
    candidates: Sequence[Candidate],
    stats: CorpusStats,
) -> dict[int, tuple[float, tuple[str, ...]]]:
    """BM25 of each candidate, with the preceding item's terms counted at CONTEXT_WEIGHT.

    ``terms`` are the query's analysed terms and ``tokens`` the matching index tokens.
    """
    avg = stats.avg_length or 1.0
    idf = [stats.idf(term) for term in terms]
    out: dict[int, tuple[float, tuple[str, ...]]] = {}
    for candidate in candidates:
        norm = K1 * (1 - B + B * candidate.length / avg)
        score = 0.0
        matched: list[str] = []
        for term, token, weight in zip(terms, tokens, idf, strict=True):
            freq = _count(candidate.tokens, token)
            if freq:
                matched.append(term)
            if candidate.context:
                freq += CONTEXT_WEIGHT * _count(candidate.context, term)  # type: ignore[assignment]
            if freq:
                score += weight * freq * (K1 + 1) / (freq + norm)
        out[candidate.id] = (score, tuple(matched))
    return out


def recency(valid_from: datetime, now: datetime, half_life_days: float) -> float:
    """1 for an item valid from now, halving every ``half_life_days``."""
    age_days = max((now - valid_from).total_seconds(), 0.0) / 86400
    return float(0.5 ** (age_days / half_life_days))


def rank(
    candidates: Sequence[Candidate],
    lexical: Mapping[int, tuple[float, tuple[str, ...]]],
    dense: Mapping[int, float] | None,
    *,
    now: datetime,
    half_life_days: float,
) -> list[Scored]:
    """Final scores, best first (ties: newer first).

    Without the dense stage, relevance is the BM25 score. With it, relevance is reciprocal-rank
    fusion of the two rankings scaled by the best BM25 score, so that scores stay comparable in
    size to lexical ones and a pure-lexical hit keeps its place.
    """
    relevance: dict[int, float] = {c.id: lexical[c.id][0] for c in candidates}
    if dense is not None:
        by_lexical = sorted(candidates, key=lambda c: (-lexical[c.id][0], -c.id))
        by_dense = sorted(candidates, key=lambda c: (-dense.get(c.id, -1.0), -c.id))
        fused = dict.fromkeys(relevance, 0.0)
        for position, c in enumerate(by_lexical):
            if lexical[c.id][0] > 0:
                fused[c.id] += 1 / (RRF_K + position)
        for position, c in enumerate(by_dense):
            fused[c.id] += DENSE_WEIGHT / (RRF_K + position)
        scale = max(relevance.values(), default=0.0) or 1.0
        best = max(fused.values(), default=0.0) or 1.0
        relevance = {cid: scale * value / best for cid, value in fused.items()}
    out: list[Scored] = []
    for c in candidates:
        fresh = recency(c.valid_from, now, half_life_days)
        recency_factor = 1 + RECENCY_WEIGHT * fresh
        pinned_factor = 1 + PINNED_BOOST if c.pinned else 1.0
        importance_factor = 0.75 + 0.5 * c.importance
        score = relevance[c.id] * recency_factor * pinned_factor * importance_factor
        out.append(
            Scored(
                id=c.id,
                score=score,
                bm25=lexical[c.id][0],
                dense=None if dense is None else dense.get(c.id),
                relevance=relevance[c.id],
                recency=fresh,
                recency_factor=recency_factor,
                pinned_factor=pinned_factor,
                importance_factor=importance_factor,
                matched=lexical[c.id][1],
            )
        )
    out.sort(key=lambda s: (-s.score, -s.id))
    return out
