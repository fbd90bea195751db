"""The gateway's client to the providers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from corral.server.gateway.upstream import _proxy_for_origin, proxy_for


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    _proxy_for_origin.cache_clear()
    yield monkeypatch
    _proxy_for_origin.cache_clear()


def test_providers_are_reached_through_the_proxy_the_environment_names(
    environment: pytest.MonkeyPatch,
) -> None:
    assert proxy_for("https://api.openai.com/v1/chat/completions") is None
    _proxy_for_origin.cache_clear()
    environment.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    environment.setenv("NO_PROXY", "localhost,models.internal")
    assert proxy_for("https://api.openai.com/v1/chat/completions") == "http://proxy.internal:3128"
    assert proxy_for("https://models.internal:8443/v1/messages") is None
    assert proxy_for("http://localhost:8700/v1/embeddings") is None  # no HTTP_PROXY set
