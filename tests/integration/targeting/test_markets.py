"""Market reachability follows the rule extraction applies (consent granted, no suppression of
the person or of the address the channel would use, a valid address): a suppressed person with
consent granted is not reachable, a withdrawn consent is not either, nor a person whose only
email address is on the suppression list."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.segments.world import address, category, consent, order, person, product

from closedloop.consent.models import Suppression
from closedloop.contacts.models import Email
from closedloop.db.uow import unit_of_work
from closedloop.errors import ValidationFailed
from closedloop.targeting.market import markets


def _email(s: Session, pid: int, value: str, *, valid: bool = True) -> None:
    s.add(Email(person_id=pid, address=value, address_key=value.lower(), is_primary=True,
                is_valid=valid, source_system="t"))  # fmt: skip
    s.flush()


def _buyers(s: Session, n: int) -> list[int]:
    novel = product(s, "novel", category(s, "books"))
    ids = [person(s, given_name=f"P{i}") for i in range(n)]
    for pid in ids:
        address(s, pid, country="FR", line1="1 rue", locality="Paris")
        order(s, pid, date(2026, 10, 1), [(novel, "20")])
    return ids


def test_reachability_uses_the_consent_policy(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        ids = _buyers(s, 4)
        for i, pid in enumerate(ids):
            _email(s, pid, f"p{i}@example.org")
        consent(s, ids[0])  # reachable
        consent(s, ids[1])  # granted but suppressed (bounced): not reachable
        s.add(Suppression(person_id=ids[1], channel="email", reason="bounced", source_system="t"))
        consent(s, ids[2], state="withdrawn")  # withdrawn: not reachable
        # ids[3]: never asked
    with factory() as s:
        (fr,) = markets(s, "books")
        assert (fr["market"], fr["persons"], fr["reachability"]) == ("FR", 4, 0.25)
        assert markets(s, "books", channel="sms")[0]["reachability"] == 0.0
        with pytest.raises(ValidationFailed, match="Unknown channel 'pigeon'"):
            markets(s, "books", channel="pigeon")


def test_a_suppressed_or_missing_address_is_not_reachable(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        ids = _buyers(s, 5)
        for pid in ids:
            consent(s, pid)  # every one granted email marketing
        _email(s, ids[0], "ok@example.org")  # reachable
        _email(s, ids[1], "Bounced@Example.org")  # its only address bounced
        s.add(Suppression(value_key="bounced@example.org", channel="email", reason="bounced",
                          source_system="t"))  # fmt: skip
        _email(s, ids[2], "listed@example.org")  # on the suppression list for every channel
        s.add(Suppression(value_key="listed@example.org", channel=None, reason="complaint",
                          source_system="t"))  # fmt: skip
        _email(s, ids[3], "old@example.org", valid=False)  # no valid address
        # ids[4]: consent but no email at all
    with factory() as s:
        (fr,) = markets(s, "books")
        assert (fr["persons"], fr["reachability"]) == (5, 0.2)
        # The letter channel needs a valid postal address, which every one has; no consent.
        assert markets(s, "books", channel="letter")[0]["reachability"] == 0.0
