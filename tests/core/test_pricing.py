"""Prices from the pinned genai-prices table, with cache and reasoning tokens by their rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from genai_prices import Usage, calc_price
from hypothesis import given, settings
from hypothesis import strategies as st

from corral.core.pricing import TokenUsage, price_call

AT = datetime(2026, 1, 1, tzinfo=UTC)


def reference(provider: str, model: str, usage: TokenUsage) -> float:
    values = {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens}
    if usage.cache_read_tokens:
        values["cache_read_tokens"] = usage.cache_read_tokens
    if usage.cache_write_tokens:
        values["cache_write_tokens"] = usage.cache_write_tokens
    if usage.reasoning_tokens:
        values["output_reasoning_tokens"] = usage.reasoning_tokens
    result = calc_price(Usage(**values), model, provider_id=provider, genai_request_timestamp=AT)
    return float(result.total_price)


def test_cache_tokens_are_priced_at_their_own_rates() -> None:
    usage = TokenUsage(input_tokens=1_000, output_tokens=500, cache_read_tokens=600)
    result = price_call("openai", "gpt-4o", usage, AT)
    assert result is not None
    # 400 uncached at $2.5/M, 600 cache reads at $1.25/M, 500 output at $10/M.
    assert result.usd == pytest.approx(400 * 2.5e-6 + 600 * 1.25e-6 + 500 * 10e-6)
    assert result.price_version.startswith("genai-prices==")
    assert (result.provider, result.model) == ("openai", "gpt-4o")
    writes = price_call("anthropic", "claude-sonnet-4-5", TokenUsage(1_000, 0, 0, 1_000), AT)
    assert writes is not None
    assert writes.usd == pytest.approx(1_000 * 3.75e-6)


def test_tiers_past_the_threshold_use_the_package() -> None:
    big = TokenUsage(input_tokens=300_000, output_tokens=1_000)
    result = price_call("anthropic", "claude-sonnet-4-5", big, AT)
    assert result is not None
    assert result.usd == pytest.approx(reference("anthropic", "claude-sonnet-4-5", big))
    assert result.usd > 300_000 * 3e-6  # the higher tier applies to every token


def test_unknown_models_have_no_price() -> None:
    assert price_call("openai", "no-such-model-xyz", TokenUsage(10, 10), AT) is None
    # An unknown provider name falls back to the model name.
    assert price_call("my-proxy", "gpt-4o", TokenUsage(10, 10), AT) is not None


@settings(max_examples=200, deadline=None)
@given(
    model=st.sampled_from(
        [
            ("openai", "gpt-4o"),
            ("openai", "o3"),
            ("anthropic", "claude-sonnet-4-5"),
            ("google", "gemini-2.5-pro"),
            ("openai", "gpt-4o-mini"),
        ]
    ),
    input_tokens=st.integers(0, 400_000),
    output_tokens=st.integers(0, 50_000),
    data=st.data(),
)
def test_fast_path_matches_the_package(
    model: tuple[str, str], input_tokens: int, output_tokens: int, data: st.DataObject
) -> None:
    cache_read = data.draw(st.integers(0, input_tokens))
    cache_write = data.draw(st.integers(0, input_tokens - cache_read))
    reasoning = data.draw(st.integers(0, output_tokens))
    usage = TokenUsage(input_tokens, output_tokens, cache_read, cache_write, reasoning)
    result = price_call(*model, usage, AT)
    assert result is not None
    assert result.usd == pytest.approx(reference(*model, usage), rel=1e-9, abs=1e-12)
