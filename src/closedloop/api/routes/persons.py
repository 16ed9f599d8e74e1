"""``/api/v1/persons``: the customer record over HTTP (list, create, read, update, delete, card).

Every read and write of a person's data is recorded in the audit log (M20: who saw what).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response, status
from pydantic import BaseModel, Field

from closedloop.api.auth import PersonsDeleter, PersonsReader, PersonsWriter
from closedloop.api.errors import ApiProblem
from closedloop.api.problems import problem_responses
from closedloop.api.schemas import PersonCardPublic, PersonPage, PersonRecordPublic, card_public
from closedloop.contacts import service as contacts
from closedloop.contacts.models import Person
from closedloop.contacts.schemas import PersonCreate, PersonFilter, PersonUpdate
from closedloop.db.types import DbCount, DbId
from closedloop.dedupe.online import saved_candidates
from closedloop.deps import DbSession
from closedloop.reports.card import build_card
from closedloop.settings import get_settings
from closedloop.users.service import audit
from closedloop.vocab import LifecycleStatus

router = APIRouter(prefix="/persons", tags=["persons"])

#: The list's ``total`` is counted up to this many matches, so a broad search stays fast.
MAX_LIMIT = 500
_READ = problem_responses(401, 403, 422)
_ONE = problem_responses(401, 403, 404, 422)

#: Ids are 64-bit: a larger number is a 422 naming the parameter, not a database error.
PersonId = Annotated[DbId, Path(description="The person's id.")]
IfMatch = Annotated[
    str | None,
    Header(
        description='The ETag you read (e.g. `"3"`); when it is no longer the stored version '
        "the request fails with 412 and nothing changes."
    ),
]


def default_page_size() -> int:
    """The configured page size (``CLOSEDLOOP_PAGE_SIZE``), within the API's bounds."""
    return max(1, min(get_settings().page_size, MAX_LIMIT))


def etag(person: Person) -> str:
    """The entity tag of a person: its version, quoted (a strong validator)."""
    return f'"{person.version}"'


def check_if_match(if_match: str | None, person: Person) -> None:
    """Raise 412 when an ``If-Match`` header does not name the stored version of ``person``."""
    if if_match is None:
        return
    value = if_match.strip()
    if value == "*":
        return
    versions: set[int] = set()
    for part in value.split(","):
        tag = part.strip().removeprefix("W/")
        if len(tag) < 3 or tag[0] != '"' or tag[-1] != '"' or not tag[1:-1].isdigit():
            raise ApiProblem(
                "invalid-request",
                f'If-Match must be an ETag such as "3", as sent by GET; got {if_match!r}.',
                errors=[{"field": "If-Match", "message": "not an ETag", "in": "header"}],
            )
        versions.add(int(tag[1:-1]))
    if person.version not in versions:
        raise ApiProblem(
            "precondition-failed",
            f"Person {person.id} is at version {person.version}, not {if_match.strip()}: "
            "someone else changed it. Reload it and apply your change again.",
        )


def _public(person: Person, response: Response) -> PersonRecordPublic:
    response.headers["ETag"] = etag(person)
    return PersonRecordPublic.model_validate(person)


class DuplicateHint(BaseModel):
    """A stored person the online duplicate check found close to the one just written."""

    person_id: int = Field(description="The stored person who may be the same.")
    display_name: str = Field(description="Their given and family name.")
    match_probability: float = Field(description="Probability (0–1) that both are one person.")
    match_weight: float = Field(description="The match weight in bits (the model's score).")
    likely: bool = Field(description="At or above the automatic-merge threshold.")
    pair_id: int | None = Field(
        None, description="The pair in the review queue: `GET /api/v1/duplicates/{pair_id}`."
    )
    pair_status: str | None = Field(None, description="The pair's review status.")


class PersonWritten(PersonRecordPublic):
    """A created or updated person, with the duplicates the online check found."""

    duplicate_candidates: list[DuplicateHint] = Field(
        default_factory=list,
        description="Stored persons who may be this one, most likely first (at or above the "
        "review threshold); they are also in the review queue. Empty when none.",
    )


def _written(db: DbSession, person: Person, response: Response) -> PersonWritten:
    """The answer to a create or update: the person and the online check's candidates."""
    response.headers["ETag"] = etag(person)
    out = PersonWritten.model_validate(person)
    out.duplicate_candidates = [
        DuplicateHint(
            person_id=c.person_id,
            display_name=c.display_name,
            match_probability=c.match_probability,
            match_weight=c.match_weight,
            likely=c.likely,
            pair_id=c.pair_id,
            pair_status=c.pair_status,
        )
        for c in saved_candidates(db, person.id)
    ]
    return out


@router.get("", response_model=PersonPage, responses=_READ)
def list_persons(
    db: DbSession,
    user: PersonsReader,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Free search: a name (either order, accents optional), an email or "
            "its beginning, a phone number in any common form, or a postal code.",
        ),
    ] = None,
    name: Annotated[
        str | None, Query(max_length=200, description="Family and/or given name, by prefix.")
    ] = None,
    email: Annotated[
        str | None, Query(max_length=320, description="Email address or its beginning.")
    ] = None,
    phone: Annotated[
        str | None, Query(max_length=64, description="Phone number in any common form.")
    ] = None,
    postal_code: Annotated[
        str | None, Query(max_length=16, description="Postal code or its beginning.")
    ] = None,
    lifecycle_status: Annotated[
        LifecycleStatus | None, Query(description="Only persons in this lifecycle status.")
    ] = None,
    country: Annotated[
        str | None,
        Query(
            pattern=r"^[A-Za-z]{2}$", description="ISO 3166 country code of one of the addresses."
        ),
    ] = None,
    limit: Annotated[
        int | None,
        Query(ge=1, le=MAX_LIMIT, description="Page size, 1–500 (default: the configured 50)."),
    ] = None,
    offset: Annotated[DbCount, Query(description="How many matches to skip.")] = 0,
) -> PersonPage:
    """List persons matching every filter given, one page at a time.

    Filters combine with AND; merged-away records are left out. `total` is the exact number
    of matches.
    """
    flt = PersonFilter(
        q=q,
        name=name,
        email=email,
        phone=phone,
        postal_code=postal_code,
        lifecycle_status=lifecycle_status,
        country=country,
    )
    limit = limit or default_page_size()
    persons, total = contacts.search_persons(db, flt, limit=limit, offset=offset)
    audit(
        db,
        user,
        "search",
        "person",
        channel="api",
        detail={
            "filter": flt.model_dump(mode="json", exclude_none=True),
            "ids": [p.id for p in persons],
        },
    )
    return PersonPage(
        items=[PersonRecordPublic.model_validate(p) for p in persons],
        total=total,
        total_capped=False,
        total_cap=None,
        limit=limit,
        offset=offset,
    )


@router.post(
    "",
    response_model=PersonWritten,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(400, 401, 403, 409, 415, 422),
)
def create_person(
    data: PersonCreate, request: Request, response: Response, db: DbSession, user: PersonsWriter
) -> PersonWritten:
    """Create a person with their emails, phones and addresses.

    Emails are checked, phone numbers stored in E.164 (national numbers read in the country of
    the first address, else the default country). The answer carries `Location` and `ETag`.
    A `source_system` + `external_id` already stored gives 409. `duplicate_candidates` lists
    the stored persons the online duplicate check found close to this one (the person is
    created anyway; the pairs wait in the review queue).
    """
    person = contacts.create_person(db, data)
    audit(db, user, "create", "person", person.id, channel="api")
    response.headers["Location"] = request.app.url_path_for("get_person", person_id=person.id)
    return _written(db, person, response)


@router.get("/{person_id}", response_model=PersonRecordPublic, responses=_ONE)
def get_person(
    person_id: PersonId, response: Response, db: DbSession, user: PersonsReader
) -> PersonRecordPublic:
    """Read one person with their contact points; the `ETag` header is their version."""
    person = contacts.get_person(db, person_id)
    audit(db, user, "view", "person", person_id, channel="api")
    return _public(person, response)


@router.patch(
    "/{person_id}",
    response_model=PersonWritten,
    responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422),
)
def update_person(
    person_id: PersonId,
    data: PersonUpdate,
    response: Response,
    db: DbSession,
    user: PersonsWriter,
    if_match: IfMatch = None,
) -> PersonWritten:
    """Change the fields given and leave the others as they are (optimistic locking).

    `version` must be the version you read: if someone changed the person since, the answer
    is 409 and nothing is stored. An `If-Match` header, when sent, must name the stored
    version too (else 412). A list of emails, phones or addresses replaces the stored list.
    `duplicate_candidates` lists the stored persons the online duplicate check now finds
    close to this one.
    """
    person = contacts.get_person(db, person_id)
    check_if_match(if_match, person)
    person = contacts.update_person(db, person_id, data)
    fields = sorted(data.model_fields_set - {"version"})
    detail: dict[str, Any] = {"fields": fields, "from_version": data.version}
    audit(db, user, "update", "person", person_id, channel="api", detail=detail)
    return _written(db, person, response)


@router.delete(
    "/{person_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(400, 401, 403, 404, 409, 412, 422),
)
def delete_person(
    person_id: PersonId, db: DbSession, user: PersonsDeleter, if_match: IfMatch = None
) -> Response:
    """Delete a person and their contact points.

    Refused with 409 while other records need the person (e.g. their orders): their history
    is kept, and erasure (anonymisation) is the way to remove their personal data.
    """
    person = contacts.get_person(db, person_id)
    check_if_match(if_match, person)
    contacts.delete_person(db, person_id)
    audit(db, user, "delete", "person", person_id, channel="api")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{person_id}/card", response_model=PersonCardPublic, responses=_ONE)
def get_person_card(
    person_id: PersonId,
    db: DbSession,
    user: PersonsReader,
    recent: Annotated[
        int,
        Query(ge=1, le=200, description="How many recent orders, messages, responses… to list."),
    ] = 20,
) -> PersonCardPublic:
    """The whole person card: identity and contact points, relationships, attributes,
    consents with their history, suppressions, orders, contact history, responses, scores,
    tasks and appointments."""
    card = build_card(db, person_id, recent=recent)
    audit(db, user, "view_card", "person", person_id, channel="api")
    return card_public(card)
