"""SDK overhead per span on the agent's thread, beside the plain OpenTelemetry SDK.

    python bench/sdk.py            # 50,000 spans per measurement, best of 5
    python bench/sdk.py --quick

Measures the time an agent spends in ``with corral.tool("lookup_order"):`` (inside a
``corral.session``), against ``with tracer.start_as_current_span(...)`` with the same GenAI
attributes on a plain OpenTelemetry ``TracerProvider`` with a ``BatchSpanProcessor``. Both export
to a no-op exporter, so only the agent's side is timed; a third row has Corral unreachable (the
spans are dropped and counted, the agent does not wait). Prints a table, then one line of JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import free_port, print_table

import corral

TARGET_US = 30.0


class DiscardingExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def per_span_us(body: Callable[[int], None], spans: int, repeats: int) -> float:
    """Best of ``repeats`` runs of ``spans`` spans, in microseconds per span."""
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        body(spans)
        best = min(best, (time.perf_counter() - began) / spans * 1e6)
    return best


def plain_opentelemetry(spans: int) -> None:
    tracer = _plain_tracer
    for _ in range(spans):
        with tracer.start_as_current_span(
            "execute_tool lookup_order",
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "lookup_order",
            },
        ):
            pass


def corral_sdk(spans: int) -> None:
    with corral.session("bench-session", user="u-1"):
        for _ in range(spans):
            with corral.tool("lookup_order"):
                pass


def main() -> None:
    global _plain_tracer
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 spans per measurement.")
    parser.add_argument("--spans", type=int, help="Spans per measurement (default 50,000).")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    spans = args.spans or (5_000 if args.quick else 50_000)
    queue = max(spans + 1, 2048)  # neither side may drop spans while measured

    provider = TracerProvider()
    provider.add_span_processor(
        BatchSpanProcessor(DiscardingExporter(), max_queue_size=queue, schedule_delay_millis=50)
    )
    _plain_tracer = provider.get_tracer("bench")
    plain = per_span_us(plain_opentelemetry, spans, args.repeats)
    provider.shutdown()

    corral.configure(
        exporter=DiscardingExporter(), set_global=False, max_queue_size=queue, schedule_delay=0.05
    )
    ours = per_span_us(corral_sdk, spans, args.repeats)
    corral.shutdown()

    corral.configure(
        url=f"http://127.0.0.1:{free_port()}",
        api_key="crl_x_y",
        set_global=False,
        export_timeout=0.5,
    )
    down = per_span_us(corral_sdk, spans, args.repeats)
    dropped = corral.tracing_stats().dropped
    corral.shutdown()

    print_table(
        f"Agent-thread cost per span ({spans:,} spans, best of {args.repeats})",
        [
            ("plain OpenTelemetry SDK (BatchSpanProcessor)", f"{plain:.1f}"),
            ("corral.tool() in a corral.session()", f"{ours:.1f}"),
            ("corral.tool(), Corral unreachable", f"{down:.1f}"),
        ],
        ("what", "us per span"),
    )
    print(
        f"target: corral <= {TARGET_US:.0f} us per span; spans dropped while unreachable: {dropped}"
    )
    print(
        json.dumps(
            {
                "bench": "sdk",
                "quick": args.quick,
                "spans": spans,
                "plain_otel_us_per_span": round(plain, 2),
                "corral_us_per_span": round(ours, 2),
                "corral_unreachable_us_per_span": round(down, 2),
                "dropped_while_unreachable": dropped,
                "target_us": TARGET_US,
            }
        )
    )


_plain_tracer = None

if __name__ == "__main__":
    main()
