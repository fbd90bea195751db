"""CPU cost of turning an OTLP/HTTP export into Corral's canonical spans, per span.

    python bench/decode.py            # best of 200 rounds
    python bench/decode.py --quick    # best of 20

The export is bench/ingest.py's: 50 traces of one ``invoke_agent`` root and 10 children
alternating ``chat`` and ``execute_tool`` (550 spans) as OTLP protobuf. In this process, on one
thread, times what ingest does with a body before the store: the protobuf parse, then decode +
normalize (the resource's attributes and ``normalize_spans``: ids checked, attributes read,
dialects mapped onto the canonical columns). The same export as OTLP/JSON is parsed too, for
comparison. Each figure is the best round (the least disturbed by other work on the machine),
with the median beside it. Prints a table, then one line of JSON.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from google.protobuf import json_format

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table

from corral.core.normalize import normalize_spans
from corral.core.otlp import attributes_of, parse_request
from corral.testing.traces import TraceShape, agent_trace_request

TARGET_US = 8.0
"""Decode + normalize, per span, on this export."""


def decode_normalize(request: Any) -> int:
    stored = 0
    for group in request.resource_spans:
        spans, _ = normalize_spans(group, attributes_of(group.resource.attributes))
        stored += len(spans)
    return stored


def timings(work: Callable[[], object], rounds: int, spans: int) -> tuple[float, float]:
    """Best and median of ``rounds`` runs, in microseconds per span."""
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        work()
        times.append((time.perf_counter() - began) / spans * 1e6)
    return min(times), statistics.median(times)


def otlp_json(request: Any) -> bytes:
    """The export as OTLP/JSON, with hex ids as the specification writes them."""
    document = json_format.MessageToDict(request)
    for group in document["resourceSpans"]:
        for scope in group["scopeSpans"]:
            for span in scope["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return json.dumps(document).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="Best of 20 rounds.")
    parser.add_argument("--rounds", type=int, help="Rounds per figure (default 200).")
    parser.add_argument("--traces-per-post", type=int, default=50)
    args = parser.parse_args()
    rounds = args.rounds or (20 if args.quick else 200)
    request = agent_trace_request(args.traces_per_post, shape=TraceShape(project="bench"), seed=1)
    body = request.SerializeToString()
    spans = decode_normalize(request)
    json_body = otlp_json(request)
    assert decode_normalize(parse_request(json_body, "json")) == spans

    parse = timings(lambda: parse_request(body, "protobuf"), rounds, spans)
    parsed = parse_request(body, "protobuf")
    normalize = timings(lambda: decode_normalize(parsed), rounds, spans)
    total = timings(lambda: decode_normalize(parse_request(body, "protobuf")), rounds, spans)
    json_rounds = max(3, rounds // 10)
    from_json = timings(
        lambda: decode_normalize(parse_request(json_body, "json")), json_rounds, spans
    )

    print_table(
        f"OTLP export to canonical spans ({spans} spans, best / median of {rounds} rounds)",
        [
            ("protobuf parse", f"{parse[0]:.2f}", f"{parse[1]:.2f}"),
            ("decode + normalize", f"{normalize[0]:.2f}", f"{normalize[1]:.2f}"),
            ("protobuf body to spans", f"{total[0]:.2f}", f"{total[1]:.2f}"),
            (
                f"OTLP/JSON body to spans ({json_rounds} rounds)",
                f"{from_json[0]:.2f}",
                f"{from_json[1]:.2f}",
            ),
        ],
        ("what", "best us/span", "median us/span"),
    )
    print(f"target: decode + normalize <= {TARGET_US:.0f} us per span")
    print(
        json.dumps(
            {
                "bench": "decode",
                "quick": args.quick,
                "spans": spans,
                "rounds": rounds,
                "parse_us_per_span": round(parse[0], 2),
                "decode_normalize_us_per_span": round(normalize[0], 2),
                "decode_normalize_median_us_per_span": round(normalize[1], 2),
                "body_to_spans_us_per_span": round(total[0], 2),
                "json_body_to_spans_us_per_span": round(from_json[0], 2),
                "target_us": TARGET_US,
            }
        )
    )


if __name__ == "__main__":
    main()
