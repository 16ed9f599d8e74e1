"""Turn a simulated chunk into row tuples per table, with ids taken from the counters.

Column lists are spelled out here, next to the tuples they describe; the order of
:data:`TABLES` is a valid insertion order for the foreign keys.
"""

from __future__ import annotations

from itertools import repeat
from typing import Any

import numpy as np

from closedloop.demo.clock import Arr, nullable
from closedloop.demo.generate import Chunk, Context, Ids
from closedloop.demo.history import history
from closedloop.demo.locales import INDUSTRIES, phone_groups
from closedloop.demo.relations import BUYING_ROLES, JOBS, family_links, org_key, referrals
from closedloop.demo.traits import TraitWriter, org_traits, person_traits

Row = tuple[Any, ...]
_CP = "kind, is_primary, is_valid, source_system, created_at, updated_at"
_AV = "id, definition_id, {}, {}, source_system, updated_at"
_REL = "id, person_id, kind, {}, role, starts_on, source_system, created_at"
#: Columns per table, in a valid insertion order. A table can have several "shapes"
#: (``table|shape``): binding a NULL costs the driver more than any value, so columns that are
#: always NULL in a group of rows are left out of its INSERT instead.
COLUMNS: dict[str, str] = {
    "households": "id, name, created_at",
    "organisations": "id, version, name, name_key, legal_form, registration_number, industry, "
    "employee_count, annual_revenue, website, created_at, updated_at, source_system, "
    "external_id, import_batch_id",
    "persons": "id, version, lifecycle_status, salutation, given_name, family_name, given_key, "
    "family_key, gender, birth_date, language, preferred_channel, preferred_time, created_at, "
    "updated_at, source_system, external_id, import_batch_id",
    "emails": f"id, person_id, {_CP}, address, address_key",
    "emails|org": f"id, organisation_id, {_CP}, address, address_key",
    "phones": f"id, person_id, {_CP}, e164, raw, line_type",
    "phones|org": f"id, organisation_id, {_CP}, e164, raw, line_type",
    "addresses": f"id, person_id, {_CP}, line1, line2, postal_code, locality, region, country, "
    "latitude, longitude, status",
    "addresses|org": f"id, organisation_id, {_CP}, line1, postal_code, locality, region, "
    "country, status",
    "relationships|household_id": _REL.format("household_id"),
    "relationships|related_person_id": _REL.format("related_person_id"),
    "relationships|organisation_id": _REL.format("organisation_id"),
    "identifiers": "id, person_id, scheme, value, source_system, created_at",
    "attribute_values|choice": _AV.format("person_id", "choice_id"),
    "attribute_values|number": _AV.format("person_id", "value_number"),
    "attribute_values|org": _AV.format("organisation_id", "choice_id"),
    "consent_events": "id, person_id, channel, purpose, state, occurred_at, method, proof_text, "
    "proof_version, source_system, ip_address, recorded_by, recorded_at",
    "consent_current": "person_id, channel, purpose, state, event_id, since",
    "suppressions": "id, person_id, reason, note, source_system, created_at",
    "orders": "id, person_id, ordered_at, channel, currency, total_amount, status, created_at, "
    "source_system, external_id, import_batch_id",
    "orders|linked": "id, person_id, ordered_at, channel, currency, total_amount, status, "
    "created_at, source_system, external_id, import_batch_id, organisation_id, campaign_id",
    "order_lines": "id, order_id, line_no, product_id, quantity, unit_price, amount",
    "campaign_members": "id, campaign_id, cell_id, person_id, assigned_at",
    "communications": "id, person_id, campaign_id, wave_id, cell_id, channel, status, "
    "recipient, subject, sent_at, cost, external_ref, created_at",
    "suppressions|value": "id, person_id, value_key, channel, reason, note, source_system, "
    "created_at",
    "responses": "id, person_id, campaign_id, communication_id, kind, occurred_at, detail, "
    "source_system, created_at",
    "responses|purchase": "id, person_id, campaign_id, communication_id, kind, occurred_at, "
    "amount, order_id, detail, source_system, created_at",
    "duplicate_truth": "id, person_id, original_id, perturbation, source, created_at",
}
TABLES = tuple(COLUMNS)
_PREFIX = {"webshop": "WS", "pos": "POS", "crm": "CRM", "events": "EVT", "erp": "ERP"}
_ROLES = np.array(["head", "partner", "child"], dtype=object)


def _pick(options: list[str | None], cum: list[float], rng: np.random.Generator, n: int) -> Arr:
    arr = np.array(options, dtype=object)
    out: Arr = arr[
        np.searchsorted(np.array(cum), rng.random(n), side="right").clip(0, len(arr) - 1)
    ]
    return out


def _ids(ids: Ids, table: str, n: int) -> Arr:
    return ids.take(table, n) + np.arange(n, dtype=np.int64)


def _stamps(ctx: Context, rng: np.random.Generator, days: Arr) -> Arr:
    return np.array(
        ctx.clock.stamps(days, rng.integers(8 * 3600, 20 * 3600, len(days))), dtype=object
    )


def emit(ctx: Context, ids: Ids, c: Chunk, rng: np.random.Generator) -> dict[str, list[Row]]:
    """Every row of chunk ``c``, per table, in insertion order."""
    p = c.people
    n = p.n
    out: dict[str, list[Row]] = {t: [] for t in TABLES}
    pid = _ids(ids, "persons", n)
    created = _stamps(ctx, rng, c.created)
    specs = [pool.spec for pool in ctx.pools]
    loc = p["loc"]
    female, known = p["female"], p["gender_known"]
    sal = np.array(
        [[s.salutations[0] for s in specs], [s.salutations[1] for s in specs]], dtype=object
    )
    salutation = nullable(known & (rng.random(n) < 0.9), sal[(~female).astype(int), loc])
    gender = nullable(known, np.where(female, "female", "male"))
    birth = nullable(p["birth_known"], ctx.clock.dates(p["birth"]))
    language = np.array([s.language for s in specs], dtype=object)[loc]
    channel = _pick([None, "email", "sms", "letter", "phone"], [0.45, 0.75, 0.83, 0.93, 1], rng, n)
    when = _pick(
        [None, "morning", "afternoon", "evening", "weekend"], [0.6, 0.7, 0.8, 0.93, 1], rng, n
    )
    source = p["source"].tolist()
    external = [f"{_PREFIX[s]}-{i}" for s, i in zip(source, pid.tolist(), strict=True)]
    out["persons"] = list(zip(
        pid.tolist(), repeat(1), c.status.tolist(), salutation.tolist(), p["given"].tolist(),
        p["family"].tolist(), p["given_key"].tolist(), p["family_key"].tolist(), gender.tolist(),
        birth.tolist(), language.tolist(), channel.tolist(), when.tolist(), created.tolist(),
        created.tolist(), source, external, repeat(ctx.batch_id),
    ))  # fmt: skip
    hh_ids = _ids(ids, "households", len(p.households))
    first_member = np.unique(p["hh"][p["hh"] >= 0], return_index=True)[1]
    hh_created = created[np.nonzero(p["hh"] >= 0)[0][first_member]]
    out["households"] = list(zip(hh_ids.tolist(), p.households, hh_created.tolist(), strict=True))
    org_ids = _organisations(ctx, ids, c, rng, out)
    _contacts(ctx, ids, c, pid, org_ids, created, out)
    _relationships(ctx, ids, c, rng, pid, hh_ids, org_ids, created, out)
    history(ctx, ids, c, rng, pid, org_ids, language, created, out)
    traits = TraitWriter(ctx.definitions, ctx.choices, lambda k: ids.take("attribute_values", k))
    age = (ctx.clock.today - p["birth"]) / 365.25
    partnered = (p["hh"] >= 0) & (p["role"] < 2)
    kids = np.zeros(n, dtype=np.int64)
    child = (p["hh"] >= 0) & (p["role"] == 2)
    np.add.at(kids, p["hh"][child], 1)
    n_kids = np.where(p["hh"] >= 0, kids[np.maximum(p["hh"], 0)], 0)
    person_traits(
        traits, rng, pid, age, p["role"], partnered, n_kids, c.habits.favourite,
        c.habits.price_level, created,
    )  # fmt: skip
    org_stamps = np.array(
        ctx.clock.stamps(c.orgs.created, np.full(len(org_ids), 36000)), dtype=object
    )
    org_traits(traits, rng, org_ids, c.orgs.industry, c.orgs.employees, org_stamps)
    for shape, rows in traits.rows.items():
        out[f"attribute_values|{shape}"] = rows
    dup_ids = pid[c.n_base :]
    out["duplicate_truth"] = list(zip(
        _ids(ids, "duplicate_truth", len(dup_ids)).tolist(), dup_ids.tolist(),
        pid[c.original].tolist(), c.labels, repeat("demo"), created[c.n_base :].tolist(),
    ))  # fmt: skip
    return out


def _organisations(
    ctx: Context, ids: Ids, c: Chunk, rng: np.random.Generator, out: dict[str, list[Row]]
) -> Arr:
    o = c.orgs
    k = len(o.name)
    oid = _ids(ids, "organisations", k)
    stamps = _stamps(ctx, rng, o.created).tolist()
    industry = [INDUSTRIES[i] for i in o.industry.tolist()]
    website = [f"https://www.{d}" if d else None for d in o.domain]
    out["organisations"] = list(zip(
        oid.tolist(), repeat(1), o.name, [org_key(x) for x in o.name], o.legal_form,
        o.registration, industry, o.employees.tolist(), (o.revenue / 100).tolist(), website,
        stamps, stamps, repeat("crm"), [f"ORG-{i}" for i in oid.tolist()], repeat(ctx.batch_id),
    ))  # fmt: skip
    pick = rng.integers(0, 10**6, (k, 4)).tolist()
    for j in range(k):
        pool = ctx.pools[int(o.loc[j])]
        spec, a = pool.spec, pick[j]
        place = int(np.searchsorted(pool.place_cum, (a[0] % 1000) / 1000, side="right"))
        place = min(place, len(pool.place_code) - 1)
        line1 = spec.line1.format(n=a[1] % 150 + 1, s=pool.streets[a[2] % len(pool.streets)])
        work = ("work", 1, 1, "crm", stamps[j], stamps[j])
        out["addresses|org"].append((
            ids.take("addresses", 1), int(oid[j]), *work, line1, pool.place_code[place],
            pool.place_locality[place], pool.place_region[place], spec.country, "unchecked",
        ))  # fmt: skip
        prefix, rest = pool.landline[a[3] % len(pool.landline)]
        low = 2 * 10 ** (rest - 1) if spec.country == "US" else 0
        nsn = f"{prefix}{low + a[3] * 7919 % (10**rest - low):0{rest}d}"
        e164 = f"+{spec.calling_code}{nsn}"
        raw = phone_groups(spec.country, spec.trunk + nsn, False, len(spec.trunk) + len(prefix))
        out["phones|org"].append((ids.take("phones", 1), int(oid[j]), *work, e164, raw, "landline"))
        if o.domain[j]:
            address = f"{('info', 'contact', 'office')[a[0] % 3]}@{o.domain[j]}"
            out["emails|org"].append((ids.take("emails", 1), int(oid[j]), *work, address, address))
    return oid


def _contacts(
    ctx: Context, ids: Ids, c: Chunk, pid: Arr, oid: Arr, created: Arr, out: dict[str, list[Row]]
) -> None:
    p = c.people
    bounced = np.zeros(p.n, dtype=bool)
    bounced[c.members.person[c.members.status == "bounced"]] = True
    has = np.nonzero(p["email"] != None)[0]  # noqa: E711
    email = p["email"][has].tolist()
    out["emails"].extend(zip(
        _ids(ids, "emails", len(has)).tolist(), pid[has].tolist(), repeat("private"),
        repeat(1), (~bounced[has]).astype(int).tolist(), p["source"][has].tolist(),
        created[has].tolist(), created[has].tolist(), email, [e.lower() for e in email],
    ))  # fmt: skip
    # A third of the employees also have a work address at their organisation's domain.
    domain = np.array([*c.orgs.domain, None], dtype=object)[c.employer]
    work = np.nonzero((c.employer >= 0) & (domain != None) & (np.arange(p.n) % 3 == 0))[0]  # noqa: E711
    local = [
        f"{g}.{f}" if r is None else str(r)
        for g, f, r in zip(
            p["given_ascii"][work], p["family_ascii"][work], p["rom"][work], strict=True
        )
    ]
    address = [f"{x}@{d}" for x, d in zip(local, domain[work], strict=True)]
    out["emails"].extend(zip(
        _ids(ids, "emails", len(work)).tolist(), pid[work].tolist(), repeat("work"),
        repeat(0), repeat(1), repeat("crm"), created[work].tolist(), created[work].tolist(),
        address, address,
    ))  # fmt: skip
    has = np.nonzero(p["phone"] != None)[0]  # noqa: E711
    line = np.where(p["phone_mobile"][has], "mobile", "landline").tolist()
    out["phones"].extend(zip(
        _ids(ids, "phones", len(has)).tolist(), pid[has].tolist(), repeat("private"),
        repeat(1), repeat(1), p["source"][has].tolist(), created[has].tolist(),
        created[has].tolist(), p["phone"][has].tolist(), p["phone_raw"][has].tolist(), line,
    ))  # fmt: skip
    has = np.nonzero(p["addr_code"] != None)[0]  # noqa: E711
    lat = p["addr_lat"][has]
    lon = p["addr_lon"][has]
    out["addresses"].extend(zip(
        _ids(ids, "addresses", len(has)).tolist(), pid[has].tolist(), repeat("private"),
        repeat(1), repeat(1), p["source"][has].tolist(), created[has].tolist(),
        created[has].tolist(), p["addr_line1"][has].tolist(), p["addr_line2"][has].tolist(),
        p["addr_code"][has].tolist(), p["addr_locality"][has].tolist(),
        p["addr_region"][has].tolist(), p["addr_country"][has].tolist(),
        nullable(~np.isnan(lat), lat).tolist(), nullable(~np.isnan(lon), lon).tolist(),
        repeat("unchecked"),
    ))  # fmt: skip


def _relationships(
    ctx: Context, ids: Ids, c: Chunk, rng: np.random.Generator, pid: Arr, hh_ids: Arr,
    oid: Arr, created: Arr, out: dict[str, list[Row]],
) -> None:  # fmt: skip
    p = c.people
    dates = ctx.clock.dates(c.created)
    rows: list[tuple[Arr, str, str, Arr, Any, Any]] = []  # who, kind, target, ids, role, since
    member = np.nonzero(p["hh"] >= 0)[0]
    rows.append((member, "household_member", "household_id", hh_ids[p["hh"][member]],
                 _ROLES[p["role"][member]], dates[member]))  # fmt: skip
    who, related, role = family_links(p["hh"], p["role"])
    since = np.maximum(c.created[who], c.created[related])  # family since both are known
    rows.append((who, "family", "related_person_id", pid[related], role, ctx.clock.dates(since)))
    works = np.nonzero(c.employer >= 0)[0]
    hired = np.maximum(c.created[works], ctx.clock.today - rng.integers(30, 4000, len(works)))
    jobs = np.array(JOBS, dtype=object)[rng.integers(0, len(JOBS), len(works))]
    hired_on = ctx.clock.dates(hired)
    rows.append((works, "employee_of", "organisation_id", oid[c.employer[works]], jobs, hired_on))
    dm = np.nonzero(c.decides[works])[0]
    buying = np.array(BUYING_ROLES, dtype=object)[rng.integers(0, len(BUYING_ROLES), len(dm))]
    rows.append((works[dm], "decision_maker", "organisation_id", oid[c.employer[works[dm]]],
                 buying, hired_on[dm]))  # fmt: skip
    person, referrer = referrals(rng, c.n_base, c.created)
    rows.append((person, "referred_by", "related_person_id", pid[referrer], "referral",
                 dates[person]))  # fmt: skip
    for who, kind, target, target_ids, role, starts in rows:
        k = len(who)
        roles = role.tolist() if isinstance(role, np.ndarray) else repeat(role, k)
        out[f"relationships|{target}"].extend(zip(
            _ids(ids, "relationships", k).tolist(), pid[who].tolist(), repeat(kind),
            target_ids.tolist(), roles, starts.tolist(), repeat("crm"), created[who].tolist(),
        ))  # fmt: skip
