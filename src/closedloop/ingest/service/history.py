"""Which persons an import batch created have gained history since, and what its rollback
would remove (the figures of the confirmation page and of ``imports rollback``).

Rolling a batch back is a mass delete, so it honours the rule of a person delete: history is
kept. A person the batch created is *kept* when, since, they have orders from another batch
or the API, communications sent, responses, a merge (either side), consent events recorded
by other means than this batch, or their record was changed (version > 1). The rollback
removes the others and reports how many it kept and why.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from closedloop.i18n import N_

#: What makes a person's history: (label, SQL condition on ``p``, the person row). ``:b`` is
#: the batch being rolled back.
HISTORY: tuple[tuple[str, str], ...] = (
    (
        N_("orders from another import or the API"),
        "EXISTS (SELECT 1 FROM orders o WHERE o.person_id = p.id "
        "AND (o.import_batch_id IS NULL OR o.import_batch_id <> :b))",
    ),
    (N_("communications"), "EXISTS (SELECT 1 FROM communications c WHERE c.person_id = p.id)"),
    (N_("responses"), "EXISTS (SELECT 1 FROM responses r WHERE r.person_id = p.id)"),
    (
        N_("merges"),
        "EXISTS (SELECT 1 FROM merge_events m WHERE m.golden_id = p.id OR m.source_id = p.id)",
    ),
    (
        N_("consents recorded since"),
        "EXISTS (SELECT 1 FROM consent_events ce WHERE ce.person_id = p.id AND ce.id NOT IN "
        "(SELECT ic.entity_id FROM import_changes ic WHERE ic.batch_id = :b "
        "AND ic.entity = 'consent_event'))",
    ),
    (N_("changes since the import"), "p.version > 1"),
)
#: True for a person row ``p`` that has history (any of :data:`HISTORY`).
HAS_HISTORY = "(" + " OR ".join(cond for _label, cond in HISTORY) + ")"


def kept_persons(conn: Connection, batch_id: int) -> dict[str, int]:
    """How many persons the batch created have each kind of history (a person may count
    under several), and ``total``: how many are kept."""
    out: dict[str, int] = {}
    for label, cond in HISTORY:
        sql = f"SELECT COUNT(*) FROM persons p WHERE p.import_batch_id = :b AND {cond}"  # noqa: S608
        n = int(conn.execute(text(sql), {"b": batch_id}).scalar_one())
        if n:
            out[label] = n
    total = f"SELECT COUNT(*) FROM persons p WHERE p.import_batch_id = :b AND {HAS_HISTORY}"  # noqa: S608
    out["total"] = int(conn.execute(text(total), {"b": batch_id}).scalar_one())
    return out


def kept_ids(conn: Connection, batch_id: int) -> list[int]:
    """The persons the batch created that have history (kept by a rollback)."""
    sql = f"SELECT p.id FROM persons p WHERE p.import_batch_id = :b AND {HAS_HISTORY}"  # noqa: S608
    return [int(i) for i in conn.execute(text(sql), {"b": batch_id}).scalars()]


#: the consent events a rollback removes: those the batch recorded, and those of the persons
#: it removes (``{gone}``: which persons)
_CONSENTS_GONE = (
    "SELECT COUNT(*) FROM consent_events ce WHERE ce.id IN (SELECT ic.entity_id FROM "
    "import_changes ic WHERE ic.batch_id = :b AND ic.entity = 'consent_event') "
    "OR ce.person_id IN (SELECT p.id FROM persons p WHERE {gone})"
)


def _count(conn: Connection, sql: str, batch_id: int) -> int:
    return int(conn.execute(text(sql), {"b": batch_id}).scalar_one())


def preview(conn: Connection, batch_id: int) -> dict[str, Any]:
    """What rolling the batch back would do: persons, orders and consents removed, persons
    kept because of their history (by reason), values restored."""
    gone = f"p.import_batch_id = :b AND NOT {HAS_HISTORY}"
    kept = kept_persons(conn, batch_id)
    persons_gone = f"SELECT COUNT(*) FROM persons p WHERE {gone}"  # noqa: S608
    consents_gone = _CONSENTS_GONE.replace("{gone}", gone)
    return {
        "persons_removed": _count(conn, persons_gone, batch_id),
        "persons_kept": kept.pop("total"),
        "kept_because": kept,
        "orders_removed": _count(
            conn, "SELECT COUNT(*) FROM orders WHERE import_batch_id = :b", batch_id
        ),
        "consents_removed": _count(conn, consents_gone, batch_id),
        "values_restored": _count(
            conn,
            "SELECT COUNT(*) FROM import_changes WHERE batch_id = :b AND action = 'updated'",
            batch_id,
        ),
    }
