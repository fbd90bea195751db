"""``client.findings``: silent failures Corral detected, and the detector settings."""

from __future__ import annotations

import builtins
from typing import Any

from corral.schemas.common import Page
from corral.schemas.detection import DetectorSettingsView, Finding, FindingDetail
from corral.sdk import _detection_operations as ops


class _Resource:
    def __init__(self, client: Any) -> None:
        self._client = client


class Findings(_Resource):
    """Findings of a project (loops, re-fetches, handoff cycles, ignored errors, …)."""

    def page(self, project: str, **filters: Any) -> Page[Finding]:
        """One page of findings, newest first; pass ``cursor=page.next_cursor`` for the next.

        Filters: ``type``, ``severity``, ``agent``, ``session``, ``status`` (open,
        acknowledged, resolved), ``since``, ``until`` (when first detected), ``limit``,
        ``cursor``.
        """
        return self._client.call(ops.list_findings(project, **filters))  # type: ignore[no-any-return]

    def list(self, project: str, *, limit: int = 50, **filters: Any) -> builtins.list[Finding]:
        """Up to ``limit`` findings, newest first, following pages as needed."""
        items: builtins.list[Finding] = []
        cursor = None
        while len(items) < limit:
            page = self.page(project, limit=min(500, limit - len(items)), cursor=cursor, **filters)
            items.extend(page.data)
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        return items

    def get(self, project: str, finding_id: int) -> FindingDetail:
        """A finding with its evidence spans."""
        return self._client.call(ops.get_finding(project, finding_id))  # type: ignore[no-any-return]

    def acknowledge(self, project: str, finding_id: int, *, note: str | None = None) -> Finding:
        return self._client.call(  # type: ignore[no-any-return]
            ops.set_finding_status(project, finding_id, "acknowledged", note)
        )

    def resolve(self, project: str, finding_id: int, *, note: str | None = None) -> Finding:
        return self._client.call(  # type: ignore[no-any-return]
            ops.set_finding_status(project, finding_id, "resolved", note)
        )

    def reopen(self, project: str, finding_id: int, *, note: str | None = None) -> Finding:
        return self._client.call(  # type: ignore[no-any-return]
            ops.set_finding_status(project, finding_id, "open", note)
        )

    def settings(self, project: str, *, agent: str | None = None) -> DetectorSettingsView:
        """The detector settings of a project (or of one agent in it) and what is in effect."""
        return self._client.call(ops.get_settings(project, agent))  # type: ignore[no-any-return]

    def configure(
        self,
        project: str,
        *,
        agent: str | None = None,
        unset: builtins.list[str] | None = None,
        **values: Any,
    ) -> DetectorSettingsView:
        """Set detector settings (keyword arguments) and unset others (project admins).

        ``client.findings.configure("acme", halt_on=["tool_loop"], loop_repeats=4)``
        """
        call = ops.update_settings(project, agent, values, list(unset or []))
        return self._client.call(call)  # type: ignore[no-any-return]


class AsyncFindings(_Resource):
    """The asynchronous :class:`Findings`."""

    async def page(self, project: str, **filters: Any) -> Page[Finding]:
        return await self._client.call(ops.list_findings(project, **filters))  # type: ignore[no-any-return]

    async def list(
        self, project: str, *, limit: int = 50, **filters: Any
    ) -> builtins.list[Finding]:
        items: builtins.list[Finding] = []
        cursor = None
        while len(items) < limit:
            page = await self.page(
                project, limit=min(500, limit - len(items)), cursor=cursor, **filters
            )
            items.extend(page.data)
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        return items

    async def get(self, project: str, finding_id: int) -> FindingDetail:
        return await self._client.call(ops.get_finding(project, finding_id))  # type: ignore[no-any-return]

    async def acknowledge(
        self, project: str, finding_id: int, *, note: str | None = None
    ) -> Finding:
        return await self._client.call(  # type: ignore[no-any-return]
            ops.set_finding_status(project, finding_id, "acknowledged", note)
        )

    async def resolve(self, project: str, finding_id: int, *, note: str | None = None) -> Finding:
        return await self._client.call(  # type: ignore[no-any-return]
            ops.set_finding_status(project, finding_id, "resolved", note)
        )

    async def reopen(self, project: str, finding_id: int, *, note: str | None = None) -> Finding:
        return await self._client.call(  # type: ignore[no-any-return]
            ops.set_finding_status(project, finding_id, "open", note)
        )

    async def settings(self, project: str, *, agent: str | None = None) -> DetectorSettingsView:
        return await self._client.call(ops.get_settings(project, agent))  # type: ignore[no-any-return]

    async def configure(
        self,
        project: str,
        *,
        agent: str | None = None,
        unset: builtins.list[str] | None = None,
        **values: Any,
    ) -> DetectorSettingsView:
        call = ops.update_settings(project, agent, values, list(unset or []))
        return await self._client.call(call)  # type: ignore[no-any-return]
