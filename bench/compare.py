"""`python -m bench.compare --baseline DIR [--only 6] [--rounds 3] [--quick]`: before and after.

Runs the rows alternately with another checkout's code first on the path (``DIR``, say the
main branch) and with this one, round after round, so both see the same machine load; each
side keeps its own bench cache (its history is built at its own schema). Prints each side's
figure per round and, for rows with raw timings, the median over all rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import cache_dir

_HERE = Path(__file__).resolve().parents[1]


def run_side(code: Path, only: str, cache: Path, *, quick: bool = False) -> list[dict]:
    """The rows, as `python -m bench --json` gives them, run with ``code`` first on the path."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "rows.json"
        env = {**os.environ, "PYTHONPATH": str(code), "XDG_CACHE_HOME": str(cache)}
        # A checkout from before the benchmarks left the package has them as bench.
        suite = "bench" if (code / "bench" / "__main__.py").is_file() else "bench"
        subprocess.run(
            [sys.executable, "-m", suite, "--only", only, "--json", str(out), *(["--quick"] if quick else [])],
            cwd=code,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return json.loads(out.read_text())["rows"]


def timings(row: dict) -> list[float]:
    """Every raw timing a row kept (row 6 keeps them per query)."""
    times = row.get("values", {}).get("times", {})
    return [t for values in times.values() for t in values] if isinstance(times, dict) else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__)
    parser.add_argument("--baseline", type=Path, required=True, help="the other checkout (its repository root)")
    parser.add_argument("--only", default="6", help="comma-separated row numbers (default 6)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="the small sizes (minutes, not a report)")
    args = parser.parse_args(argv)
    sides = {
        "baseline": (args.baseline.resolve(), cache_dir() / "compare-baseline"),
        "this": (_HERE, cache_dir() / "compare-this"),
    }
    collected: dict[str, dict[str, list[float]]] = {side: {} for side in sides}
    for round_number in range(1, args.rounds + 1):
        for side, (code, cache) in sides.items():
            for row in run_side(code, args.only, cache, quick=args.quick):
                print(f"round {round_number} {side:>8} row {row['number']}: {row['figure']}", flush=True)
                collected[side].setdefault(row["number"], []).extend(timings(row))
    for number in collected["this"]:
        before, after = collected["baseline"].get(number, []), collected["this"][number]
        if before and after:
            b, a = statistics.median(before) * 1000, statistics.median(after) * 1000
            print(f"row {number}: median {b:.2f} ms before, {a:.2f} ms after ({a / b:.2f} x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
