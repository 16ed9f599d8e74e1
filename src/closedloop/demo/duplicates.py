"""Planted near-duplicates: copies of persons with the mistakes real files contain.

Each copy gets one main perturbation (a typo, swapped given and family names, another
spelling, another e-mail domain, a move) and often a missing part. It always keeps enough to be
recognisable: the birth date stays unless the names are only lightly changed. The ground truth
goes to ``duplicate_truth``.
"""

from __future__ import annotations

import random

import numpy as np

from closedloop.demo.clock import Arr
from closedloop.demo.people import SOURCES, People
from closedloop.demo.pools import LocalePool, ascii_fold, name_key, strip_accents

_MAIN = (
    ("typo_given", 0.2), ("typo_family", 0.2), ("swapped_names", 0.12), ("other_spelling", 0.2),
    ("email_domain", 0.14), ("moved", 0.14),
)  # fmt: skip
_EXTRA = ("missing_email", "missing_phone", "missing_birth_date", "moved", "email_domain")
_KEYBOARD = "qwertyuiopasdfghjklzxcvbnm"
_VARIANTS = {
    "Catherine": "Katherine", "Katherine": "Catherine", "Steven": "Stephen", "Stephen": "Steven",
    "John": "Jon", "Sarah": "Sara", "Sara": "Sarah", "Ann": "Anne", "Anne": "Ann",
    "Philip": "Phillip", "Jeffrey": "Geoffrey", "Mohammed": "Muhammad", "Brian": "Bryan",
    "Rebecca": "Rebekah", "Allison": "Alison", "Alison": "Allison", "Geoffrey": "Jeffrey",
}  # fmt: skip
_SOUNDS = (
    ("tt", "t"), ("ll", "l"), ("nn", "n"), ("mm", "m"), ("ss", "s"), ("pp", "p"), ("ff", "f"),
    ("ph", "f"), ("th", "t"), ("dt", "tt"), ("ck", "k"), ("ey", "ei"), ("ei", "ey"), ("ai", "ay"),
    ("ez", "es"), ("y", "i"), ("ie", "y"), ("c", "k"), ("z", "s"), ("v", "w"), ("w", "v"),
)  # fmt: skip
_CEDILLA = str.maketrans({"ș": "ş", "ț": "ţ", "Ș": "Ş", "Ț": "Ţ"})
_UMLAUT = {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"}


def typo(value: str, rnd: random.Random, alphabet: str = _KEYBOARD) -> str:
    """``value`` with one keying error: a dropped, doubled, swapped or wrong character."""
    if len(value) < 3:
        i = rnd.randrange(len(value))
        return value[:i] + rnd.choice(alphabet) + value[i + 1 :]
    i = rnd.randrange(1, len(value) - 1)
    op = rnd.randrange(4)
    if op == 0:
        return value[:i] + value[i + 1 :]
    if op == 1:
        return value[:i] + value[i] + value[i:]
    if op == 2:
        return value[: i - 1] + value[i] + value[i - 1] + value[i + 1 :]
    return value[:i] + rnd.choice(alphabet) + value[i + 1 :]


def other_spelling(value: str, locale: str) -> str | None:
    """Another way the same name is written (``Müller``/``Mueller``, ``Ștefan``/``Stefan``,
    ``Matthieu``/``Mathieu``, ``Meyer``/``Meier``, ``Rodríguez``/``Rodriguez``)."""
    if locale == "zh_CN":
        return None
    if locale == "de_DE" and any(c in value for c in _UMLAUT):
        return "".join(_UMLAUT.get(c, c) for c in value)
    if locale == "ro_RO" and value != value.translate(_CEDILLA):
        return value.translate(_CEDILLA)  # the old cedilla code points, common in legacy files
    if value in _VARIANTS:
        return _VARIANTS[value]
    stripped = strip_accents(value)
    if stripped != value:
        return stripped
    for old, new in _SOUNDS:  # a spelling that sounds the same
        if old in value[1:]:
            return value[0] + value[1:].replace(old, new, 1)
    return None


def plant(
    people: People, pools: list[LocalePool], rng: np.random.Generator, count: int
) -> tuple[Arr, list[str]]:
    """Append ``count`` perturbed copies of earlier persons; return originals and labels."""
    rnd = random.Random(int(rng.integers(0, 2**63)))
    orig = np.sort(rng.choice(people.n, size=min(count, people.n), replace=False))
    dup = people.take(orig)
    labels: list[str] = []
    names, weights = zip(*_MAIN, strict=True)
    for j, i in enumerate(orig.tolist()):
        pool = pools[int(dup["loc"][j])]
        ops = [rnd.choices(names, weights)[0]]
        if rnd.random() < 0.5:
            extra = rnd.choice(_EXTRA)
            # a missing birth date only with unchanged names: the copy must stay recognisable
            names_kept = ops[0] in ("email_domain", "moved")
            clash = {extra, ops[0]} == {"email_domain", "missing_email"}
            if extra not in ops and not clash and (extra != "missing_birth_date" or names_kept):
                ops.append(extra)
        done = [_apply(op, dup, j, pool, rnd) for op in ops]
        ops = [op for op in done if op != "exact_copy"] or ["exact_copy"]
        others = [s for s in SOURCES.tolist() if s != people["source"][i]]
        dup["source"][j] = rnd.choice(others)
        labels.append("+".join(ops))
    dup["hh"][:] = -1
    dup["role"][:] = 0
    people.extend(dup)
    return orig, labels


def _rename(dup: dict[str, Arr], j: int, field: str, value: str, german: bool) -> None:
    dup[field][j] = value
    dup[f"{field}_key"][j] = name_key(value)
    dup[f"{field}_ascii"][j] = ascii_fold(value, german) or "client"


def _apply(op: str, dup: dict[str, Arr], j: int, pool: LocalePool, rnd: random.Random) -> str:
    """Apply one perturbation to row ``j`` of ``dup``; return what was really done."""
    code = pool.spec.code
    german = code == "de_DE"
    if op == "other_spelling":
        for field in ("family", "given"):
            variant = other_spelling(str(dup[field][j]), code)
            if variant:
                _rename(dup, j, field, variant, german)
                return op
        op = "typo_family"
    if op in ("typo_given", "typo_family"):
        field = op.split("_")[1]
        alphabet = "".join(pool.given[0][:200]) if code == "zh_CN" else _KEYBOARD
        _rename(dup, j, field, typo(str(dup[field][j]), rnd, alphabet), german)
    elif op == "swapped_names":
        for suffix in ("", "_key", "_ascii"):
            g, f = dup[f"given{suffix}"][j], dup[f"family{suffix}"][j]
            dup[f"given{suffix}"][j], dup[f"family{suffix}"][j] = f, g
    elif op == "email_domain" and dup["email"][j]:
        local, _, domain = str(dup["email"][j]).partition("@")
        choices = [d for d in pool.domains.tolist() if d != domain]
        dup["email"][j] = f"{local}@{rnd.choice(choices)}"
    elif op == "moved" and dup["addr_code"][j] is not None:
        p = rnd.randrange(len(pool.place_code))
        number = rnd.randint(1, 180)
        dup["addr_line1"][j] = pool.spec.line1.format(n=number, s=rnd.choice(pool.streets.tolist()))
        dup["addr_line2"][j] = None
        dup["addr_code"][j] = pool.place_code[p]
        dup["addr_locality"][j] = pool.place_locality[p]
        dup["addr_region"][j] = pool.place_region[p]
        dup["addr_lat"][j] = np.nan
        dup["addr_lon"][j] = np.nan
    elif op == "missing_email":
        dup["email"][j] = None
    elif op == "missing_phone":
        dup["phone"][j] = None
    elif op == "missing_birth_date":
        dup["birth_known"][j] = False
    else:
        return "exact_copy" if op in ("email_domain", "moved") else op
    if op in ("typo_given", "typo_family") and dup["phone"][j] is not None and rnd.random() < 0.5:
        dup["phone_raw"][j] = dup["phone"][j]  # the other system kept the E.164 form
    return op
