"""OTLP trace ingest: from an HTTP body to committed spans and an OTLP answer.

The project of each ``ResourceSpans`` is the one named by its ``corral.project`` resource
attribute (checked against the key), or else the single project the key is limited to. Groups
the key may not write are rejected and reported the OTLP way (``partial_success``); a request
where nothing could be accepted fails with the reason instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from corral.core.access import Principal, authorize, resolve_project
from corral.core.normalize import NormalizedSpan, normalize_spans
from corral.core.otlp import (
    Encoding,
    attributes_of,
    decompress,
    encoding_of,
    parse_request,
    span_count,
)
from corral.core.runtime import Runtime
from corral.core.span_store import record_spans
from corral.db.schema import ProjectRow
from corral.errors import CorralError, InvalidRequest
from corral.schemas.access import Permission

PROJECT_ATTRIBUTE = "corral.project"
"""Resource attribute naming the project spans belong to."""


@dataclass(frozen=True)
class IngestOutcome:
    encoding: Encoding
    accepted: int
    duplicates: int
    rejected: int
    message: str


def ingest_otlp(
    rt: Runtime,
    actor: Principal,
    body: bytes,
    *,
    content_type: str | None,
    content_encoding: str | None,
) -> IngestOutcome:
    """Decode an OTLP/HTTP trace export, store its spans durably, and say what was kept."""
    encoding = encoding_of(content_type)
    data = decompress(body, content_encoding, max_bytes=rt.settings.otlp_max_decoded_bytes)
    groups = [
        (resource_spans, attributes_of(resource_spans.resource.attributes), count)
        for resource_spans in parse_request(data, encoding).resource_spans
        if (count := span_count(resource_spans))
    ]
    # Projects are resolved first: spans are then normalized outside the read transaction, and
    # only those of groups that may be written.
    resolved: dict[str | None, int | CorralError] = {}
    with rt.db.read() as uow:
        for _, resource, _ in groups:
            key = _project_name(resource)
            if key not in resolved:
                found = _target_project(uow, actor, key)
                resolved[key] = found if isinstance(found, CorralError) else found.id
    problems: list[str] = []
    first_error: CorralError | None = None
    rejected = 0
    by_project: dict[int, list[NormalizedSpan]] = {}
    for resource_spans, resource, count in groups:
        target = resolved[_project_name(resource)]
        if isinstance(target, CorralError):
            rejected += count
            first_error = first_error or target
            problems.append(f"{count} spans: {target.message}")
            continue
        spans, bad_ids = normalize_spans(resource_spans, resource)
        by_project.setdefault(target, []).extend(spans)
        if bad_ids:
            rejected += bad_ids
            problems.append(
                f"{bad_ids} spans have an invalid trace or span id "
                "(16-byte trace ids and 8-byte span ids, not all zero)"
            )
    if first_error is not None and not any(by_project.values()):
        raise first_error
    if rejected and not any(by_project.values()):
        raise InvalidRequest("; ".join(problems), code="invalid_spans")
    default_agent = actor.name if actor.kind == "agent" else None
    stored = record_spans(
        rt,
        [(pid, spans) for pid, spans in by_project.items() if spans],
        default_agent=default_agent,
    )
    return IngestOutcome(
        encoding=encoding,
        accepted=sum(len(b.spans) for b in stored),
        duplicates=sum(b.duplicates for b in stored),
        rejected=rejected,
        message="; ".join(problems),
    )


def _project_name(resource: dict[str, Any]) -> str | None:
    name = resource.get(PROJECT_ATTRIBUTE)
    return None if name is None else str(name)


def _target_project(uow: Session, actor: Principal, name: str | None) -> ProjectRow | CorralError:
    try:
        if name is not None:
            return resolve_project(uow, actor, name, Permission.TRACES_WRITE)
        scope = actor.project_scope()
        if scope is None or len(scope) != 1:
            raise InvalidRequest(
                "say which project these spans belong to: set the resource attribute "
                f"'{PROJECT_ATTRIBUTE}' (e.g. OTEL_RESOURCE_ATTRIBUTES={PROJECT_ATTRIBUTE}=acme), "
                "or send them with a key limited to one project.",
                code="project_required",
            )
        (project_id,) = scope
        row = uow.scalars(select(ProjectRow).where(ProjectRow.id == project_id)).one()
        authorize(actor, Permission.TRACES_WRITE, row)
        return row
    except CorralError as error:
        return error
