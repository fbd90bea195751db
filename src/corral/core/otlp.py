"""Decoding OTLP/HTTP trace export requests (protobuf or JSON, gzip or not).

Both encodings are parsed by the official OpenTelemetry protobuf classes into one
``ExportTraceServiceRequest``; its spans are then read field by field into plain Python values
(``MessageToDict`` would be about ten times slower), by ``normalize_spans`` in
:mod:`corral.core.normalize`, which maps them onto the canonical columns in the same pass; the
helpers here read resources, events and values. OTLP/JSON writes trace and span ids as hex
strings where the protobuf JSON mapping expects base64, so they are rewritten before parsing.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterable, Iterator
from typing import Any, Literal

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, Span

from corral.errors import MalformedRequest, PayloadTooLarge
from corral.schemas.common import without_nul

Encoding = Literal["protobuf", "json"]

PROTOBUF_TYPES = ("application/x-protobuf", "application/protobuf")
JSON_TYPES = ("application/json",)


def encoding_of(content_type: str | None) -> Encoding:
    """Which OTLP encoding a Content-Type names; anything else is refused with a clear 415-like
    message (as a 400: the body cannot be read)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in PROTOBUF_TYPES:
        return "protobuf"
    if media in JSON_TYPES:
        return "json"
    raise MalformedRequest(
        f"unsupported Content-Type {content_type!r}: send OTLP as 'application/x-protobuf' "
        "or 'application/json'.",
        code="unsupported_content_type",
    )


def decompress(body: bytes, content_encoding: str | None, *, max_bytes: int) -> bytes:
    """The body with gzip (or deflate) removed, refusing more than ``max_bytes`` once inflated so
    that a small compressed body cannot expand into gigabytes."""
    coding = (content_encoding or "identity").strip().lower()
    if coding in ("", "identity"):
        return body
    if coding not in ("gzip", "deflate"):
        raise MalformedRequest(
            f"unsupported Content-Encoding {content_encoding!r}: use gzip or none.",
            code="unsupported_content_encoding",
        )
    inflater = zlib.decompressobj(wbits=47 if coding == "gzip" else 15)
    try:
        data = inflater.decompress(body, max_bytes + 1)
        if len(data) > max_bytes or inflater.unconsumed_tail:
            raise PayloadTooLarge(
                f"the request inflates to more than {max_bytes} bytes; send smaller batches "
                "(the limit is CORRAL_OTLP_MAX_DECODED_BYTES).",
                details={"limit_bytes": max_bytes},
            )
        data += inflater.flush()
    except zlib.error as exc:
        raise MalformedRequest(
            f"the body is not valid {coding} data: {exc}", code="malformed_compression"
        ) from exc
    if not inflater.eof:
        raise MalformedRequest(f"the {coding} data is truncated.", code="malformed_compression")
    return data


def parse_request(data: bytes, encoding: Encoding) -> ExportTraceServiceRequest:
    """Parse an export request with the official classes, or raise :class:`MalformedRequest`."""
    request = ExportTraceServiceRequest()
    if encoding == "protobuf":
        try:
            request.ParseFromString(data)
        except DecodeError as exc:
            raise MalformedRequest(
                f"the body is not a valid OTLP protobuf ExportTraceServiceRequest: {exc}",
                code="malformed_otlp",
            ) from exc
        return request
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedRequest(f"the body is not valid JSON: {exc}", code="malformed_json") from exc
    if not isinstance(document, dict):
        raise MalformedRequest(
            "the body must be a JSON object (an OTLP ExportTraceServiceRequest).",
            code="malformed_otlp",
        )
    try:
        _hex_ids_to_base64(document)
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, AttributeError) as exc:
        raise MalformedRequest(
            f"the body is not a valid OTLP/JSON ExportTraceServiceRequest: {exc}",
            code="malformed_otlp",
        ) from exc
    return request


def span_count(resource_spans: ResourceSpans) -> int:
    """How many spans one ``ResourceSpans`` holds, over all its scopes."""
    return sum(len(scope_spans.spans) for scope_spans in resource_spans.scope_spans)


def events_of(events: Iterable[Span.Event]) -> list[dict[str, Any]]:
    """A span's events as plain values: name, time and attributes."""
    return [
        {
            "name": without_nul(event.name),
            "time_unix_nano": event.time_unix_nano,
            "attributes": attributes_of(event.attributes),
        }
        for event in events
    ]


SCALARS = frozenset(("string_value", "int_value", "bool_value", "double_value"))
"""The kinds of OTLP value that are read as they are."""


def attributes_of(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    """OTLP key/value pairs as a dict of plain values (lists and maps included).

    NUL in text becomes U+FFFD: PostgreSQL cannot store it, and telemetry is kept, not refused.
    """
    attributes = {}
    for pair in pairs:
        value = pair.value
        # Most values are text, and non-empty text can only be a string value: reading it
        # first spares the oneof lookup. Other scalars are read here too, without a call.
        item: Any = value.string_value
        if item:
            if "\x00" in item:
                item = item.replace("\x00", "\ufffd")
        else:
            kind = value.WhichOneof("value")
            item = getattr(value, kind) if kind in SCALARS else any_value(value)
        key = pair.key
        attributes[key.replace("\x00", "\ufffd") if "\x00" in key else key] = item
    return attributes


def any_value(value: AnyValue) -> Any:
    """One OTLP value as a plain value: arrays as lists, key/value lists as dicts, bytes as
    base64 text, an empty value as None."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes_of(value.kvlist_value.values)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if kind == "string_value":
        return without_nul(value.string_value)
    return getattr(value, kind)


def _hex_ids_to_base64(document: dict[str, Any]) -> None:
    for resource_spans in _items(document, "resourceSpans", "resource_spans"):
        for scope_spans in _items(resource_spans, "scopeSpans", "scope_spans"):
            for span in _items(scope_spans, "spans"):
                _rewrite_ids(span)
                for link in _items(span, "links"):
                    _rewrite_ids(link)


def _items(container: Any, *names: str) -> Iterator[dict[str, Any]]:
    if not isinstance(container, dict):
        return
    for name in names:
        values = container.get(name)
        if isinstance(values, list):
            yield from (v for v in values if isinstance(v, dict))


_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


def _rewrite_ids(obj: dict[str, Any]) -> None:
    for name in _ID_FIELDS:
        value = obj.get(name)
        if isinstance(value, str) and value:
            try:
                raw = bytes.fromhex(value)
            except ValueError as exc:
                raise ValueError(f"{name} {value!r} is not a hex id") from exc
            obj[name] = base64.b64encode(raw).decode()


def export_response(
    encoding: Encoding, *, rejected_spans: int = 0, error_message: str = ""
) -> bytes:
    """An ``ExportTraceServiceResponse`` in the request's encoding; partial success is set only
    when something was rejected or there is a warning, as the OTLP specification asks."""
    response = ExportTraceServiceResponse()
    if rejected_spans or error_message:
        response.partial_success.CopyFrom(
            ExportTracePartialSuccess(rejected_spans=rejected_spans, error_message=error_message)
        )
    if encoding == "protobuf":
        serialized: bytes = response.SerializeToString()
        return serialized
    body: dict[str, Any] = {}
    if response.HasField("partial_success"):
        body["partialSuccess"] = {
            "rejectedSpans": str(rejected_spans),
            "errorMessage": error_message,
        }
    return json.dumps(body).encode()


def encode_key_values(values: dict[str, Any]) -> list[KeyValue]:
    """Plain values as OTLP key/value pairs, lists, dicts, bytes and None included (used by
    tests, benchmarks and the SDK)."""
    pairs = []
    for key, value in values.items():
        pair = KeyValue(key=key)
        _set_any(pair.value, value)
        pairs.append(pair)
    return pairs


def _set_any(target: AnyValue, value: Any) -> None:
    if value is None:
        return  # an empty value
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int):
        target.int_value = value
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, bytes):
        target.bytes_value = value
    elif isinstance(value, list | tuple):
        target.array_value.SetInParent()  # an empty list is still a list
        for item in value:
            _set_any(target.array_value.values.add(), item)
    elif isinstance(value, dict):
        target.kvlist_value.SetInParent()
        target.kvlist_value.values.extend(encode_key_values(value))
    else:
        target.string_value = str(value)
