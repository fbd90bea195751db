"""OTLP trace ingest: from an HTTP body to committed spans and an OTLP answer.

The project of each ``ResourceSpans`` is the one named by its ``corral.project`` resource
attribute (checked against the key), or else the single project the key is limited to. Groups
the key may not write are rejected and reported the OTLP way (``partial_success``); a request
where nothing could be accepted fails with the reason instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from corral.core.access import Principal, authorize, resolve_project
from corral.core.normalize import NormalizedSpan, normalize_span
from corral.core.otlp import Encoding, decode_groups, decompress, encoding_of, parse_request
from corral.core.runtime import Runtime
from corral.core.span_store import record_spans
from corral.db.schema import ProjectRow
from corral.errors import CorralError, InvalidRequest
from corral.schemas.access import Permission

PROJECT_ATTRIBUTE = "corral.project"
"""Resource attribute naming the project spans belong to."""

_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_SPAN_ID = re.compile(r"^[0-9a-f]{16}$")
_NULL_TRACE = "0" * 32
_NULL_SPAN = "0" * 16


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
    groups = decode_groups(parse_request(data, encoding))
    problems: list[str] = []
    first_error: CorralError | None = None
    rejected = 0
    by_project: dict[int, list[NormalizedSpan]] = {}
    with rt.db.read() as uow:
        resolved: dict[str | None, ProjectRow | CorralError] = {}
        for group in groups:
            if not group.spans:
                continue
            name = group.resource.get(PROJECT_ATTRIBUTE)
            key = None if name is None else str(name)
            if key not in resolved:
                resolved[key] = _target_project(uow, actor, key)
            target = resolved[key]
            if isinstance(target, CorralError):
                rejected += len(group.spans)
                first_error = first_error or target
                problems.append(f"{len(group.spans)} spans: {target.message}")
                continue
            spans = by_project.setdefault(target.id, [])
            bad_ids = 0
            for span in group.spans:
                if not _valid_ids(span.trace_id, span.span_id, span.parent_span_id):
                    bad_ids += 1
                    continue
                spans.append(normalize_span(span, group.resource))
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


def _valid_ids(trace_id: str, span_id: str, parent_span_id: str | None) -> bool:
    return (
        _TRACE_ID.fullmatch(trace_id) is not None
        and trace_id != _NULL_TRACE
        and _SPAN_ID.fullmatch(span_id) is not None
        and span_id != _NULL_SPAN
        and (parent_span_id is None or _SPAN_ID.fullmatch(parent_span_id) is not None)
    )
