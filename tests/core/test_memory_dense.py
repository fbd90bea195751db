"""The optional dense stage with the encoder shipped in the ``dense`` extra (a test dependency)."""

from __future__ import annotations

from pathlib import Path

from corral.core.access import Principal
from corral.core.bootstrap import bootstrap_workspace
from corral.core.keys import authenticate
from corral.core.memory.dense import load_encoder
from corral.core.memory.recall import RecallQuery, recall
from corral.core.memory.remember import remember_many
from corral.core.projects import create_project
from corral.core.runtime import Runtime
from corral.schemas.memory import MemoryItemCreate
from corral.schemas.tenancy import ProjectCreate
from corral.settings import Settings


def test_no_encoder_by_default() -> None:
    assert load_encoder("none") is None


def test_wordllama_similarity_is_semantic() -> None:
    encoder = load_encoder("wordllama")
    assert encoder is not None
    near, far = encoder.similarities("a dog barked", ["the puppy was barking", "tax returns"])
    assert near > far


def test_recall_reports_the_dense_score(database_url: str, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, database_url=database_url, memory_dense_encoder="wordllama")
    rt = Runtime.from_settings(settings)
    try:
        admin: Principal = authenticate(rt, bootstrap_workspace(rt) or "")
        create_project(rt, admin, ProjectCreate(name="dense"))
        items = [MemoryItemCreate(content=c) for c in ("my dog likes walks", "dog food prices")]
        remember_many(rt, admin, "dense", items)
        hits = recall(rt, admin, "dense", RecallQuery(query="walking the dog")).hits
        assert len(hits) == 2
        assert all(h.breakdown.dense is not None for h in hits)
        assert hits[0].item.content == "my dog likes walks"
    finally:
        rt.db.dispose()
