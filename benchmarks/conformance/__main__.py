"""`make conformance`: run every model of the corpus through every step with the edgeconv CLI,
keep each cell in docs/conformance.json (store.py), print the matrix and render
docs/conformance.md from the stored cells. A model is built (into out/conformance/, offline)
only when one of its cells has to run.

    python -m benchmarks.conformance [--models a,b] [--steps convert,validate] [--rerun] [--no-docs]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..common import machine
from .corpus import build, specs
from .matrix import STEPS, Cell, counts, run_model, to_json
from .render import markdown, terminal
from .store import ROOT, Store

PACKAGE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.conformance")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "conformance", help="where the corpus is built")
    parser.add_argument("--models", help="comma-separated subset of the corpus")
    parser.add_argument("--steps", help=f"comma-separated subset of {','.join(STEPS)}")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/conformance.md")
    parser.add_argument("--store", type=Path, help="keep the cells in this file (default docs/conformance.json)")
    parser.add_argument("--merge", type=Path, metavar="FILE", help="take the cells of another store file first")
    parser.add_argument("--rerun", action="store_true",
                        help="run the chosen cells again (default: keep the stored cells whose command is unchanged)")
    args = parser.parse_args(argv)
    corpus = specs()
    names = args.models.split(",") if args.models else list(corpus)
    steps = args.steps.split(",") if args.steps else STEPS
    if unknown := [n for n in names if n not in corpus] + [s for s in steps if s not in STEPS]:
        parser.error(f"unknown: {', '.join(unknown)}")

    t0 = time.perf_counter()
    store = Store(args.store) if args.store else Store()
    if args.merge:
        store.merge(Store(args.merge))
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    for name in names:
        run_model(corpus[name], args.out / name, PACKAGE, steps, log, store, args.rerun,
                  build=lambda name=name: _build(args.out, name, store))
    document = _document(store, corpus, time.perf_counter() - t0)
    print(terminal(document))
    if not args.no_docs:
        (ROOT / "docs" / "conformance.md").write_text(markdown(document))
    return 1 if sum(c["bug"] for c in document["counts"].values()) else 0


def _build(out: Path, name: str, store: Store) -> None:
    for model, seconds in build(out, [name]).items():
        store.put_build(model, seconds)


def _document(store: Store, corpus: dict, this_run: float) -> dict:
    """Everything render.py shows: every model of the corpus, a cell never taken as such."""
    matrix = {name: {s: store.cells(name).get(s) or Cell("notrun", "not run yet") for s in STEPS} for name in corpus}
    cells = [c for row in matrix.values() for c in row.values() if c.outcome != "notrun"]
    builds = store.data["build_seconds"]
    return {"machine": store.data.setdefault("machine", machine()), "steps": STEPS,
            "seconds": round(sum(c.seconds for c in cells) + sum(builds.get(n, 0) for n in corpus), 1),
            "build_seconds": round(sum(builds.get(n, 0) for n in corpus), 1), "this_run_seconds": round(this_run, 1),
            "untimed": sum(1 for c in cells if c.seconds == 0 and c.outcome != "skipped"),
            "dates": sorted({c.date for c in cells if c.date}), "commits": sorted({c.commit for c in cells if c.commit}),
            "models": {n: s.to_dict() for n, s in corpus.items()}, "matrix": to_json(matrix), "counts": counts(matrix)}


if __name__ == "__main__":
    sys.exit(main())
