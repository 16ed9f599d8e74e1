"""Market reachability follows the consent policy: a suppressed person with consent granted
is not reachable, a withdrawn consent is not either."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.segments.world import address, category, consent, order, person, product

from closedloop.consent.models import Suppression
from closedloop.db.uow import unit_of_work
from closedloop.errors import ValidationFailed
from closedloop.targeting.market import markets


def test_reachability_uses_the_consent_policy(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        books = category(s, "books")
        novel = product(s, "novel", books)
        ids = [person(s, given_name=f"P{i}") for i in range(4)]
        for pid in ids:
            address(s, pid, country="FR", line1="1 rue", locality="Paris")
            order(s, pid, date(2026, 10, 1), [(novel, "20")])
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
