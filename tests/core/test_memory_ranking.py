from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from corral.core.memory.ranking import Candidate, CorpusStats, bm25_scores, rank, recency

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def candidate(cid: int, tokens: str, context: str = "", **extra: object) -> Candidate:
    values: dict[str, object] = {
        "pinned": False,
        "importance": 0.5,
        "valid_from": NOW,
        **extra,
    }
    return Candidate(cid, tokens, context, len(tokens.split()), **values)  # type: ignore[arg-type]


STATS = CorpusStats(doc_count=100, avg_length=4.0, df={"cat": 5, "dog": 50})


def test_rarer_terms_weigh_more() -> None:
    scores = bm25_scores(
        ["cat", "dog"],
        ["t_cat", "t_dog"],
        [candidate(1, "t_cat t_x"), candidate(2, "t_dog t_x")],
        STATS,
    )
    assert scores[1][0] > scores[2][0] > 0
    assert scores[1][1] == ("cat",)


def test_context_terms_count_less_than_own_terms() -> None:
    scores = bm25_scores(
        ["cat"],
        ["t_cat"],
        [candidate(1, "t_cat t_y"), candidate(2, "t_y t_z", context="cat"), candidate(3, "t_y")],
        STATS,
    )
    assert scores[1][0] > scores[2][0] > scores[3][0] == 0
    assert scores[2][1] == ()  # matched only through its context


def test_recency_halves_every_half_life() -> None:
    assert recency(NOW, NOW, 30) == 1
    assert recency(NOW - timedelta(days=30), NOW, 30) == pytest.approx(0.5)


def test_boosts_and_breakdown() -> None:
    items = [candidate(1, "t_cat"), candidate(2, "t_cat", pinned=True)]
    lexical = bm25_scores(["cat"], ["t_cat"], items, STATS)
    ranked = rank(items, lexical, None, now=NOW, half_life_days=30)
    assert [s.id for s in ranked] == [2, 1]
    top = ranked[0]
    assert top.score == pytest.approx(
        top.relevance * top.recency_factor * top.pinned_factor * top.importance_factor
    )


def test_dense_fusion_reorders_close_lexical_neighbours_only() -> None:
    items = [candidate(1, "t_cat"), candidate(2, "t_cat t_x"), candidate(3, "t_cat t_x t_y")]
    lexical = bm25_scores(["cat"], ["t_cat"], items, STATS)
    plain = rank(items, lexical, None, now=NOW, half_life_days=30)
    fused = rank(items, lexical, {1: 0.1, 2: 0.0, 3: 0.9}, now=NOW, half_life_days=30)
    assert [s.id for s in plain] == [1, 2, 3]
    assert [s.id for s in fused] == [1, 3, 2]  # dense weighs half as much as BM25's rank
    assert fused[1].dense == 0.9
