from __future__ import annotations

from corral.core.memory.text import content_hash, normalize, query_terms, terms


def test_normalize_ignores_case_space_and_punctuation() -> None:
    assert normalize("  Deploys happen on TUESDAYS!! ") == "deploys happen on tuesdays"
    assert content_hash("Use  PostgreSQL.") == content_hash("use postgresql")
    assert content_hash("Use PostgreSQL") != content_hash("Use MySQL")


def test_terms_stem_drop_stopwords_and_fold_accents() -> None:
    assert terms("The runners were running to the café") == ["runner", "were", "run", "cafe"]
    assert terms("Caroline's LGBTQ group") == ["carolin", "lgbtq", "group"]
    assert terms("build 2023") == ["build", "2023"]


def test_terms_are_always_plain_ascii_tokens() -> None:
    for word in terms("東京 タワー Ωmega " + "x" * 60):
        assert word.isascii()
        assert word.isalnum()
    assert terms("東京") == terms("東京")  # stable hashing


def test_query_terms_are_distinct_in_order() -> None:
    assert query_terms("cache the cache, caching now") == ["cach", "now"]
