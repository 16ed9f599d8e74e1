"""Persons of one chunk: households, names, ages and contact points, as column arrays.

Everything is drawn per household first (locale, family name, address) and then spread to
its members, so people who live together share a name and a door. Text is built in small
Python loops only where it must be (e-mail local parts, phone and address lines).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from closedloop.demo.clock import Arr, Clock, nullable
from closedloop.demo.locales import phone_groups
from closedloop.demo.pools import LocalePool, draw

SOURCES = np.array(["webshop", "pos", "crm", "events"], dtype=object)
_SOURCE_P = np.cumsum([0.45, 0.30, 0.15, 0.10])
_HH_P = [0.40, 0.32, 0.13, 0.11, 0.04]
_SHARE_NAME = {"es_ES": 0.0, "zh_CN": 0.0, "fr_FR": 0.7, "de_DE": 0.75}
_STYLES = 8


class People:
    """Column arrays of the persons of a chunk (index = position in the chunk)."""

    def __init__(self, cols: dict[str, Arr], households: list[str]) -> None:
        self.cols = cols
        self.households = households

    def __getitem__(self, key: str) -> Arr:
        return self.cols[key]

    def __setitem__(self, key: str, value: Arr) -> None:
        self.cols[key] = value

    @property
    def n(self) -> int:
        """Number of persons."""
        return len(self.cols["loc"])

    def take(self, idx: Arr) -> dict[str, Arr]:
        """A copy of the columns of the persons at ``idx``."""
        return {k: v[idx].copy() for k, v in self.cols.items()}

    def extend(self, cols: dict[str, Arr]) -> None:
        """Append persons given as columns (same keys)."""
        self.cols = {k: np.concatenate([v, cols[k]]) for k, v in self.cols.items()}


def _objects(n: int) -> Arr:
    return np.full(n, None, dtype=object)


def _households(rng: np.random.Generator, n: int) -> tuple[Arr, Arr]:
    sizes = rng.choice(5, size=n, p=_HH_P) + 1
    cut = int(np.searchsorted(np.cumsum(sizes), n)) + 1
    sizes = sizes[:cut]
    sizes[-1] -= int(sizes.sum()) - n
    of = np.repeat(np.arange(cut), sizes)
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    return of, np.minimum(np.arange(n) - starts, 2)


def make_people(
    pools: list[LocalePool], cum: Arr, clock: Clock, rng: np.random.Generator, n: int
) -> People:
    """Draw ``n`` persons grouped into households, with names, birth dates and addresses."""
    hh_of, role = _households(rng, n)
    n_hh = int(hh_of[-1]) + 1
    sizes = np.bincount(hh_of, minlength=n_hh)
    hh_loc = draw(cum, rng, n_hh)
    loc = hh_loc[hh_of]
    big = sizes[hh_of] >= 3
    head_age = np.where(big, rng.uniform(42, 77, n), 18 + 70 * rng.beta(2.0, 2.6, n))[
        np.repeat(np.cumsum(sizes) - sizes, sizes)
    ]
    age = np.where(role == 0, head_age, np.maximum(18, head_age + rng.normal(0, 4, n)))
    age = np.where(role == 2, rng.uniform(18, np.maximum(19, head_age - 22)), age)
    birth = clock.today - (age * 365.25).astype(np.int64) - rng.integers(0, 365, n)
    female = rng.random(n) < 0.5
    head_female = female[np.repeat(np.cumsum(sizes) - sizes, sizes)]
    female = np.where((role == 1) & (rng.random(n) < 0.92), ~head_female, female)
    cols: dict[str, Arr] = {"loc": loc, "female": female, "role": role, "birth": birth}
    cols["gender_known"] = rng.random(n) < 0.98
    cols["birth_known"] = rng.random(n) < 0.85
    for key in ("given", "given_key", "given_ascii", "family", "family_key", "family_ascii"):
        cols[key] = _objects(n)
    cols["rom"] = _objects(n)
    for li, pool in enumerate(pools):
        idx = np.nonzero(loc == li)[0]
        if not len(idx):
            continue
        fam_hh = rng.integers(0, len(pool.family), n_hh)[hh_of[idx]]
        own = rng.integers(0, len(pool.family), len(idx))
        keep = (role[idx] != 1) | (rng.random(len(idx)) < _SHARE_NAME.get(pool.spec.code, 0.8))
        fam = np.where(keep, fam_hh, own)
        for key, arr in (("family", pool.family), ("family_key", pool.family_key)):
            cols[key][idx] = arr[fam]
        cols["family_ascii"][idx] = pool.family_ascii[fam]
        for sex in (0, 1):
            sub = idx[female[idx] == (sex == 0)]
            pick = rng.integers(0, len(pool.given[sex]), len(sub))
            cols["given"][sub] = pool.given[sex][pick]
            cols["given_key"][sub] = pool.given_key[sex][pick]
            cols["given_ascii"][sub] = pool.given_ascii[sex][pick]
        if pool.spec.code == "zh_CN":
            g = pool.romanized[0][rng.integers(0, len(pool.romanized[0]), len(idx))]
            f = pool.romanized[1][rng.integers(0, len(pool.romanized[1]), len(idx))]
            cols["rom"][idx] = g + f
    multi = sizes >= 2
    first = np.cumsum(sizes) - sizes
    hh_names = [
        pools[hh_loc[h]].spec.household.format(cols["family"][first[h]])
        for h in np.nonzero(multi)[0].tolist()
    ]
    hh_local = np.cumsum(multi) - 1
    cols["hh"] = np.where(multi[hh_of], hh_local[hh_of], -1)
    cols["source"] = SOURCES[draw(_SOURCE_P, rng, n)]
    people = People(cols, hh_names)
    _addresses(people, pools, rng, hh_of, hh_loc)
    _emails(people, pools, rng, np.nonzero(rng.random(n) < np.where(age > 75, 0.6, 0.9))[0])
    _phones(people, pools, rng, np.nonzero(rng.random(n) < 0.78)[0])
    return people


def _addresses(
    people: People, pools: list[LocalePool], rng: np.random.Generator, hh_of: Arr, hh_loc: Arr
) -> None:
    n_hh = len(hh_loc)
    place = np.zeros(n_hh, dtype=np.int64)
    for li, pool in enumerate(pools):
        idx = np.nonzero(hh_loc == li)[0]
        place[idx] = draw(pool.place_cum, rng, len(idx))
    number = (1 + rng.pareto(1.3, n_hh) * 8).astype(np.int64) % 400 + 1
    street = rng.integers(0, 10**6, n_hh)
    has_line2 = rng.random(n_hh) < 0.22
    extra = rng.integers(1, 10, (n_hh, 3))
    letters = "ABCDEFGH"
    cols = {k: _objects(n_hh) for k in ("line1", "line2", "code", "locality", "region", "country")}
    lat = np.full(n_hh, np.nan)
    lon = np.full(n_hh, np.nan)
    geo = rng.random(n_hh) < 0.65
    jitter = rng.normal(0, 0.025, (n_hh, 2))
    for h in range(n_hh):
        pool = pools[hh_loc[h]]
        spec, p = pool.spec, place[h]
        cols["line1"][h] = spec.line1.format(
            n=number[h], s=pool.streets[street[h] % len(pool.streets)]
        )
        if has_line2[h]:
            pattern = spec.line2[extra[h, 0] % len(spec.line2)]
            cols["line2"][h] = pattern.replace("{L}", letters[extra[h, 1] % 8]).format(
                a=extra[h, 2]
            )
        cols["code"][h] = pool.place_code[p]
        cols["locality"][h] = pool.place_locality[p]
        cols["region"][h] = pool.place_region[p]
        cols["country"][h] = spec.country
        if geo[h]:
            lat[h] = round(pool.place_lat[p] + jitter[h, 0], 5)
            lon[h] = round(pool.place_lon[p] + jitter[h, 1], 5)
    has = (rng.random(n_hh) < 0.95)[hh_of]
    for key, arr in cols.items():
        people[f"addr_{key}"] = nullable(has, arr[hh_of])
    people["addr_lat"] = np.where(has, lat[hh_of], np.nan)
    people["addr_lon"] = np.where(has, lon[hh_of], np.nan)


def email_local(style: int, given: str, family: str, num: int, year: int) -> str:
    """An e-mail local part in one of the usual shapes (``jean.dupont``, ``jdupont84``…)."""
    parts: list[Any] = [
        f"{given}.{family}",
        f"{given}{family}",
        f"{given[:1]}{family}{num % 100}",
        f"{family}.{given}",
        f"{given}_{family}{num % 1000}",
        f"{given}.{family}{num % 100}",
        f"{given}{year % 100:02d}{num % 10}",
        f"{family}{num}",
    ]
    return str(parts[style])


def _emails(people: People, pools: list[LocalePool], rng: np.random.Generator, idx: Arr) -> None:
    loc = people["loc"][idx]
    emails = _objects(people.n)
    domains = _objects(len(idx))
    for li, pool in enumerate(pools):
        sub = np.nonzero(loc == li)[0]
        domains[sub] = pool.domains[draw(pool.domain_cum, rng, len(sub))]
    style = rng.integers(0, _STYLES, len(idx)).tolist()
    num = rng.integers(1, 10**4, len(idx)).tolist()
    qq = rng.integers(10**5, 10**10, len(idx)).tolist()
    years = (people["birth"][idx] // 365 + 1970).tolist()
    given = people["given_ascii"][idx].tolist()
    family = people["family_ascii"][idx].tolist()
    rom = people["rom"][idx].tolist()
    out = []
    for j, domain in enumerate(domains.tolist()):
        if rom[j] is not None:
            local = str(qq[j]) if domain == "qq.com" else f"{rom[j]}{num[j] % 1000}"
        else:
            local = email_local(style[j], given[j], family[j], num[j], years[j])
        out.append(f"{local}@{domain}")
    emails[idx] = out
    people["email"] = emails


def _phones(people: People, pools: list[LocalePool], rng: np.random.Generator, idx: Arr) -> None:
    e164, raw = _objects(people.n), _objects(people.n)
    mobile = np.zeros(people.n, dtype=bool)
    mobile[idx] = rng.random(len(idx)) < 0.82
    pick = rng.integers(0, 1000, len(idx)).tolist()
    digits = rng.random(len(idx)).tolist()
    as_e164 = (rng.random(len(idx)) < 0.2).tolist()
    out_e164, out_raw = [], []
    for j, (li, is_mobile) in enumerate(
        zip(people["loc"][idx].tolist(), mobile[idx].tolist(), strict=True)
    ):
        pool = pools[li]
        spec = pool.spec
        table = pool.mobile if is_mobile else pool.landline
        prefix, rest = table[pick[j] % len(table)]
        low = 2 * 10 ** (rest - 1) if spec.country == "US" else 0
        nsn = f"{prefix}{int(low + digits[j] * (10**rest - low)):0{rest}d}"
        number = f"+{spec.calling_code}{nsn}"
        national = nsn if (spec.country == "CN" and is_mobile) else spec.trunk + nsn
        out_e164.append(number)
        area = len(spec.trunk) + len(prefix)
        out_raw.append(
            number if as_e164[j] else phone_groups(spec.country, national, is_mobile, area)
        )
    e164[idx] = out_e164
    raw[idx] = out_raw
    people["phone"], people["phone_raw"], people["phone_mobile"] = e164, raw, mobile
