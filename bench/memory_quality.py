"""Retrieval quality of memory recall on LoCoMo, beside plain BM25 (bm25s) on the same items.

    python bench/memory_quality.py [--data PATH] [--database-url URL] [--dense] [--quick]

Task (see the data's README): each conversation is one project, each turn one item
"Speaker: text" (remembered in order, with its session as ``session``), each question of
categories 1-4 a query. recall@10 is the share of a question's evidence turns in the top 10;
nDCG@10 uses binary relevance. Corral's figures come from its real recall service; the reference
is bm25s with its English stop words, no stemming, on the same item texts. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, scratch_runtime

from corral.core.memory.recall import RecallQuery, recall
from corral.core.memory.remember import remember_many
from corral.core.projects import create_project
from corral.schemas.memory import MemoryItemCreate
from corral.schemas.tenancy import ProjectCreate

DEFAULT_DATA = REPO.parent / "shared" / "data" / "locomo" / "locomo_dev.json"
CATEGORIES = {1, 2, 3, 4}
K = 10


def conversations(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise SystemExit(
            f"LoCoMo data not found at {path}; pass --data PATH (see the benchmark's docstring)."
        )
    data: list[dict[str, Any]] = json.loads(path.read_text())
    return data


def turns(conversation: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(dialogue id, session, "Speaker: text") of every turn, in order."""
    out = []
    talk = conversation["conversation"]
    sessions = sorted(
        (k for k, v in talk.items() if k.startswith("session_") and isinstance(v, list)),
        key=lambda k: int(k.split("_")[1]),
    )
    for session in sessions:
        for turn in talk[session]:
            out.append((turn["dia_id"], session, f"{turn['speaker']}: {turn['text']}"))
    return out


def scores(ranked: list[str], evidence: set[str]) -> tuple[float, float]:
    top = ranked[:K]
    found = len(evidence & set(top)) / len(evidence)
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(top) if d in evidence)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(evidence), K)))
    return found, dcg / ideal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--database-url", help="Run on this (empty) database instead of SQLite.")
    parser.add_argument("--dense", action="store_true", help="Enable the wordllama dense stage.")
    parser.add_argument("--quick", action="store_true", help="First conversation only.")
    args = parser.parse_args()
    data = conversations(args.data)[: 1 if args.quick else None]

    import bm25s

    encoder = "wordllama" if args.dense else "none"
    corral_r, corral_n, ref_r, ref_n = [], [], [], []
    timings: list[float] = []
    with scratch_runtime(args.database_url, memory_dense_encoder=encoder) as (rt, admin, _key):
        for number, conversation in enumerate(data):
            project = f"locomo-{number}"
            create_project(rt, admin, ProjectCreate(name=project))
            rows = turns(conversation)
            items = [MemoryItemCreate(content=t, session=s, source="session") for _, s, t in rows]
            stored = remember_many(rt, admin, project, items).results
            dia_of = {r.item.id: d for r, (d, _, _) in zip(stored, rows, strict=True)}
            dia_ids = [d for d, _, _ in rows]
            texts = [t for _, _, t in rows]
            retriever = bm25s.BM25()
            retriever.index(
                bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False
            )
            for qa in conversation["qa"]:
                evidence = set(qa.get("evidence", [])) & set(dia_ids)
                if qa.get("category") not in CATEGORIES or not evidence:
                    continue
                started = time.perf_counter()
                hits = recall(rt, admin, project, RecallQuery(query=qa["question"], limit=K)).hits
                timings.append(time.perf_counter() - started)
                r, n = scores([dia_of[h.item.id] for h in hits], evidence)
                corral_r.append(r)
                corral_n.append(n)
                tokens = bm25s.tokenize([qa["question"]], stopwords="en", show_progress=False)
                found, _ = retriever.retrieve(tokens, k=min(K, len(texts)), show_progress=False)
                r, n = scores([dia_ids[i] for i in found[0]], evidence)
                ref_r.append(r)
                ref_n.append(n)
    questions = len(corral_r)
    figures = {
        "benchmark": "memory_quality",
        "dataset": args.data.name,
        "conversations": len(data),
        "questions": questions,
        "dense": args.dense,
        "database": "postgresql" if args.database_url else "sqlite",
        "corral_recall_at_10": round(sum(corral_r) / questions, 4),
        "corral_ndcg_at_10": round(sum(corral_n) / questions, 4),
        "bm25s_recall_at_10": round(sum(ref_r) / questions, 4),
        "bm25s_ndcg_at_10": round(sum(ref_n) / questions, 4),
        "corral_recall_p50_ms": round(sorted(timings)[len(timings) // 2] * 1000, 2),
    }
    print(
        f"LoCoMo turn retrieval, categories 1-4: {len(data)} conversations, {questions} questions"
    )
    print(f"{'system':<28}{'recall@10':>10}{'nDCG@10':>10}")
    name = "Corral recall" + (" + dense" if args.dense else "")
    corral_row = (figures["corral_recall_at_10"], figures["corral_ndcg_at_10"])
    reference_row = (figures["bm25s_recall_at_10"], figures["bm25s_ndcg_at_10"])
    print(f"{name:<28}{corral_row[0]:>10.3f}{corral_row[1]:>10.3f}")
    print(f"{'bm25s (reference)':<28}{reference_row[0]:>10.3f}{reference_row[1]:>10.3f}")
    p50 = figures["corral_recall_p50_ms"]
    print(f"targets: recall@10 >= 0.62, nDCG@10 >= 0.46; recall p50 {p50} ms")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
