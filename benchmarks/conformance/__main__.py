"""`make conformance`: build the corpus (cached in out/conformance/), run every model through
every step with the edgeconv CLI, print the matrix, write out/conformance/matrix.json and
render docs/conformance.md.

    python -m benchmarks.conformance [--models a,b] [--steps convert,validate] [--no-docs]
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

from ..common import machine
from .corpus import build, specs
from .matrix import STEPS, Cell, counts, load_row, run_model, to_json
from .render import markdown, terminal

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.conformance")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "conformance")
    parser.add_argument("--models", help="comma-separated subset of the corpus")
    parser.add_argument("--steps", help=f"comma-separated subset of {','.join(STEPS)}")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/conformance.md")
    parser.add_argument("--rerun", action="store_true",
                        help="run every step again (default: reuse the cells of out/conformance/*/row.json "
                             "whose command is unchanged, so an interrupted run resumes)")
    args = parser.parse_args(argv)
    corpus = specs()
    names = args.models.split(",") if args.models else list(corpus)
    steps = args.steps.split(",") if args.steps else STEPS
    if unknown := [n for n in names if n not in corpus] + [s for s in steps if s not in STEPS]:
        parser.error(f"unknown: {', '.join(unknown)}")

    t0 = time.perf_counter()
    build(args.out, names)
    built = time.perf_counter() - t0
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    for name in names:
        run_model(corpus[name], args.out / name, PACKAGE, steps, log, cached=not args.rerun)
    # the whole corpus, from every model's row.json: a cell never run is shown as such
    matrix = {name: {s: load_row(args.out / name).get(s) or Cell("notrun", "not run yet") for s in STEPS}
              for name in corpus}
    document = {
        "date": datetime.date.today().isoformat(), "machine": machine(),
        "seconds": round(built + sum(c.seconds for row in matrix.values() for c in row.values()), 1),
        "build_seconds": round(built, 1), "this_run_seconds": round(time.perf_counter() - t0, 1), "steps": STEPS,
        "models": {n: s.to_dict() for n, s in corpus.items()}, "matrix": to_json(matrix), "counts": counts(matrix)}
    (args.out / "matrix.json").write_text(json.dumps(document, indent=1, ensure_ascii=False))
    print(terminal(document))
    if not args.no_docs:
        (ROOT / "docs" / "conformance.md").write_text(markdown(document))
    bugs = sum(c["bug"] for c in document["counts"].values())
    return 1 if bugs else 0


if __name__ == "__main__":
    sys.exit(main())
