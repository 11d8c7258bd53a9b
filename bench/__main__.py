"""`python -m bench [--quick] [--only 1,4] [--json FILE]`: run the benchmarks, print the table."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from dataclasses import asdict

from bench.common import FULL, QUICK, Row, machine

BENCHMARKS = [
    ("1", "throughput"),
    ("2", "absorb"),
    ("3", "ttft"),
    ("4,5,7", "startup"),
    ("6", "search"),
    ("8", "stats_cost"),
    ("9", "model_switch"),
    ("10", "cli_start"),
    ("11", "stream_cost"),
    ("12", "migration"),
]
"""Row numbers and the module (in bench) that measures them, in the order they run."""


def table(rows: list[Row]) -> str:
    lines = ["| # | what | lchat | reference | ratio | target | verdict |", "|---|---|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda row: int(row.number)):
        cells = (row.number, row.what, row.figure, row.reference, row.ratio, row.target, row.verdict)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, one run each (minutes, not a report)")
    parser.add_argument("--only", help="comma-separated row numbers, e.g. 1,4")
    parser.add_argument("--json", metavar="FILE", help="also write every row with its raw numbers")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    wanted = set(args.only.split(",")) if args.only else None

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    log(f"lchat benchmarks ({'quick' if args.quick else 'full'}) on {machine()}")
    rows: list[Row] = []
    started = time.monotonic()
    for numbers, module in BENCHMARKS:
        if wanted and not wanted & set(numbers.split(",")):
            continue
        log(f"row {numbers} ({module})...")
        try:
            found = importlib.import_module(f"bench.{module}").run(sizes, log)
        except Exception as error:  # noqa: BLE001 - one failing benchmark must not lose the others
            traceback.print_exc()
            found = [
                Row(numbers.split(",")[0], module, f"failed: {type(error).__name__}: {error}"[:200], verdict="n/a")
            ]
        rows += [row for row in found if not wanted or row.number in wanted]
    print(
        f"\nMeasured {time.strftime('%Y-%m-%d')}; {machine()}; "
        f"{'quick sizes' if args.quick else 'full sizes'}, took {time.monotonic() - started:.0f} s.\n"
    )
    print(table(rows))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(
                {"machine": machine(), "quick": args.quick, "rows": [asdict(r) for r in rows]},
                out,
                indent=1,
                default=str,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
