"""The review queue of duplicate pairs (side by side, waterfall chart), merges and unmerge."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from closedloop.contacts import service as contacts_service
from closedloop.contacts.models import Person
from closedloop.dedupe import candidates as queue_service
from closedloop.dedupe import merge as merge_service
from closedloop.dedupe.jobs import RUN_KIND, enqueue_run
from closedloop.dedupe.models import MergeEvent
from closedloop.deps import DbSession
from closedloop.errors import Conflict, DomainError, NotFound
from closedloop.i18n import N_
from closedloop.jobs import service as jobs_service
from closedloop.users import service as users_service
from closedloop.users.models import User
from closedloop.users.permissions import Permission
from closedloop.web.labels import LABELS
from closedloop.web.rendering import flash, gettext_for, render
from closedloop.web.routes import form_str, page_router
from closedloop.web.security import CHART_PAGE_POLICY, not_found, requires

router = page_router()
Reader = Annotated[User, requires(Permission.PERSONS_READ)]
Writer = Annotated[User, requires(Permission.PERSONS_WRITE)]
REFRESH_SECONDS = 3

ROWS: tuple[tuple[str, str], ...] = (
    ("given_name", N_("Given name")),
    ("family_name", N_("Family name")),
    ("birth_date", N_("Birth date")),
    ("gender", N_("Gender")),
    ("emails", N_("Emails")),
    ("phones", N_("Phones")),
    ("addresses", N_("Addresses")),
    ("source", N_("Source")),
    ("lifecycle_status", N_("Lifecycle")),
)


#: The match model's comparisons, in words (the model's own names are shown beside them).
COMPARISONS: dict[str, str] = {
    "prior": N_("Starting odds (prior)"),
    "given": N_("Given name"),
    "family": N_("Family name"),
    "dob": N_("Birth date"),
    "email": N_("Email"),
    "phone": N_("Phone"),
    "street": N_("Street"),
    "line2": N_("Address line 2"),
    "place": N_("Postal code and locality"),
    "id_customer": N_("Customer number"),
}


def comparison_label(gettext: Callable[[str], str], code: str) -> str:
    """A comparison's name in words (its code when the model has a comparison we do not
    know)."""
    return gettext(COMPARISONS[code]) if code in COMPARISONS else code


def _values(person: Person) -> dict[str, str]:
    return {
        "given_name": person.given_name or "",
        "family_name": person.family_name or "",
        "birth_date": person.birth_date.isoformat() if person.birth_date else "",
        "gender": person.gender or "",
        "emails": ", ".join(e.address for e in person.emails),
        "phones": ", ".join(p.e164 for p in person.phones),
        "addresses": " / ".join(
            ", ".join(x for x in (a.line1, a.postal_code, a.locality, a.country) if x)
            for a in person.addresses
        ),
        "source": " ".join(x for x in (person.source_system, person.external_id) if x),
        "lifecycle_status": person.lifecycle_status,
    }


def waterfall(
    explanation: list[dict[str, Any]], gettext: Callable[[str], str] = lambda text: text
) -> dict[str, Any]:
    """The Plotly figure (as JSON data) of a pair's match weights: prior, then comparisons."""
    names = [
        comparison_label(gettext, s["comparison"]) + (f": {s['level']}" if s.get("level") else "")
        for s in explanation
    ]
    weights = [round(float(s["weight"]), 3) for s in explanation]
    return {
        "data": [
            {
                "type": "waterfall",
                "orientation": "v",
                "x": [*names, gettext(N_("Total"))],
                "y": [*weights, None],
                "measure": ["absolute", *["relative"] * (len(weights) - 1), "total"],
                "text": [f"{w:+.2f}" for w in weights] + [f"{sum(weights):.2f}"],
                "textposition": "outside",
            }
        ],
        "layout": {
            "margin": {"t": 20, "b": 120, "l": 50, "r": 10},
            "yaxis": {"title": {"text": gettext(N_("Match weight (bits)"))}},
            "showlegend": False,
            "height": 360,
        },
    }


@router.get("/duplicates", response_class=Response)
def review_queue(request: Request, db: DbSession, user: Reader) -> Response:
    """The pairs waiting for a decision, most likely first."""
    status = request.query_params.get("status") or "pending"
    if status not in queue_service.STATUSES:
        status = "pending"
    rows, total = queue_service.queue(db, status=status, limit=100)
    ids = {pid for r in rows for pid in (r.person_l_id, r.person_r_id)}
    people = {p.id: p for p in (db.get(Person, i) for i in ids) if p is not None}
    latest = jobs_service.list_jobs(db, kind=RUN_KIND, limit=1)
    run = latest[0] if latest else None
    busy = run is not None and run.status in ("queued", "running")
    context = {
        "active": "duplicates",
        "rows": rows,
        "people": people,
        "total": total,
        "status": status,
        "statuses": queue_service.STATUSES,
        "run": run,
        "refresh_seconds": REFRESH_SECONDS if busy else None,
    }
    return render(request, "dedupe/queue.html", context)


@router.post("/duplicates/run", response_class=Response)
async def start_run(request: Request, db: DbSession, user: Writer) -> Response:
    """Queue a batch deduplication (a worker runs it); the queue page shows its progress."""
    await request.form()
    try:
        job = enqueue_run(db, created_by=user.username)
    except Conflict:  # one at a time (closedloop.jobs.guards)
        flash(request, N_("A duplicate search is already under way."), "error")
        return RedirectResponse("/duplicates", status_code=303)
    users_service.audit(db, user, "dedupe_run", "job", job.id, channel="web")
    flash(request, N_("The duplicate search was started; this page follows its progress."))
    return RedirectResponse("/duplicates", status_code=303)


@router.get("/duplicates/{pair_id:int}", response_class=Response)
def review_pair(request: Request, pair_id: int, db: DbSession, user: Reader) -> Response:
    """One pair side by side, differences marked, the waterfall, and the three decisions."""
    try:
        pair = queue_service.get_candidate(db, pair_id)
        left = contacts_service.get_person(db, pair.person_l_id)
        right = contacts_service.get_person(db, pair.person_r_id)
    except NotFound as exc:
        raise not_found() from exc
    users_service.audit(db, user, "viewed", "duplicate_pair", pair_id, channel="web")
    gettext = gettext_for(request)
    lv, rv = _values(left), _values(right)
    for side in (lv, rv):  # stored codes in words
        for key in ("gender", "lifecycle_status"):
            side[key] = gettext(LABELS[side[key]]) if side[key] in LABELS else side[key]
    rows = [(label, lv[key], rv[key], lv[key] != rv[key]) for key, label in ROWS]
    context = {
        "active": "duplicates",
        "pair": pair,
        "left": left,
        "right": right,
        "rows": rows,
        "chart": json.dumps(waterfall(pair.explanation or [], gettext)),
        "comparison_label": lambda code: comparison_label(gettext, code),
        "next_id": queue_service.next_pending(db, pair),
        "merges": list(
            db.scalars(
                select(MergeEvent)
                .where(MergeEvent.candidate_id == pair.id)
                .order_by(MergeEvent.id.desc())
            )
        ),
    }
    response = render(request, "dedupe/pair.html", context)
    response.headers["Content-Security-Policy"] = CHART_PAGE_POLICY
    return response


@router.post("/duplicates/{pair_id:int}/decide", response_class=Response)
async def decide(request: Request, pair_id: int, db: DbSession, user: Writer) -> Response:
    """Apply accept / reject / not a duplicate, then show the next pair of the queue."""
    form = await request.form()
    decision = form_str(form, "decision")
    try:
        queue_service.decide(db, pair_id, decision, decided_by=user.username)
    except NotFound as exc:
        raise not_found() from exc
    except DomainError as exc:
        db.rollback()
        flash(request, exc.detail, "error")
        return RedirectResponse(f"/duplicates/{pair_id}", status_code=303)
    users_service.audit(db, user, f"dedupe_{decision}", "duplicate_pair", pair_id, channel="web")
    flash(request, {"accept": N_("Merged."), "reject": N_("Rejected."),
                    "not_duplicate": N_("Marked as not a duplicate.")}[decision])  # fmt: skip
    following = queue_service.next_pending(db)
    return RedirectResponse(
        f"/duplicates/{following}" if following else "/duplicates", status_code=303
    )


@router.get("/persons/{person_id:int}/merges", response_class=Response)
def person_merges(request: Request, person_id: int, db: DbSession, user: Reader) -> Response:
    """The merges a person took part in, with an unmerge button for those still in force."""
    try:
        person = contacts_service.get_person(db, person_id)
    except NotFound as exc:
        raise not_found() from exc
    context = {
        "active": "persons",
        "person": person,
        "merges": merge_service.merges_of(db, person_id),
    }
    return render(request, "dedupe/merges.html", context)


@router.get("/merges/{merge_id:int}/unmerge", response_class=Response)
def confirm_unmerge(request: Request, merge_id: int, db: DbSession, user: Writer) -> Response:
    """Ask before undoing a merge: which two persons come apart and what happens to the pair."""
    event = db.get(MergeEvent, merge_id)
    if event is None:
        raise not_found()
    golden = db.get(Person, event.golden_id)
    source = db.get(Person, event.source_id)
    if golden is None or source is None:
        raise not_found()
    context = {
        "active": "duplicates",
        "event": event,
        "golden": golden,
        "source": source,
        "changed": merge_service.changed_since(db, event) if event.undone_at is None else None,
        "back": _local(request.query_params.get("back"), f"/persons/{golden.id}/merges"),
    }
    return render(request, "dedupe/unmerge.html", context)


@router.post("/merges/{merge_id:int}/unmerge", response_class=Response)
async def unmerge(request: Request, merge_id: int, db: DbSession, user: Writer) -> Response:
    """Undo a merge once confirmed; then show the pair, kept apart and open to review again
    (or the golden record's merges when the merge came from no pair)."""
    form = await request.form()
    back = _local(form_str(form, "back"), "/duplicates")
    if form_str(form, "confirm") != "1":  # not confirmed: ask first
        return RedirectResponse(f"/merges/{merge_id}/unmerge", status_code=303)
    force = form_str(form, "force") == "1"
    try:
        event = merge_service.unmerge(db, merge_id, undone_by=user.username, force=force)
    except NotFound as exc:
        raise not_found() from exc
    except DomainError as exc:
        db.rollback()
        flash(request, exc.detail, "error")
        return RedirectResponse(f"/merges/{merge_id}/unmerge?back={back}", status_code=303)
    users_service.audit(db, user, "unmerge", "person", event.golden_id, channel="web",
                        detail={"merge_event_id": merge_id})  # fmt: skip
    if event.candidate_id is not None:
        flash(request, N_("The merge was undone. The two persons are apart again; the pair "
                          "stays here to be decided again."))  # fmt: skip
        return RedirectResponse(f"/duplicates/{event.candidate_id}", status_code=303)
    flash(request, N_("The merge was undone."))
    return RedirectResponse(f"/persons/{event.golden_id}/merges", status_code=303)


def _local(path: str | None, default: str) -> str:
    """``path`` when it is a page of this site (never another host), else ``default``."""
    if path and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return default
