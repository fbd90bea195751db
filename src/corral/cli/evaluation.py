"""``corral eval``: precision and recall of the detectors on the generated failure scenarios."""

from __future__ import annotations

import click

from corral.cli.output import console, print_json


@click.command("eval")
@click.option(
    "--per-family",
    type=click.IntRange(1, 10_000),
    default=30,
    show_default=True,
    help="Scenarios generated per family (each detector has several families).",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed of the suite.")
@click.option(
    "--fail-under",
    type=click.FloatRange(0, 1),
    help="Exit with status 1 if any detector's precision or recall is below this.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def eval_(per_family: int, seed: int, fail_under: float | None, as_json: bool) -> None:
    """Run every detector on the generated suite — sessions that must trigger each detector
    and near misses that must not — and print precision and recall per detector. Runs
    locally: no server needed."""
    from corral.core.detection.scenarios import evaluate

    result = evaluate(per_family=per_family, seed=seed)
    scores = {
        name: {
            "positives": s.positives,
            "true_positives": s.true_positives,
            "false_positives": s.false_positives,
            "false_negatives": s.false_negatives,
            "precision": round(s.precision, 4),
            "recall": round(s.recall, 4),
        }
        for name, s in result.scores.items()
    }
    if as_json:
        print_json(
            {"scenarios": result.scenarios, "detectors": scores, "mistakes": result.mistakes}
        )
    else:
        from rich.table import Table

        table = Table(
            title=f"Generated suite: {result.scenarios} scenarios (seed {seed})",
            title_justify="left",
        )
        for column in ("detector", "positives", "TP", "FP", "FN", "precision", "recall"):
            table.add_column(column, justify="left" if column == "detector" else "right")
        for name, s in scores.items():
            table.add_row(
                name,
                str(s["positives"]),
                str(s["true_positives"]),
                str(s["false_positives"]),
                str(s["false_negatives"]),
                f"{s['precision']:.3f}",
                f"{s['recall']:.3f}",
            )
        console.print(table)
        for mistake in result.mistakes[:20]:
            console.print(f"  {mistake}")
    if fail_under is not None:
        low = [
            name
            for name, s in result.scores.items()
            if s.precision < fail_under or s.recall < fail_under
        ]
        if low:
            raise click.ClickException(f"below {fail_under}: {', '.join(low)}")
