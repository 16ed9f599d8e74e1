"""What a message template may use, declared once: the objects and their fields, the other
top-level names, and the values a template sees for them (:class:`Fields`,
:class:`Recommendations`). The sandbox that renders templates and the static check that uses
these lists are in :mod:`closedloop.campaigns.render`; the analysis and the docs derive from
them too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PERSON_FIELDS = (
    "id",
    "salutation",
    "given_name",
    "family_name",
    "full_name",
    "email",
    "phone",
    "language",
    "gender",
    "birth_date",
    "lifecycle_status",
    "line1",
    "line2",
    "postal_code",
    "locality",
    "region",
    "country",
)
OFFER_FIELDS = ("code", "name", "description", "price", "valid_from", "valid_to")
CAMPAIGN_FIELDS = ("code", "name", "currency")
WAVE_FIELDS = ("name",)
#: An event's fields, as text in its own time zone (``starts``: "Thursday 14 May 2027, 18:30").
EVENT_FIELDS = (
    "code", "name", "description", "starts", "ends", "date", "time", "timezone", "venue",
    "address", "online_url", "organiser",
)  # fmt: skip
#: The objects a template may read fields of, with their fields.
OBJECTS: dict[str, tuple[str, ...]] = {
    "person": PERSON_FIELDS,
    "offer": OFFER_FIELDS,
    "campaign": CAMPAIGN_FIELDS,
    "wave": WAVE_FIELDS,
    "event": EVENT_FIELDS,
}
#: Every top-level name a template may use.
NAMES = frozenset(
    {
        *OBJECTS,
        "recommendations",
        "unsubscribe_url",
        "preferences_url",
        "survey_url",
        "rsvp_url",
        "today",
        "locale",
    }
)


class Fields(dict[str, Any]):
    """A template object (``person``, ``offer``…): its non-empty fields, named for errors."""

    def __init__(self, label: str, values: Mapping[str, Any]) -> None:
        super().__init__((k, v) for k, v in values.items() if v is not None and v != "")
        self.label = label


#: How many products a message may list (``recommendations(n)`` gives at most this many).
MAX_RECOMMENDATIONS = 6


class Recommendations(list[dict[str, Any]]):
    """The ``recommendations`` of a template: a list, also callable as
    ``recommendations(n)`` for its first ``n`` products, best first."""

    def __call__(self, n: int = 3) -> list[dict[str, Any]]:
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise TypeError("recommendations(n) takes a number of products, 0 or more")
        return list(self[: min(n, MAX_RECOMMENDATIONS)])
