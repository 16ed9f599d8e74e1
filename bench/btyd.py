"""Benchmark closedloop's BTYD models against lifetimes 0.11.3.

Fits BG/NBD and Pareto/NBD on

* the CDNOW 1/10 sample (2,357 customers) and full master (23,570 customers),
  calibration weeks 1-39 (to 1997-09-30), read from the lifetimes wheel;
* synthetic customers drawn from a BG/NBD process (seeded numpy), purchase
  times rounded to whole days, ages measured in weeks;

with our models (median of ``--runs`` fits) and with lifetimes (median of
``--lifetimes-runs`` fits, each in a forked child killed after ``--timeout``
seconds; a run that does not finish is reported as "> N s").  lifetimes is
run as documented, on one row per customer, and additionally on the collapsed
distinct rows with ``weights=`` so the gain from collapsing and the gain from
the implementation can be told apart.

Also prints the CDNOW holdout forecast: for the 1/10 sample, expected vs actual
repeat transactions in weeks 40-78 (cumulative by week).

Usage::

    .venv/bin/python bench/btyd.py              # full run (tens of minutes)
    .venv/bin/python bench/btyd.py --quick      # small sizes, short timeout
    .venv/bin/python bench/btyd.py --sizes 100000,1000000 --timeout 900 --json out.json
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import multiprocessing as mp
import queue as queue_module
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy
from _harness import machine

from closedloop.scoring.btyd import BetaGeo, ParetoNBD
from closedloop.scoring.btyd._fitting import collapse_rows
from closedloop.scoring.cdnow import holdout_weekly_repeats, load_cdnow, load_cdnow_transactions

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]
PARAMS = {"BG/NBD": ("r", "alpha", "a", "b"), "Pareto/NBD": ("r", "alpha", "s", "beta")}
OURS = {"BG/NBD": BetaGeo, "Pareto/NBD": ParetoNBD}
TRUE_BG = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}


def datasets_dir() -> Path:
    """Folder of the CDNOW files inside the installed lifetimes wheel."""
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or spec.origin is None:
        raise SystemExit("lifetimes is not installed; it ships the CDNOW data")
    return Path(spec.origin).parent / "datasets"


def simulate_bgnbd(n: int, seed: int = 20261122, cohort_days: int = 84) -> Arrays:
    """Draw ``n`` customers from a BG/NBD process with :data:`TRUE_BG` (weeks).

    First purchases fall uniformly over ``cohort_days`` days before a 273-day
    (39-week) calibration window, as in CDNOW; purchase times are rounded to
    whole days.
    """
    rng = np.random.default_rng(seed)
    first = rng.integers(0, cohort_days, n)
    age = (273 - first) / 7.0
    rate = rng.gamma(TRUE_BG["r"], 1.0 / TRUE_BG["alpha"], n)
    dropout = rng.beta(TRUE_BG["a"], TRUE_BG["b"], n)
    x = np.zeros(n)
    last = np.zeros(n)
    clock = np.zeros(n)
    active = np.arange(n)
    while active.size:
        clock[active] += rng.exponential(1.0, active.size) / rate[active]
        active = active[clock[active] <= age[active]]
        x[active] += 1
        last[active] = clock[active]
        active = active[rng.random(active.size) > dropout[active]]
    recency = np.minimum(np.round(last * 7.0) / 7.0, age)
    return x, recency, age


def cdnow(name: str) -> Arrays:
    """``(x, t_x, T)`` in weeks for a CDNOW file."""
    df = load_cdnow(datasets_dir() / name)
    return (
        df["frequency"].to_numpy(float),
        df["recency"].to_numpy(float),
        df["T"].to_numpy(float),
    )


# --------------------------------------------------------------------------- timing
def time_ours(model: str, data: Arrays, runs: int) -> tuple[float, float, dict[str, float], float]:
    """Median wall and CPU seconds, parameters and log-likelihood of our fit."""
    wall, cpu = [], []
    fitted: Any = None
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        fitted = OURS[model]().fit(*data)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu), fitted.params, fitted.log_likelihood


def _lifetimes_child(model: str, data: Arrays, weights: np.ndarray | None, queue: Any) -> None:
    warnings.simplefilter("ignore")
    from lifetimes import BetaGeoFitter, ParetoNBDFitter
    from threadpoolctl import threadpool_limits

    # Same conditions as our fits, which run BLAS single-threaded.
    threadpool_limits(limits=1, user_api="blas")

    # lifetimes' Pareto/NBD starts Nelder-Mead from a random point: seed it.
    np.random.seed(0)
    fitter = BetaGeoFitter() if model == "BG/NBD" else ParetoNBDFitter()
    start, start_cpu = time.perf_counter(), time.process_time()
    fitter.fit(*data, weights=weights)
    seconds, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    params = {k: float(fitter.params_[k]) for k in PARAMS[model]}
    queue.put((seconds, cpu, params))


def time_lifetimes(
    model: str, data: Arrays, runs: int, timeout: float, collapse: bool
) -> tuple[float | None, float | None, dict[str, float] | None]:
    """Median wall and CPU seconds and parameters of lifetimes (``None`` on timeout)."""
    weights = None
    if collapse:
        rows = collapse_rows(data, np.ones(data[0].size))
        data, weights = rows.columns, rows.weights  # type: ignore[assignment]
    ctx = mp.get_context("fork")
    seconds, cpus, params = [], [], None
    for _ in range(runs):
        queue = ctx.Queue()
        child = ctx.Process(target=_lifetimes_child, args=(model, data, weights, queue))
        child.start()
        deadline = time.monotonic() + timeout
        result = None
        while result is None and child.is_alive() and time.monotonic() < deadline:
            with contextlib.suppress(queue_module.Empty):
                result = queue.get(timeout=1.0)
        if result is None:
            with contextlib.suppress(queue_module.Empty):
                result = queue.get(timeout=1.0)
        if result is None:  # timed out, or the child died without a result
            if child.is_alive():
                child.kill()
            child.join()
            return None, None, None
        child.join()
        took, cpu, params = result
        seconds.append(took)
        cpus.append(cpu)
    return statistics.median(seconds), statistics.median(cpus), params


# --------------------------------------------------------------------------- reporting
def sig3(value: float) -> str:
    """Three significant digits."""
    return f"{value:.3g}"


def max_rel_diff(a: dict[str, float], b: dict[str, float]) -> float:
    """Largest relative difference between two parameter sets."""
    return max(abs(a[k] - b[k]) / abs(b[k]) for k in a)


def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Run every (dataset, model) pair and return the results."""
    sets: list[tuple[str, Callable[[], Arrays], int]] = [
        ("CDNOW sample", lambda: cdnow("CDNOW_sample.txt"), args.lifetimes_runs),
        ("CDNOW master", lambda: cdnow("CDNOW_master.txt"), args.lifetimes_runs),
    ]
    for n in args.sizes:
        slow_runs = 1 if n >= 100_000 else args.lifetimes_runs
        sets.append((f"synthetic {n:,}", lambda n=n: simulate_bgnbd(n), slow_runs))
    rows = []
    for label, make, lt_runs in sets:
        data = make()
        unique = collapse_rows(data, np.ones(data[0].size)).weights.size
        for model in PARAMS:
            ours_s, ours_cpu, ours_p, ours_ll = time_ours(model, data, args.runs)
            row: dict[str, Any] = {
                "model": model,
                "data": label,
                "customers": int(data[0].size),
                "distinct_rows": int(unique),
                "ours_seconds": ours_s,
                "ours_cpu_seconds": ours_cpu,
                "ours_params": ours_p,
                "ours_log_likelihood": ours_ll,
                "lifetimes_runs": lt_runs,
            }
            if args.lifetimes:
                for key, collapse in (("lifetimes", False), ("lifetimes_collapsed", True)):
                    secs, cpu, params = time_lifetimes(model, data, lt_runs, args.timeout, collapse)
                    row[f"{key}_seconds"] = secs
                    row[f"{key}_cpu_seconds"] = cpu
                    row[f"{key}_params"] = params
                    row[f"{key}_max_rel_diff"] = (
                        None if params is None else max_rel_diff(ours_p, params)
                    )
                    # Our log-likelihood at lifetimes' estimates: which fit is better.
                    row[f"{key}_log_likelihood"] = (
                        None
                        if params is None
                        else float(
                            OURS[model].from_params(params).customer_log_likelihood(*data).sum()
                        )
                    )
            rows.append(row)
            print(f"done: {model} on {label}", file=sys.stderr, flush=True)
    return {"runs": args.runs, "timeout": args.timeout, "results": rows}


def holdout_forecast() -> dict[str, Any]:
    """Expected vs actual cumulative repeat transactions, CDNOW sample weeks 40-78."""
    path = datasets_dir() / "CDNOW_sample.txt"
    df = load_cdnow(path, holdout_end="1998-06-30")
    x, tx, age = (df[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    actual = np.cumsum(holdout_weekly_repeats(load_cdnow_transactions(path)))
    weeks = np.arange(1, actual.size + 1)
    out: dict[str, Any] = {"week": (weeks + 39).tolist(), "actual_cumulative": actual.tolist()}
    for model, cls in OURS.items():
        fitted = cls().fit(x, tx, age)
        expected = [
            float(np.sum(fitted.conditional_expected_purchases(w, x, tx, age))) for w in weeks
        ]
        out[f"{model}_expected_cumulative"] = expected
    return out


def fmt_seconds(value: float | None, cpu: float | None, timeout: float) -> str:
    """Wall (CPU) seconds for the table; ``> timeout`` when the run did not finish."""
    if value is None:
        return f"> {timeout:.0f}"
    return f"{value:.3g} ({cpu:.3g})" if cpu is not None else f"{value:.3g}"


def markdown(report: dict[str, Any]) -> str:
    """Render the report as markdown tables."""
    timeout = report["timeout"]
    lines = [
        "| model | data | customers | distinct rows | ours s (CPU s) | lifetimes s (CPU s) "
        "| speed-up wall / CPU | lifetimes on distinct rows s | ours params | lifetimes params "
        "| agree (max rel diff) | log-lik ours / lifetimes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---|---|---|",
    ]
    for r in report["results"]:
        names = PARAMS[r["model"]]
        ours = ", ".join(f"{k}={sig3(r['ours_params'][k])}" for k in names)
        key = "lifetimes" if r.get("lifetimes_params") else "lifetimes_collapsed"
        theirs_p = r.get(f"{key}_params")
        theirs = "-" if theirs_p is None else ", ".join(f"{k}={sig3(theirs_p[k])}" for k in names)
        lt = r.get("lifetimes_seconds")
        lt_cpu = r.get("lifetimes_cpu_seconds")
        if "lifetimes_seconds" not in r:
            speed = "-"
        elif lt is None:
            speed = (
                f"> {timeout / r['ours_seconds']:.0f}x / > {timeout / r['ours_cpu_seconds']:.0f}x"
            )
        else:
            speed = f"{lt / r['ours_seconds']:.0f}x / {lt_cpu / r['ours_cpu_seconds']:.0f}x"
        diff = r.get(f"{key}_max_rel_diff")
        agree = "-" if diff is None else f"{'yes' if diff < 1e-3 else 'NO'} ({diff:.1e})"
        theirs_ll = r.get(f"{key}_log_likelihood")
        ll = f"{r['ours_log_likelihood']:.1f} / " + (
            "-" if theirs_ll is None else f"{theirs_ll:.1f}"
        )
        lines.append(
            f"| {r['model']} | {r['data']} | {r['customers']:,} | {r['distinct_rows']:,} "
            f"| {fmt_seconds(r['ours_seconds'], r['ours_cpu_seconds'], timeout)} "
            f"| {fmt_seconds(lt, lt_cpu, timeout)} | {speed} "
            f"| {fmt_seconds(r.get('lifetimes_collapsed_seconds'), None, timeout)} "
            f"| {ours} | {theirs} | {agree} | {ll} |"
        )
    hold = report["holdout"]
    lines += [
        "",
        "CDNOW 1/10 sample, cumulative repeat transactions in the holdout (weeks 40-78),",
        "expected = sum over customers of conditional_expected_purchases(weeks since week 39):",
        "",
        "| week | actual | BG/NBD expected | Pareto/NBD expected |",
        "|---:|---:|---:|---:|",
    ]
    for i, week in enumerate(hold["week"]):
        lines.append(
            f"| {week} | {hold['actual_cumulative'][i]} "
            f"| {hold['BG/NBD_expected_cumulative'][i]:.1f} "
            f"| {hold['Pareto/NBD_expected_cumulative'][i]:.1f} |"
        )
    actual = hold["actual_cumulative"][-1]
    for model in PARAMS:
        expected = hold[f"{model}_expected_cumulative"][-1]
        lines.append(
            f"\n{model}: {expected:.1f} expected vs {actual} actual repeat transactions in "
            f"weeks 40-78 ({100 * (expected / actual - 1):+.1f}%)."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="sizes 100000, short timeout")
    parser.add_argument("--sizes", default=None, help="comma-separated synthetic sizes")
    parser.add_argument("--runs", type=int, default=None, help="our fits per case (median)")
    parser.add_argument("--lifetimes-runs", type=int, default=None, help="lifetimes fits")
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds per lifetimes fit (600; quick 120)"
    )
    parser.add_argument("--no-lifetimes", dest="lifetimes", action="store_false")
    parser.add_argument("--json", default=None, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    quick = args.quick
    sizes = args.sizes or ("100000" if quick else "100000,1000000")
    args.sizes = [int(s.replace("_", "")) for s in sizes.split(",") if s]
    args.runs = args.runs or (3 if quick else 5)
    args.lifetimes_runs = args.lifetimes_runs or (1 if quick else 3)
    args.timeout = args.timeout or (120.0 if quick else 600.0)

    report = run_benchmark(args)
    report["holdout"] = holdout_forecast()
    report["machine"] = machine()
    report["versions"] = {"numpy": np.__version__, "scipy": scipy.__version__}
    print(f"Machine: {report['machine']}; median of {args.runs} runs (ours)\n")
    print(markdown(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
