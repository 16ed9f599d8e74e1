"""Changed contact points of a stored person or organisation: an email, phone or address
already on the record (from any source) is kept; a new one replaces the one this source gave
before, else it is added. Each function adds to the chunk's :class:`Plan` and says whether
the record changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from closedloop.contacts.normalize import search_key
from closedloop.ingest.validate.context import Context
from closedloop.ingest.validate.prepare import ADDRESS_COLUMNS, ADDRESS_FIELDS, PartyRow
from closedloop.ingest.write.attributes import canon_value
from closedloop.ingest.write.persons.plan import Plan, jsonable

if TYPE_CHECKING:
    from closedloop.ingest.write.persons.classify import PartySpec


def emails_changed(
    ctx: Context,
    spec: PartySpec,
    plan: Plan,
    pid: int,
    row: PartyRow,
    current: list[dict[str, Any]],
) -> bool:
    touched = False
    keys = {key for _, key in row.emails}
    for address, key in row.emails:
        if any(e["address_key"] == key for e in current):
            continue
        mine = next(
            (
                e
                for e in current
                if e["source_system"] == ctx.source and e["address_key"] not in keys
            ),
            None,
        )
        touched = True
        if mine is not None:
            plan.email_updates.append((address, key, ctx.now, mine["id"]))
            plan.change(
                "email",
                mine["id"],
                "updated",
                {
                    "before": {"address": mine["address"], "address_key": mine["address_key"]},
                    "after": {"address": address, "address_key": key},
                },
            )
            plan.sources.append(("email", mine["id"], "address", ctx.source, ctx.batch_id, ctx.now))
            mine["address_key"] = key
        else:
            plan.email_inserts.append(
                (pid, spec.contact_kind, not current, True, ctx.source, ctx.now, ctx.now,
                 address, key)
            )  # fmt: skip
            current.append({"address_key": key, "source_system": ctx.source, "id": None})
    return touched


def phones_changed(
    ctx: Context,
    spec: PartySpec,
    plan: Plan,
    pid: int,
    row: PartyRow,
    current: list[dict[str, Any]],
) -> bool:
    touched = False
    numbers = {p[0] for p in row.phones}
    for e164, raw, line_type in row.phones:
        if any(p["e164"] == e164 for p in current):
            continue
        mine = next(
            (p for p in current if p["source_system"] == ctx.source and p["e164"] not in numbers),
            None,
        )
        touched = True
        if mine is not None:
            plan.phone_updates.append((e164, raw, line_type, ctx.now, mine["id"]))
            plan.change(
                "phone",
                mine["id"],
                "updated",
                {
                    "before": {k: mine[k] for k in ("e164", "raw", "line_type")},
                    "after": {"e164": e164, "raw": raw, "line_type": line_type},
                },
            )
            plan.sources.append(("phone", mine["id"], "e164", ctx.source, ctx.batch_id, ctx.now))
            mine["e164"] = e164
        else:
            plan.phone_inserts.append(
                (pid, spec.contact_kind, not current, True, ctx.source, ctx.now, ctx.now,
                 e164, raw, line_type)
            )  # fmt: skip
            current.append({"e164": e164, "source_system": ctx.source, "id": None})
    return touched


def _same_place(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(
        (search_key(str(a[c])) if a[c] is not None else None)
        == (search_key(str(b[c])) if b[c] is not None else None)
        for c in ("line1", "postal_code", "country")
    )


def address_changed(
    ctx: Context,
    spec: PartySpec,
    plan: Plan,
    pid: int,
    row: PartyRow,
    current: list[dict[str, Any]],
) -> bool:
    new = row.address
    if new is None:
        return False
    mine = next((a for a in current if a["source_system"] == ctx.source), None)
    if mine is None:
        if any(_same_place(a, new) for a in current):
            return False
        plan.address_inserts.append(
            (pid, spec.contact_kind, not current, True, ctx.source, ctx.now, ctx.now,
             *(new[c] for c in ADDRESS_COLUMNS))
        )  # fmt: skip
        return True
    given = [c for c in ADDRESS_FIELDS if new[c] is not None]
    diff = [c for c in given if canon_value(mine[c]) != canon_value(new[c])]
    if not diff:
        return False
    # a cell left empty keeps the stored part; the checked columns come with the row
    merged = {
        c: mine[c] if c in ADDRESS_FIELDS and c not in given else new[c] for c in ADDRESS_COLUMNS
    }
    plan.address_updates.append((*(merged[c] for c in ADDRESS_COLUMNS), ctx.now, mine["id"]))
    plan.change(
        "address",
        mine["id"],
        "updated",
        {
            "before": {c: jsonable(mine[c]) for c in ADDRESS_COLUMNS},
            "after": {c: jsonable(merged[c]) for c in ADDRESS_COLUMNS},
        },
    )
    for c in diff:
        plan.sources.append(("address", mine["id"], c, ctx.source, ctx.batch_id, ctx.now))
    return True
