"""Leaves over what happened since: a person's history with a campaign, and their survey
answers. The tables belong to the campaign and response packages (above this one), so they
are read through the declared Ibis tables of :mod:`.tables`."""

from __future__ import annotations

from typing import Any

import ibis

from closedloop.db.base import as_utc, utcnow
from closedloop.segments.check import check_value
from closedloop.segments.fields import FieldSpec
from closedloop.segments.rules import CampaignCondition, EventCondition, SurveyCondition
from closedloop.segments.tables import Table, table
from closedloop.vocab import RESPONDING_KINDS

#: The communication status of a message that went out.
SENT = "sent"
#: Question kinds whose answers are numbers (the others are compared as text: the chosen
#: choice, else the written answer).
NUMERIC = ("number", "rating", "scale", "nps")


def campaign_ids(leaves: Any, c: CampaignCondition, path: str) -> Table:
    """Persons with the asked history with campaign ``c.code`` (any of its versions): every
    flag given must hold
    (``received: false`` = no message of it was sent to them); with no flag, the persons who
    were members of the campaign."""
    cids = leaves.lookups.campaign_ids(c.code)
    if not cids:
        leaves.compiler.fail(f"{path}.code", f"there is no campaign {c.code!r}")
    persons = table("persons")
    messages = table("communications")
    received = messages.filter(messages.campaign_id.isin(cids), messages.status == SENT).person_id
    responses = table("responses")
    responded = responses.filter(  # a person's response, as the evaluation counts it
        responses.campaign_id.isin(cids),
        responses.kind.isin(sorted(RESPONDING_KINDS)),
        responses.machine.isnull(),
    ).person_id
    members, cells = table("campaign_members"), table("cells")
    controls = cells.filter(cells.campaign_id.isin(cids), cells.is_control).id
    in_control = members.filter(members.campaign_id.isin(cids), members.cell_id.isin(controls))
    tests = []
    for flag, ids in ((c.received, received), (c.responded, responded),
                      (c.control, in_control.person_id)):  # fmt: skip
        if flag is not None:
            tests.append(persons.id.isin(ids) if flag else ~persons.id.isin(ids))
    if not tests:
        everyone = members.filter(members.campaign_id.isin(cids)).person_id
        tests.append(persons.id.isin(everyone))
    return persons.filter(ibis.and_(*tests)).select(person_id=persons.id)


def event_ids(leaves: Any, c: EventCondition, path: str) -> Table:
    """Persons in state ``c.status`` at event ``c.code``: ``invited`` (sent its campaign's
    invitation, or on its guest list), an answer, ``attended`` (checked in) or ``no_show``
    (answered yes, not checked in, and the event is over: empty before its end)."""
    found = leaves.lookups.event(c.code)
    if found is None:
        leaves.compiler.fail(f"{path}.code", f"there is no event {c.code!r}")
    event_id, campaign_id, ends_at = found
    guests = table("event_guests")
    mine = guests.filter(guests.event_id == event_id)
    if c.status == "invited":
        messages = table("communications")
        sent = messages.filter(  # the statuses the event's attendance list counts as invited
            messages.campaign_id == (campaign_id or 0),
            messages.status.isin([SENT, "delivered", "unconfirmed"]),
        )
        return sent.select("person_id").union(mine.select("person_id"))
    if c.status == "answered":
        return mine.filter(mine.answer.notnull()).select("person_id")
    if c.status == "attended":
        return mine.filter(mine.checked_in_at.notnull()).select("person_id")
    if c.status == "no_show":
        over = ends_at is not None and as_utc(ends_at) <= utcnow()
        picked = mine.filter(mine.answer == "yes", mine.checked_in_at.isnull())
        return picked.filter(ibis.literal(over)).select("person_id")
    return mine.filter(mine.answer == c.status).select("person_id")


def survey_ids(leaves: Any, c: SurveyCondition, path: str) -> Table:
    """Persons with an answer to question ``c.question`` that matches (``is_null``: who did
    not answer it)."""
    from closedloop.segments.leaves import compare

    kind = leaves.lookups.question_kind(c.question)
    if kind is None:
        leaves.compiler.fail(f"{path}.question", f"there is no survey question {c.question}")
    numeric = kind in NUMERIC
    spec = FieldSpec(
        f"question {c.question}", "person", "answer", "number" if numeric else "string", ""
    )
    errors: list[tuple[str, str]] = []
    value = check_value(spec, c.op, c.value, f"{path}.value", lambda p, m: errors.append((p, m)))
    if errors:
        leaves.compiler.fail(*errors[0])
    answers = table("survey_answers")
    mine = answers.filter(answers.question_id == c.question)
    if c.op == "is_null":
        persons = table("persons")
        return persons.filter(~persons.id.isin(mine.person_id)).select(person_id=persons.id)
    if c.op == "not_null":
        return mine.select("person_id")
    answer = mine.answer_number if numeric else mine.answer_choice.fill_null(mine.answer_text)
    return mine.filter(compare(answer, spec, c.op, value)).select("person_id")
