"""Households: golden persons living together, grouped with ``household_member`` links.

Two persons are put in one household when they share (a) the same normalised address (postal
code, street, house number) and family name, (b) a landline number, or (c) an email address
and a family name — a family writing from one address is a household, not one person
(the batch's identity guard keeps them apart). A key shared by more than
:data:`MAX_HOUSEHOLD` persons (a switchboard, a hall of residence) is ignored. Existing
households are reused, so running it again adds only what is new.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.contacts.models import Household, Person, Relationship
from closedloop.dedupe.engine.prepare import prepare_persons
from closedloop.dedupe.store import read_persons_frame
from closedloop.vocab import RelationshipType

MAX_HOUSEHOLD = 12
SOURCE = "dedupe"


@dataclass
class HouseholdReport:
    """Households found, persons in them, and what was added this time."""

    households: int = 0
    members: int = 0
    created: int = 0
    links_added: int = 0


def household_keys(frame: pd.DataFrame) -> dict[str, list[str]]:
    """Key → person ids, for the three household rules."""
    prepared = prepare_persons(frame.drop(columns=["phone_line_type"], errors="ignore"))
    prepared = prepared.astype(object).where(prepared.notna(), None)
    landline = (
        frame["phone_line_type"].reset_index(drop=True) == "landline"
        if "phone_line_type" in frame.columns
        else pd.Series(False, index=prepared.index)
    )
    keys: dict[str, list[str]] = defaultdict(list)
    columns = zip(
        prepared.unique_id,
        prepared.family,
        prepared.postcode,
        prepared.street,
        prepared.street_number,
        prepared.phone,
        prepared.email,
        landline,
        strict=True,
    )
    for uid, family, postcode, street, number, phone, email, is_landline in columns:
        if family and postcode and street and number:
            keys[f"a|{postcode}|{street}|{number}|{family}"].append(uid)
        if phone and is_landline:
            keys[f"l|{phone}"].append(uid)
        if email and family:
            keys[f"e|{email}|{family}"].append(uid)
    return keys


def groups_from_keys(
    keys: dict[str, list[str]], extra_pairs: Iterable[tuple[int, int]] = ()
) -> list[list[int]]:
    """Connected groups of persons linked by a shared (bounded) key or an extra pair."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def join(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    for members in keys.values():
        if 1 < len(members) <= MAX_HOUSEHOLD:
            first = int(members[0])
            for other in members[1:]:
                join(first, int(other))
    for a, b in extra_pairs:
        join(a, b)
    out: dict[int, list[int]] = defaultdict(list)
    for pid in list(parent):
        out[find(pid)].append(pid)
    return [sorted(g) for g in out.values() if 1 < len(g) <= MAX_HOUSEHOLD]


def build_households(
    session: Session, extra_pairs: Iterable[tuple[int, int]] = ()
) -> HouseholdReport:
    """Group golden persons into households (see the module text); returns the counts."""
    frame = read_persons_frame(session)
    report = HouseholdReport()
    if len(frame) < 2:
        return report
    groups = groups_from_keys(household_keys(frame), extra_pairs)
    existing: dict[int, set[int]] = defaultdict(set)
    for pid, hid in session.execute(
        select(Relationship.person_id, Relationship.household_id).where(
            Relationship.kind == RelationshipType.HOUSEHOLD_MEMBER.value,
            Relationship.household_id.is_not(None),
        )
    ).all():
        if hid is not None:
            existing[int(pid)].add(int(hid))
    names = (
        dict(
            session.execute(
                select(Person.id, Person.family_name).where(Person.id.in_([g[0] for g in groups]))
            ).all()
        )
        if groups
        else {}
    )
    for group in groups:
        known = sorted(h for pid in group for h in existing.get(pid, set()))
        if known:
            household_id = known[0]
        else:
            family = names.get(group[0]) or "?"
            household = Household(name=f"{family} household")
            session.add(household)
            session.flush()
            household_id = household.id
            report.created += 1
        for pid in group:
            if household_id not in existing.get(pid, set()):
                session.add(
                    Relationship(
                        person_id=pid,
                        kind=RelationshipType.HOUSEHOLD_MEMBER.value,
                        household_id=household_id,
                        source_system=SOURCE,
                    )
                )
                existing[pid].add(household_id)
                report.links_added += 1
        report.households += 1
        report.members += len(group)
    session.flush()
    return report
