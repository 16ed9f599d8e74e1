"""Fit times of BG/NBD and Pareto/NBD on tiny and degenerate data.

Cases (2 to 100 customers each): one repeat buyer and T of half a week; ages under a day;
one customer with 5,000 purchases; identical customers; last purchase today; a purchase
every day; one order each on one day.  Each fit runs in a forked child killed after
``--timeout`` seconds (the old hypergeometric fallback took minutes); the table gives wall
and CPU seconds (the machine is shared: compare with the load average printed) and the
outcome (fitted, or the ConvergenceError of data that do not identify the model).

Usage::

    .venv/bin/python bench/btyd_degenerate.py [--timeout 20] [--sizes 2,5,30,90,100]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import time
from typing import Any

import numpy as np
from _harness import machine

from closedloop.scoring.btyd import BetaGeo, ParetoNBD

Data = tuple[np.ndarray, np.ndarray, np.ndarray]


def cases(sizes: list[int], seed: int = 0) -> dict[str, Data]:
    """The degenerate data sets, by name."""
    rng = np.random.default_rng(seed)
    out: dict[str, Data] = {}
    for n in sizes:
        x, tx, age = np.zeros(n), np.zeros(n), np.full(n, 0.5)
        x[0], tx[0] = 1, 0.2
        out[f"{n} one repeat, T=0.5w"] = (x, tx, age)
        age = rng.uniform(0, 1 / 7, n)
        x = np.zeros(n)
        x[: max(1, n // 10)] = 1
        out[f"{n} T under a day"] = (x, np.where(x > 0, age * rng.uniform(0, 1, n), 0), age)
        age = rng.uniform(1, 10, n)
        x = rng.integers(0, 2, n).astype(float)
        x[0] = 5000
        out[f"{n} x=5000"] = (x, np.where(x > 0, age * rng.uniform(0.5, 1, n), 0), age)
        out[f"{n} identical"] = (np.ones(n), np.full(n, 1 / 7), np.full(n, 2 / 7))
        age = rng.integers(1, 30, n) / 7
        out[f"{n} t_x = T"] = (rng.integers(1, 5, n).astype(float), age, age)
        age = rng.integers(10, 60, n) / 7
        out[f"{n} daily buyer"] = (np.round(age * 7), age.copy(), age)
        age = rng.integers(1, 700, n) / 7
        x, tx = np.zeros(n), np.zeros(n)
        x[0], tx[0] = 1, age[0] / 2
        out[f"{n} mostly x=0"] = (x, tx, age)
    return out


def _child(model: str, data: Data, queue: Any) -> None:
    cls = {"BG/NBD": BetaGeo, "Pareto/NBD": ParetoNBD}[model]
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        fitted = cls().fit(*data)
        outcome = f"fitted ({fitted.n_iterations} it.)"
    except Exception as exc:  # reported, not raised: the table shows every case
        outcome = type(exc).__name__
    queue.put((time.perf_counter() - wall, time.process_time() - cpu, outcome))


def main() -> None:
    """Run every case with both models and print a table and a summary."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--sizes", default="2,5,30,90,100")
    args = parser.parse_args()
    ctx = mp.get_context("fork")
    print(machine())
    print(f"load average at start: {os.getloadavg()}")
    print(f"{'case':24} {'model':10} {'wall s':>8} {'cpu s':>8}  outcome")
    totals: dict[str, list[float]] = {"BG/NBD": [], "Pareto/NBD": []}
    for name, data in cases([int(s) for s in args.sizes.split(",")]).items():
        for model in totals:
            queue = ctx.Queue()
            child = ctx.Process(target=_child, args=(model, data, queue))
            child.start()
            child.join(args.timeout)
            if child.is_alive():
                child.kill()
                child.join()
                print(f"{name:24} {model:10} {'>' + str(args.timeout):>8} {'':>8}  TIMEOUT")
                totals[model].append(args.timeout)
                continue
            wall, cpu, outcome = queue.get()
            totals[model].append(cpu)
            print(f"{name:24} {model:10} {wall:8.3f} {cpu:8.3f}  {outcome}")
    for model, cpus in totals.items():
        print(
            f"{model}: {len(cpus)} fits, CPU s median {statistics.median(cpus):.3f}, "
            f"max {max(cpus):.3f}, total {sum(cpus):.1f}"
        )
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
