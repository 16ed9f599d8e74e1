"""Organisations of a chunk and the typed links between people, households and companies.

Household members point to their household (and children to their parents, partners to each
other: ``role`` names what the related person is to the person); some persons work for an
organisation of their country, a share of them sits in its buying centre; a few were referred
by someone who was already a customer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from closedloop.demo.clock import Arr, Clock
from closedloop.demo.locales import INDUSTRIES
from closedloop.demo.pools import LocalePool, ascii_fold, draw, name_key

_SUFFIXES = {
    "SA", "S.A.", "SARL", "SAS", "SNC", "EURL", "GmbH", "AG", "KG", "GbR", "OHG", "KGaA", "S.L.",
    "S.L.U.", "S.Com.", "S.A.U.", "S.R.L.", "SRL", "PFA", "Ltd", "PLC", "LLC", "Inc", "Inc.",
    "Group", "e.V.", "mbH", "&", "Co.", "S.C.S.", "y", "asociados", "Hermanos", "S.Coop.", "Corp.",
    "S.A.R.L.", "S.A.S.", "and", "Sons", "S.L.L.", "S.C.", "S.N.C.",
}  # fmt: skip
JOBS = (
    "Purchasing manager", "Sales representative", "Engineer", "Accountant", "Marketing manager",
    "Managing director", "Consultant", "Technician", "HR manager", "Project manager",
)  # fmt: skip
BUYING_ROLES = ("decider", "buyer", "influencer", "user", "gatekeeper")


@dataclass
class Organisations:
    """Organisations of a chunk as columns (index = position in the chunk)."""

    loc: Arr
    name: list[str]
    legal_form: list[str]
    registration: list[str]
    industry: Arr
    employees: Arr
    revenue: Arr
    domain: list[str | None]
    created: Arr


def _registration(country: str, rnd: np.random.Generator) -> str:
    n = int(rnd.integers(10**7, 10**9))
    return {
        "FR": f"{n:09d}", "DE": f"HRB {n % 10**6}", "ES": f"B{n % 10**8:08d}",
        "RO": f"J{n % 52 + 1:02d}/{n % 9999 + 1}/{1995 + n % 30}", "GB": f"{n % 10**8:08d}",
        "US": f"{n % 100:02d}-{n % 10**7:07d}", "CN": f"91{n:09d}{n % 10**7:07d}",
    }[country]  # fmt: skip


def organisations(
    pools: list[LocalePool], cum: Arr, clock: Clock, rng: np.random.Generator, count: int
) -> Organisations:
    """Draw ``count`` organisations with a legal form, size, revenue and web domain."""
    loc = draw(cum, rng, count)
    employees = np.maximum(1, rng.lognormal(2.6, 1.5, count)).astype(np.int64)
    names, forms, regs, domains = [], [], [], []
    for li, pick in zip(loc.tolist(), rng.integers(0, 10**6, count).tolist(), strict=True):
        pool = pools[li]
        base = str(pool.companies[pick % len(pool.companies)])
        if pool.spec.code == "zh_CN":
            form = "股份有限公司" if base.endswith("股份有限公司") else "有限公司"
            names.append(base if base.endswith(form) else base + form)
            slug = f"{pool.romanized[1][pick % len(pool.romanized[1])]}{pick % 1000}"
        else:
            words = base.replace(",", "").split()
            while len(words) > 1 and words[-1] in _SUFFIXES:
                words.pop()
            form = pool.spec.legal_forms[pick % len(pool.spec.legal_forms)]
            names.append(f"{' '.join(words)} {form}")
            slug = "-".join(filter(None, (ascii_fold(w, pool.spec.code == "de_DE") for w in words)))
        forms.append(form)
        regs.append(_registration(pool.spec.country, rng))
        domains.append(f"{slug}.{pool.spec.tld}" if slug and pick % 10 else None)
    return Organisations(
        loc=loc, name=names, legal_form=forms, registration=regs,
        industry=rng.integers(0, len(INDUSTRIES), count), employees=employees,
        revenue=employees * rng.integers(40_000, 250_000, count) * 100,
        domain=domains, created=clock.start - rng.integers(0, 4000, count),
    )  # fmt: skip


def org_key(name: str) -> str:
    """Search key of an organisation name."""
    return name_key(name)


def employment(
    rng: np.random.Generator, loc: Arr, age: Arr, eligible: Arr, orgs: Organisations
) -> tuple[Arr, Arr]:
    """Organisation (chunk index, or -1) of each person, and whether they decide purchases."""
    n = len(loc)
    org = np.full(n, -1, dtype=np.int64)
    works = eligible & (age >= 22) & (age <= 66) & (rng.random(n) < 0.2)
    for li in np.unique(orgs.loc).tolist():
        local = np.nonzero(orgs.loc == li)[0]
        who = np.nonzero(works & (loc == li))[0]
        size = orgs.employees[local].astype(np.float64)  # big employers have more staff here
        org[who] = local[np.searchsorted(np.cumsum(size) / size.sum(), rng.random(len(who)))]
    decides = (org >= 0) & (rng.random(n) < 0.35)
    return org, decides


def family_links(hh: Arr, role: Arr) -> tuple[Arr, Arr, Arr]:
    """(person, related person, role) of partners and parents within each household."""
    member = np.nonzero(hh >= 0)[0]
    head = np.full(int(hh.max(initial=-1)) + 1, -1, dtype=np.int64)
    partner = head.copy()
    head[hh[member[role[member] == 0]]] = member[role[member] == 0]
    partner[hh[member[role[member] == 1]]] = member[role[member] == 1]
    kids = member[role[member] == 2]
    pairs = [
        (member[role[member] == 1], head[hh[member[role[member] == 1]]], "spouse"),
        (kids, head[hh[kids]], "parent"),
        (kids, partner[hh[kids]], "parent"),
    ]
    person = np.concatenate([p[0] for p in pairs])
    related = np.concatenate([p[1] for p in pairs])
    roles = np.concatenate([np.full(len(p[0]), p[2], dtype=object) for p in pairs])
    ok = related >= 0
    return person[ok], related[ok], roles[ok]


def referrals(rng: np.random.Generator, n_base: int, created: Arr) -> tuple[Arr, Arr]:
    """A few persons referred by someone created before them (person, referrer)."""
    person = np.nonzero(rng.random(n_base) < 0.04)[0]
    person = person[person > 0]
    referrer = (rng.random(len(person)) * person).astype(np.int64)
    ok = created[referrer] < created[person]
    return person[ok], referrer[ok]
