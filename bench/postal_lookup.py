"""Postal reference lookup speed: 1M lookups over mixed countries, µs per lookup.

Two figures: the raw table lookup (``Reference.places``: postal code → localities) and the
whole check (``check_address``: format, lookup, locality matching, result). Inputs are real
(code, locality) pairs drawn from the reference for FR, DE, US, RO, PT, IT, ES, GB, NL, PL.
The reference must be built (``make install``). Usage::

    .venv/bin/python bench/postal_lookup.py [--lookups 1000000] [--checks 1000000] [--runs 5]
"""

from __future__ import annotations

import argparse
import random
import time

from _harness import machine, measure

from closedloop.postal import check_address, get_reference
from closedloop.postal.reference import Reference

COUNTRIES = ("FR", "DE", "US", "RO", "PT", "IT", "ES", "GB", "NL", "PL")


def _inputs(ref: Reference, per_country: int, rng: random.Random) -> list[tuple[str, str, str]]:
    """(country, lookup key, locality) triples, shuffled across countries."""
    triples = []
    for country in COUNTRIES:
        keys = ref.keys(country)
        for key in rng.sample(keys, min(per_country, len(keys))):
            place = ref.places(country, key)[0]
            triples.append((country, key, place.locality))
    rng.shuffle(triples)
    return triples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lookups", type=int, default=1_000_000)
    parser.add_argument("--checks", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20261122)
    args = parser.parse_args()
    ref = get_reference()
    if ref is None:
        raise SystemExit("postal reference not installed: run make install")
    rng = random.Random(args.seed)

    loads = []
    for country in COUNTRIES:
        start = time.perf_counter()
        ref.keys(country)
        loads.append((country, (time.perf_counter() - start) * 1000))
    triples = _inputs(ref, 2000, rng)
    keys = [(c, k) for c, k, _ in triples]
    lookups = (keys * (args.lookups // len(keys) + 1))[: args.lookups]
    checks = (triples * (args.checks // len(triples) + 1))[: args.checks]

    def run_lookups() -> None:
        places = ref.places
        for country, key in lookups:
            places(country, key)

    def run_checks() -> None:
        for country, key, locality in checks:
            check_address(country, key, locality, reference=ref)

    raw = measure("lookup", run_lookups, repeat=args.runs)
    full = measure("check", run_checks, repeat=max(1, args.runs // 2 + 1))
    print(f"machine: {machine()}")
    print(f"inputs: {len(triples)} distinct (code, locality) pairs from {', '.join(COUNTRIES)}")
    print(
        "first use of a country (load its table), ms: "
        + ", ".join(f"{c} {ms:.0f}" for c, ms in loads)
    )
    print("| operation | calls per run | runs | median µs per call | p95 run µs per call |")
    print("|---|---|---|---|---|")
    for timing, calls in ((raw, len(lookups)), (full, len(checks))):
        print(
            f"| {timing.name} | {calls:,} | {len(timing.samples)} | "
            f"{timing.median / calls * 1e6:.2f} | {timing.percentile(95) / calls * 1e6:.2f} |"
        )


if __name__ == "__main__":
    main()
