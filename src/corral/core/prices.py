"""Prices with workspace overrides: your own rates for fine-tunes, negotiated discounts and
models the bundled table does not know, each valid from a date, falling back to the bundled
``genai-prices`` table. A cost records which price it used (``override:<id>`` or the package
version), so a later change of price never rewrites history."""

from __future__ import annotations

import fnmatch
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import overload

from sqlalchemy import select

from corral.core.access import Principal, authorize
from corral.core.audit import record_audit
from corral.core.lifetime import Lifetime
from corral.core.pricing import CostResult, PriceBook, TokenUsage, default_price_book
from corral.core.runtime import Runtime
from corral.db.schema import PriceOverrideRow
from corral.errors import NotFound
from corral.schemas.access import Permission
from corral.schemas.prices import PriceOverride, PriceOverrideCreate, PriceQuote

OVERRIDES_LIFETIME = Lifetime(5.0)
"""How long the overrides are kept before they are read again: every replica follows a change
within it."""


@dataclass(frozen=True)
class _Override:
    id: int
    model: str
    provider: str | None
    rates: tuple[
        float, float, float, float, float
    ]  # input, cache read, cache write, output, reasoning
    effective_from: datetime
    effective_to: datetime | None

    def applies(self, provider: str | None, model: str, at: datetime) -> bool:
        return (
            fnmatch.fnmatchcase(model, self.model)
            and (self.provider is None or self.provider == provider)
            and self.effective_from <= at
            and (self.effective_to is None or at < self.effective_to)
        )

    def price(self, usage: TokenUsage) -> float:
        inp, cache_read, cache_write, out, reasoning = self.rates
        plain_input = max(
            0, usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens
        )
        plain_output = max(0, usage.output_tokens - usage.reasoning_tokens)
        micro = (
            plain_input * inp
            + usage.cache_read_tokens * cache_read
            + usage.cache_write_tokens * cache_write
            + plain_output * out
            + usage.reasoning_tokens * reasoning
        )
        return micro / 1_000_000


class OverridingPriceBook:
    """The workspace's overrides first, then the bundled table.

    Pricing happens inside other transactions (ingest, settlement), where opening a second
    connection could exhaust the pool; so :meth:`price_call` never reads the database. Callers
    call :meth:`refresh` at a safe point before their transaction; it re-reads the overrides at
    most every few seconds, so every replica follows a change quickly.
    """

    def __init__(self, rt: Runtime, fallback: PriceBook | None = None) -> None:
        self._rt = rt
        self._fallback = fallback or default_price_book()
        self._overrides: list[_Override] = []
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    @property
    def stale(self) -> bool:
        """Whether the next :meth:`refresh` reads the overrides."""
        return OVERRIDES_LIFETIME.expired(self._age())

    @property
    def due(self) -> bool:
        """Whether to :meth:`reload` the overrides ahead (in a worker thread), so that calls
        priced on the event loop never find them stale."""
        return OVERRIDES_LIFETIME.due(self._age())

    def _age(self) -> float:
        return time.monotonic() - self._loaded_at

    def reload(self) -> None:
        """Read the overrides now. Calls meanwhile go on with the ones kept."""
        with self._lock:
            self._load()

    def refresh(self) -> OverridingPriceBook:
        """Re-read the overrides if they are stale. Call it outside any transaction."""
        self._current()
        return self

    def _current(self) -> list[_Override]:
        if self.stale:
            with self._lock:
                if self.stale:
                    self._load()
        return self._overrides

    def _load(self) -> None:
        """Read the overrides (under ``_lock``)."""
        with self._rt.db.read() as uow:
            rows = uow.scalars(
                select(PriceOverrideRow).order_by(PriceOverrideRow.effective_from.desc())
            ).all()
        self._overrides = [
            _Override(
                r.id,
                r.model,
                r.provider,
                (
                    r.input_per_mtok,
                    r.input_per_mtok if r.cache_read_per_mtok is None else r.cache_read_per_mtok,
                    r.input_per_mtok if r.cache_write_per_mtok is None else r.cache_write_per_mtok,
                    r.output_per_mtok,
                    r.output_per_mtok if r.reasoning_per_mtok is None else r.reasoning_per_mtok,
                ),
                r.effective_from,
                r.effective_to,
            )
            for r in rows
        ]
        self._loaded_at = time.monotonic()

    def invalidate(self) -> None:
        self._loaded_at = 0.0

    def price_call(
        self, provider: str | None, model: str, usage: TokenUsage, at: datetime
    ) -> CostResult | None:
        # What the last refresh loaded, never a read: this runs inside other transactions, and
        # a read here waited for a pooled connection while holding one (a deadlock under load).
        for override in self._overrides:  # newest effective date first
            if override.applies(provider, model, at):
                return CostResult(
                    override.price(usage), f"override:{override.id}", provider or "", model
                )
        return self._fallback.price_call(provider, model, usage, at)


@overload
def price_book_for(rt: Runtime) -> OverridingPriceBook: ...
@overload
def price_book_for(rt: Runtime, *, read: bool) -> OverridingPriceBook | None: ...
def price_book_for(rt: Runtime, *, read: bool = True) -> OverridingPriceBook | None:
    """The price book of a runtime (one per process, shared by ingest and the gateway),
    refreshed if stale: call it before opening a transaction, not inside one.

    Args:
        rt: The runtime.
        read: Whether it may read the database; if not (on the event loop), a stale book is
            not returned: None.
    """
    book = rt.extensions.get("price_book")
    if not isinstance(book, OverridingPriceBook):
        book = OverridingPriceBook(rt)
        rt.extensions["price_book"] = book
    if not read:
        return None if book.stale else book
    return book.refresh()


def _describe(row: PriceOverrideRow) -> PriceOverride:
    return PriceOverride(
        id=row.id,
        model=row.model,
        provider=row.provider,
        input_per_mtok=row.input_per_mtok,
        output_per_mtok=row.output_per_mtok,
        cache_read_per_mtok=row.cache_read_per_mtok,
        cache_write_per_mtok=row.cache_write_per_mtok,
        reasoning_per_mtok=row.reasoning_per_mtok,
        effective_from=row.effective_from,
        effective_to=row.effective_to,
        note=row.note,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def create_override(rt: Runtime, actor: Principal, body: PriceOverrideCreate) -> PriceOverride:
    authorize(actor, Permission.WORKSPACE_ADMIN)
    now = rt.clock.now()
    with rt.db.write() as uow:
        row = PriceOverrideRow(
            **body.model_dump(exclude={"effective_from"}),
            effective_from=body.effective_from or now,
            created_by=actor.name,
            created_at=now,
        )
        uow.add(row)
        uow.flush()
        record_audit(
            uow,
            actor=actor,
            action="price.override",
            target_kind="price",
            target_id=row.model,
            details=body.model_dump(mode="json"),
            now=now,
        )
        described = _describe(row)
    price_book_for(rt).invalidate()
    return described


def list_overrides(rt: Runtime, actor: Principal) -> list[PriceOverride]:
    with rt.db.read() as uow:
        rows = uow.scalars(select(PriceOverrideRow).order_by(PriceOverrideRow.id)).all()
    return [_describe(r) for r in rows]


def delete_override(rt: Runtime, actor: Principal, override_id: int) -> None:
    """Remove an override. Costs already recorded with it keep it (and say so)."""
    authorize(actor, Permission.WORKSPACE_ADMIN)
    with rt.db.write() as uow:
        row = uow.get(PriceOverrideRow, override_id)
        if row is None:
            raise NotFound(
                f"price override {override_id} does not exist.", code="price_override_not_found"
            )
        record_audit(
            uow,
            actor=actor,
            action="price.remove_override",
            target_kind="price",
            target_id=row.model,
            details={"id": row.id},
            now=rt.clock.now(),
        )
        uow.delete(row)
    price_book_for(rt).invalidate()


def quote(rt: Runtime, model: str, usage: TokenUsage, *, provider: str | None = None) -> PriceQuote:
    book = price_book_for(rt)
    result = book.price_call(provider, model, usage, rt.clock.now())
    return PriceQuote(
        model=model,
        provider=provider,
        usd=result.usd if result else None,
        price_version=result.price_version if result else None,
    )
