"""The customer record's use cases on a real store: create, search, update with locking, delete."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session, sessionmaker

from closedloop.contacts import service
from closedloop.contacts.schemas import (
    AddressCreate,
    EmailCreate,
    PersonCreate,
    PersonFilter,
    PersonUpdate,
    PhoneCreate,
)
from closedloop.errors import Conflict, NotFound, Refused, ValidationFailed
from closedloop.transactions.models import Order


def _create(session: Session, **kw: object) -> int:
    data = PersonCreate.model_validate(kw)
    person = service.create_person(session, data)
    session.commit()
    return person.id


def test_create_normalises_contact_points(session: Session) -> None:
    pid = _create(
        session,
        given_name="  Jean   ",
        family_name="Dupont",
        emails=[{"address": "Jean.Dupont@Example.COM"}],
        phones=[{"number": "06 12 34 56 78"}],
        addresses=[{"postal_code": "75011", "locality": "Paris", "country": "fr"}],
    )
    person = service.get_person(session, pid)
    assert person.given_name == "Jean"
    assert person.emails[0].address_key == "jean.dupont@example.com"
    assert person.phones[0].e164 == "+33612345678"
    assert person.phones[0].line_type == "mobile"
    assert person.addresses[0].country == "FR"
    assert person.emails[0].is_primary and person.phones[0].is_primary


def test_invalid_contact_points_name_each_field(session: Session) -> None:
    data = PersonCreate(
        family_name="X",
        emails=[EmailCreate(address="ok@example.org"), EmailCreate(address="not-an-email")],
        phones=[PhoneCreate(number="123")],
    )
    with pytest.raises(ValidationFailed) as info:
        service.create_person(session, data)
    fields = {e["field"] for e in info.value.errors}
    assert fields == {"emails[1].address", "phones[0].number"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("dupont", {"Dupont"}),
        ("DUP", {"Dupont"}),
        ("Jean Dupont", {"Dupont"}),
        ("dupont jean", {"Dupont"}),
        ("stefanescu", {"Ștefănescu"}),
        ("Ștefănescu", {"Ștefănescu"}),
        ("王伟", {"王"}),
        ("王", {"王"}),
        ("ana.stef@", {"Ștefănescu"}),
        ("+40 721 234 567", {"Ștefănescu"}),
        ("0721234567", set()),
        ("75011", {"Dupont"}),
        ("010011", {"Ștefănescu"}),
    ],
)
def test_search_by_name_email_phone_postal_code(
    session: Session, query: str, expected: set[str]
) -> None:
    _create(
        session,
        given_name="Jean",
        family_name="Dupont",
        addresses=[AddressCreate(postal_code="75011", country="FR").model_dump()],
    )
    _create(
        session,
        given_name="Ana",
        family_name="Ștefănescu",
        emails=[{"address": "ana.stef@example.ro"}],
        phones=[{"number": "+40721234567"}],
        addresses=[{"postal_code": "010011", "locality": "București", "country": "RO"}],
    )
    _create(session, given_name="伟", family_name="王", addresses=[{"country": "CN"}])
    found, total = service.search_persons(session, PersonFilter(q=query))
    assert {p.family_name for p in found} == expected
    assert total == len(expected)


def test_update_with_stale_version_is_refused(factory: sessionmaker[Session]) -> None:
    with factory() as s:
        pid = _create(s, given_name="Ion", family_name="Popescu")
    with factory() as a, factory() as b:
        pa = service.get_person(a, pid)
        pb = service.get_person(b, pid)
        service.update_person(a, pid, PersonUpdate(version=pa.version, given_name="Ioan"))
        a.commit()
        with pytest.raises(Conflict):
            service.update_person(b, pid, PersonUpdate(version=pb.version, given_name="John"))
    with factory() as s:
        person = service.get_person(s, pid)
        assert person.given_name == "Ioan"
        assert person.version == 2


def test_contact_only_update_bumps_version(session: Session) -> None:
    pid = _create(session, family_name="Martin")
    service.update_person(
        session, pid, PersonUpdate(version=1, emails=[EmailCreate(address="m@example.org")])
    )
    session.commit()
    person = service.get_person(session, pid)
    assert person.version == 2
    assert [e.address for e in person.emails] == ["m@example.org"]


def test_delete_refused_when_person_has_orders(session: Session) -> None:
    pid = _create(session, family_name="Buyer")
    session.add(Order(person_id=pid, ordered_at=datetime.now(UTC), total_amount=Decimal("9.90")))
    session.commit()
    with pytest.raises(Refused, match="has 1 order"):
        service.delete_person(session, pid)
    session.rollback()
    assert service.get_person(session, pid).family_name == "Buyer"


def test_delete_person_without_orders(session: Session) -> None:
    pid = _create(session, family_name="Gone", emails=[{"address": "g@example.org"}])
    service.delete_person(session, pid)
    session.commit()
    with pytest.raises(NotFound):
        service.get_person(session, pid)


def test_duplicate_external_id_conflicts(session: Session) -> None:
    _create(session, family_name="A", source_system="erp", external_id="C-1")
    with pytest.raises(Conflict, match="C-1"):
        _create(session, family_name="B", source_system="erp", external_id="C-1")


def test_changing_the_primary_email_keeps_the_other_rows_and_their_origin(
    session: Session,
) -> None:
    pid = _create(
        session,
        family_name="Keller",
        emails=[{"address": "anna@work.example"}, {"address": "anna@home.example"}],
        phones=[{"number": "+41 44 668 18 00"}],
    )
    person = service.get_person(session, pid)
    for point in (*person.emails, *person.phones):
        point.source_system = "erp"
    session.commit()
    ids = {e.address: e.id for e in person.emails}
    phone_id = person.phones[0].id
    service.update_person(
        session,
        pid,
        PersonUpdate(
            version=person.version,
            emails=[
                EmailCreate(address="Anna@Home.example", is_primary=True),
                EmailCreate(address="anna@work.example"),
                EmailCreate(address="anna@new.example"),
            ],
            phones=[PhoneCreate(number="044 668 18 00", country="CH")],
        ),
    )
    session.commit()
    session.expire_all()
    person = service.get_person(session, pid)
    emails = {e.address_key: e for e in person.emails}
    assert emails["anna@home.example"].id == ids["anna@home.example"]
    assert emails["anna@work.example"].id == ids["anna@work.example"]
    assert emails["anna@home.example"].is_primary and not emails["anna@work.example"].is_primary
    assert emails["anna@home.example"].source_system == "erp"
    assert emails["anna@new.example"].source_system is None
    assert person.phones[0].id == phone_id and person.phones[0].source_system == "erp"
