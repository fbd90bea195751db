"""The price of an LLM call, from the price table of the pinned ``genai-prices`` package.

The package ships its data snapshot; Corral never fetches prices at run time, so a cost computed
today is computed the same way tomorrow. Each result names the price version it used
(``genai-prices==<version>``), stored beside the cost so history never changes meaning when the
table is upgraded.

Token rules follow the providers' bills: ``input_tokens`` counts every input token, of which
``cache_read_tokens`` and ``cache_write_tokens`` are billed at their own rates; ``output_tokens``
counts every output token, of which ``reasoning_tokens`` are billed at the reasoning rate where a
model has one (else at the output rate).

Pricing sits on the ingest path, so the per-model rates are resolved once and applied with a
few multiplications; usage past a model's tier threshold goes through the package itself.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from importlib.metadata import version
from typing import Any, Protocol

PRICE_SOURCE = "genai-prices"


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Token counts of one call. Cache and reasoning counts are parts of the input and output
    totals, not additions to them."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True, slots=True)
class CostResult:
    usd: float
    price_version: str
    provider: str
    model: str


class PriceBook(Protocol):
    """Anything that prices calls. Workspace overrides with effective dates implement this and
    fall back to :class:`GenaiPriceBook`."""

    def price_call(
        self, provider: str | None, model: str, usage: TokenUsage, at: datetime
    ) -> CostResult | None: ...


@dataclass(frozen=True, slots=True)
class _Rates:
    """Per-token USD rates of one model price, valid up to ``linear_up_to`` input tokens."""

    source: Any
    input: Decimal
    cache_read: Decimal
    cache_write: Decimal
    output: Decimal
    reasoning: Decimal
    linear_up_to: float


class GenaiPriceBook:
    """Prices from the ``genai-prices`` data snapshot bundled with the installed package."""

    def __init__(self) -> None:
        from genai_prices import data_snapshot

        self._snapshot = data_snapshot.get_snapshot()
        self.version = f"{PRICE_SOURCE}=={version('genai-prices')}"
        self._models: dict[tuple[str | None, str], Any] = {}
        self._rates: dict[int, _Rates] = {}
        self._lock = threading.Lock()

    def price_call(
        self, provider: str | None, model: str, usage: TokenUsage, at: datetime
    ) -> CostResult | None:
        """The cost of one call, or None when the table does not know the model."""
        found = self._find(provider, model)
        if found is None:
            return None
        provider_info, model_info = found
        model_price = model_info.get_prices(at.astimezone(UTC))
        rates = self._rates_for(model_price)
        if usage.input_tokens <= rates.linear_up_to:
            usd = (
                rates.input * usage.input_tokens
                + rates.cache_read * usage.cache_read_tokens
                + rates.cache_write * usage.cache_write_tokens
                + rates.output * usage.output_tokens
                + rates.reasoning * usage.reasoning_tokens
            )
        else:
            usd = _exact_price(model_price, usage)
        return CostResult(float(usd), self.version, provider_info.id, model_info.id)

    def _find(self, provider: str | None, model: str) -> tuple[Any, Any] | None:
        key = (provider.lower() if provider else None, model.lower())
        try:
            return self._models[key]  # type: ignore[no-any-return]
        except KeyError:
            pass
        try:
            found = self._snapshot.find_provider_model(model, None, key[0], None)
        except LookupError:
            found = None
            if key[0] is not None:  # an unknown provider name: let the model name decide
                try:
                    found = self._snapshot.find_provider_model(model, None, None, None)
                except LookupError:
                    found = None
        with self._lock:
            self._models[key] = found
        return found

    def _rates_for(self, model_price: Any) -> _Rates:
        cached = self._rates.get(id(model_price))
        if cached is not None and cached.source is model_price:
            return cached
        base_in = _exact_price(model_price, TokenUsage(input_tokens=1))
        base_out = _exact_price(model_price, TokenUsage(output_tokens=1))
        rates = _Rates(
            source=model_price,
            input=base_in,
            cache_read=_exact_price(model_price, TokenUsage(input_tokens=1, cache_read_tokens=1))
            - base_in,
            cache_write=_exact_price(model_price, TokenUsage(input_tokens=1, cache_write_tokens=1))
            - base_in,
            output=base_out,
            reasoning=_exact_price(model_price, TokenUsage(output_tokens=1, reasoning_tokens=1))
            - base_out,
            linear_up_to=_first_tier(model_price),
        )
        with self._lock:
            self._rates[id(model_price)] = rates
        return rates


def _exact_price(model_price: Any, usage: TokenUsage) -> Decimal:
    from genai_prices import Usage

    values: dict[str, int] = {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
    }
    if usage.cache_read_tokens:
        values["cache_read_tokens"] = usage.cache_read_tokens
    if usage.cache_write_tokens:
        values["cache_write_tokens"] = usage.cache_write_tokens
    if usage.reasoning_tokens:
        values["output_reasoning_tokens"] = usage.reasoning_tokens
    total: Decimal = model_price.calc_price(Usage(**values))["total_price"]
    return total


def _first_tier(model_price: Any) -> float:
    from genai_prices.types import TieredPrices

    starts = [
        tier.start
        for value in vars(model_price).values()
        if isinstance(value, TieredPrices)
        for tier in value.tiers
    ]
    return float(min(starts)) if starts else float("inf")


_default_book: GenaiPriceBook | None = None
_default_lock = threading.Lock()


def default_price_book() -> GenaiPriceBook:
    """The process-wide price book (loading the table takes a moment, so it is done once)."""
    global _default_book
    if _default_book is None:
        with _default_lock:
            if _default_book is None:
                _default_book = GenaiPriceBook()
    return _default_book


def price_call(
    provider: str | None, model: str, usage: TokenUsage, at: datetime
) -> CostResult | None:
    """The cost of one call at ``at`` from the bundled price table; None for unknown models."""
    return default_price_book().price_call(provider, model, usage, at)
