"""Helpers of the dedupe benchmarks that run the product as a user does: a fresh SQLite base,
``closedloop import persons``, ``closedloop dedupe run`` (twice), ``closedloop dedupe
export-pairs``, and pairwise scores of the exported pairs at the automatic-merge threshold."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

CLI = str(Path(sys.executable).with_name("closedloop"))
Pair = tuple[str, str]


@dataclass
class CliRun:
    """What one base went through: the reports of each command and the exported pairs."""

    imports: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    pairs: list[dict[str, str]] = field(default_factory=list)
    rejected_ids: set[str] = field(default_factory=set)
    seconds: dict[str, float] = field(default_factory=dict)


def closedloop(db: Path, *args: str) -> str:
    """Run one product command on the base ``db``; its standard output (raises on failure)."""
    env = {**os.environ, "CLOSEDLOOP_DATABASE_URL": f"sqlite:///{db}"}
    done = subprocess.run([CLI, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"closedloop {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def run_product(
    workdir: Path,
    files: list[tuple[Path, list[str]]],
    *,
    runs: int = 2,
    run_options: tuple[str, ...] = (),
) -> CliRun:
    """A fresh base in ``workdir``; each file imported with its options; ``runs`` dedupe runs
    (``closedloop dedupe run --json`` plus ``run_options``, e.g. ``--link-only``); the pairs
    exported. Rows the import rejected are named in ``rejected_ids``."""
    db = workdir / "bench.db"
    for stale in workdir.glob("bench.db*"):
        stale.unlink()
    out = CliRun()
    closedloop(db, "init")
    start = time.perf_counter()
    for path, options in files:
        report = json.loads(closedloop(db, "import", "persons", str(path), "--json", *options))
        out.imports.append(report)
        rejects = workdir / "rejects.csv"
        closedloop(db, "imports", "rejects", str(report["batch_id"]), "-o", str(rejects))
        lines = {int(r["line"]) for r in csv.DictReader(rejects.open(encoding="utf-8-sig"))}
        with path.open(encoding="utf-8") as handle:
            for line_no, row in enumerate(csv.DictReader(handle), start=2):
                if line_no in lines:
                    out.rejected_ids.add(row["external_id"])
    out.seconds["import"] = time.perf_counter() - start
    for n in range(runs):
        start = time.perf_counter()
        out.runs.append(json.loads(closedloop(db, "dedupe", "run", "--json", *run_options)))
        out.seconds[f"run {n + 1}"] = time.perf_counter() - start
    exported = workdir / "pairs.csv"
    closedloop(db, "dedupe", "export-pairs", str(exported))
    out.pairs = list(csv.DictReader(exported.open(encoding="utf-8")))
    return out


def ordered(a: str, b: str) -> Pair:
    return (a, b) if a <= b else (b, a)


def true_pairs(entity: dict[str, str], skip: set[str] = frozenset()) -> set[Pair]:  # type: ignore[assignment]
    """Every pair of record ids of one entity (records in ``skip`` left out)."""
    groups: dict[str, list[str]] = {}
    for record, label in entity.items():
        if record not in skip:
            groups.setdefault(label, []).append(record)
    return {ordered(a, b) for g in groups.values() for a, b in combinations(sorted(g), 2)}


def exported_pairs(run: CliRun, threshold: float) -> set[Pair]:
    """Exported pairs at or above ``threshold`` (the automatic-merge threshold), by external id."""
    return {
        ordered(r["external_id_l"], r["external_id_r"])
        for r in run.pairs
        if float(r["match_probability"]) >= threshold
    }


def scores(predicted: set[Pair], truth: set[Pair]) -> dict[str, float]:
    """Pairwise precision, recall, F1 and counts."""
    tp = len(predicted & truth)
    precision = tp / len(predicted) if predicted else 1.0
    recall = tp / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "false_positives": len(predicted) - tp,
        "false_negatives": len(truth) - tp,
    }
