"""Rows of what happened to the persons of a chunk: consents, orders, the campaign, reactions."""

from __future__ import annotations

import json
from itertools import repeat
from typing import Any

import numpy as np

from closedloop.demo.catalog import CONSENT_PAIRS, LANGUAGES, SUBJECTS, proof_text
from closedloop.demo.clock import Arr, nullable
from closedloop.demo.consents import sort_ledger
from closedloop.demo.generate import Chunk, Context, Ids
from closedloop.demo.orders import CHANNELS, ORDER_SOURCES

Row = tuple[Any, ...]
_LANGS = np.array(LANGUAGES)  # sorted: looked up with searchsorted
_PROOF = np.array(
    [[proof_text(lang, ch, pu) for ch, pu, _ in CONSENT_PAIRS] for lang in LANGUAGES], dtype=object
)
_CHANNEL = np.array([ch for ch, _, _ in CONSENT_PAIRS], dtype=object)
_PURPOSE = np.array([pu for _, pu, _ in CONSENT_PAIRS], dtype=object)
_SUBJECT = np.array([[s[lang] for lang in LANGUAGES] for s in SUBJECTS], dtype=object)
_ORDER_PREFIX = np.array(["WS-", "POS-", "CRM-", "ERP-"], dtype=object)
_IP_METHODS = ("web_form", "double_opt_in", "preference_centre", "unsubscribe_link")


def _ids(ids: Ids, table: str, n: int) -> Arr:
    return ids.take(table, n) + np.arange(n, dtype=np.int64)


def history(
    ctx: Context, ids: Ids, c: Chunk, rng: np.random.Generator, pid: Arr, oid: Arr,
    language: Arr, created: Arr, out: dict[str, list[Row]],
) -> None:  # fmt: skip
    """Append the consent, suppression, order and campaign rows of chunk ``c`` to ``out``."""
    _consents(ctx, ids, c, rng, pid, language, out)
    sup, reason = c.suppressed
    note = np.where(reason == "deceased", "Reported by a relative", "Asked not to be contacted")
    out["suppressions"] = list(zip(
        _ids(ids, "suppressions", len(sup)).tolist(), pid[sup].tolist(), reason.tolist(),
        note.tolist(), repeat("crm"), created[sup].tolist(),
    ))  # fmt: skip
    order_ids = _orders(ctx, ids, c, pid, oid, out)
    _campaign(ctx, ids, c, pid, order_ids, language, out)
    buyers = np.unique(c.owner)
    out["identifiers"] = list(zip(
        _ids(ids, "identifiers", len(buyers)).tolist(), pid[buyers].tolist(),
        repeat("customer_number"), [f"C{i:09d}" for i in pid[buyers].tolist()], repeat("erp"),
        created[buyers].tolist(),
    ))  # fmt: skip


def _consents(
    ctx: Context, ids: Ids, c: Chunk, rng: np.random.Generator, pid: Arr, language: Arr,
    out: dict[str, list[Row]],
) -> None:  # fmt: skip
    e = c.events
    order, current = sort_ledger(e)
    person, pair, granted = e.person[order], e.pair[order], e.granted[order]
    method, day = e.method[order], e.day[order]
    n = len(person)
    eid = _ids(ids, "consent_events", n)
    lang = np.searchsorted(_LANGS, language[person])
    proof = nullable(granted, _PROOF[lang, pair])
    version = nullable(granted, np.where(day < ctx.clock.start + 400, "v1", "v2"))
    at = np.array(ctx.clock.stamps(day, e.sec[order]), dtype=object)
    ip = [
        f"{a}.{b}.{d}.{f}" if m in _IP_METHODS else None
        for m, a, b, d, f in zip(
            method.tolist(), *rng.integers(1, 255, (4, n)).tolist(), strict=True
        )
    ]
    agent = np.char.add("agent", rng.integers(10, 60, n).astype(str)).astype(object)
    by = nullable(method == "paper", "backoffice")
    by[method == "agent"] = agent[method == "agent"]
    state = np.where(granted, "granted", "withdrawn")
    out["consent_events"] = list(zip(  # noqa: B905 (equal lengths)
        eid.tolist(), pid[person].tolist(), _CHANNEL[pair].tolist(), _PURPOSE[pair].tolist(),
        state.tolist(), at.tolist(), method.tolist(), proof.tolist(), version.tolist(),
        e.source[order].tolist(), ip, by.tolist(), at.tolist(),
    ))  # fmt: skip
    out["consent_current"] = list(zip(  # noqa: B905
        pid[person[current]].tolist(), _CHANNEL[pair[current]].tolist(),
        _PURPOSE[pair[current]].tolist(), state[current].tolist(), eid[current].tolist(),
        at[current].tolist(),
    ))  # fmt: skip


def _orders(ctx: Context, ids: Ids, c: Chunk, pid: Arr, oid: Arr, out: dict[str, list[Row]]) -> Arr:
    m = len(c.owner)
    order_ids = _ids(ids, "orders", m)
    at = ctx.clock.stamps(c.day, c.sec)
    org = nullable(c.b2b, oid[np.maximum(c.employer[c.owner], 0)])
    campaign = nullable(c.attributed, ctx.campaign.campaign_id)
    external = (_ORDER_PREFIX[c.channel] + order_ids.astype(str).astype(object)).tolist()
    orders = list(zip(
        order_ids.tolist(), pid[c.owner].tolist(), at, CHANNELS[c.channel].tolist(),
        repeat("EUR"), (c.totals / 100).tolist(), repeat("completed"), at,
        ORDER_SOURCES[c.channel].tolist(), external, repeat(ctx.batch_id),
    ))  # fmt: skip
    # Orders of a company or attributed to the campaign carry two more columns.
    linked = c.b2b | c.attributed
    out["orders"] = [row for row, x in zip(orders, linked.tolist(), strict=True) if not x]
    out["orders|linked"] = [
        (*orders[i], o, k)
        for i, o, k in zip(np.nonzero(linked)[0].tolist(), org[linked].tolist(),
                           campaign[linked].tolist(), strict=True)
    ]  # fmt: skip
    ln = c.lines
    out["order_lines"] = list(zip(  # noqa: B905
        _ids(ids, "order_lines", len(ln.order)).tolist(), order_ids[ln.order].tolist(),
        ln.line_no.tolist(), ln.product.tolist(), ln.quantity.tolist(), (ln.unit / 100).tolist(),
        (ln.amount / 100).tolist(),
    ))  # fmt: skip
    return order_ids


def _campaign(
    ctx: Context, ids: Ids, c: Chunk, pid: Arr, order_ids: Arr, language: Arr,
    out: dict[str, list[Row]],
) -> None:  # fmt: skip
    ref, mem, clock = ctx.campaign, c.members, ctx.clock
    k = len(mem.person)
    person = pid[mem.person]
    cells = np.array(ref.cell_ids)[mem.cell]
    assigned = clock.stamps(np.full(k, ref.day - 1), np.full(k, 16 * 3600))
    out["campaign_members"] = list(zip(
        _ids(ids, "campaign_members", k).tolist(), repeat(ref.campaign_id), cells.tolist(),
        person.tolist(), assigned,
    ))  # fmt: skip
    treated = np.nonzero(mem.treated)[0]
    comm = np.full(k, -1, dtype=np.int64)
    comm[treated] = _ids(ids, "communications", len(treated))
    days = np.full(len(treated), ref.day)
    sent = clock.stamps(days, mem.sent[treated])
    lang = np.searchsorted(_LANGS, language[mem.person[treated]])
    out["communications"] = list(zip(
        comm[treated].tolist(), person[treated].tolist(), repeat(ref.campaign_id),
        repeat(ref.wave_id), cells[treated].tolist(), repeat("email"),
        mem.status[treated].tolist(), c.people["email"][mem.person[treated]].tolist(),
        _SUBJECT[mem.cell[treated], lang].tolist(), sent, repeat(ref.unit_cost),
        [f"<{i}.demo@mail.closedloop.invalid>" for i in comm[treated].tolist()], sent,
    ))  # fmt: skip
    events: list[tuple[Arr, str, Arr, Any]] = [
        (np.nonzero(mem.status == "bounced")[0], "bounce", mem.sent + 90, '{"type": "hard"}'),
        (np.nonzero(mem.opened >= 0)[0], "open", mem.opened, None),
        (np.nonzero(mem.clicked >= 0)[0], "click", mem.clicked, '{"link": "offer"}'),
        (np.nonzero(mem.unsubscribed >= 0)[0], "unsubscribe", mem.unsubscribed, None),
    ]
    rows: list[Row] = []
    for who, kind, rel, detail in events:
        d, s = clock.normalise(np.full(len(who), ref.day), rel[who])
        at = clock.stamps(d, s)
        first = ids.take("responses", len(who))
        for j, (i, t) in enumerate(zip(who.tolist(), at, strict=True)):
            rows.append((first + j, int(person[i]), ref.campaign_id, int(comm[i]), kind, t,
                         detail, "esp", t))  # fmt: skip
    out["responses"] = rows
    rows = []
    member, order = c.responders
    at = clock.stamps(c.day[order], c.sec[order])
    first = ids.take("responses", len(member))
    window = json.dumps({"window_days": ref.window_days})
    for j, (i, o, t) in enumerate(zip(member.tolist(), order.tolist(), at, strict=True)):
        link = int(comm[i]) if comm[i] >= 0 else None
        amount = float(c.totals[o]) / 100
        rows.append((first + j, int(person[i]), ref.campaign_id, link, "purchase", t, amount,
                     int(order_ids[o]), window, "webshop", t))  # fmt: skip
    out["responses|purchase"] = rows
    bounced = np.nonzero(mem.status == "bounced")[0]
    email = c.people["email"][mem.person[bounced]].tolist()
    at_b = clock.stamps(np.full(len(bounced), ref.day), mem.sent[bounced] + 90)
    out["suppressions|value"] = list(zip(
        _ids(ids, "suppressions", len(bounced)).tolist(), person[bounced].tolist(),
        [e.lower() for e in email], repeat("email"), repeat("bounced"),
        repeat("Hard bounce of the campaign e-mail"), repeat("esp"), at_b,
    ))  # fmt: skip
