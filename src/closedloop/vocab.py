"""Controlled vocabularies shared by every layer (stored as their string values)."""

from __future__ import annotations

from enum import StrEnum


class LifecycleStatus(StrEnum):
    PROSPECT = "prospect"
    CUSTOMER = "customer"
    LAPSED = "lapsed"
    WON_BACK = "won_back"


class RelationshipType(StrEnum):
    HOUSEHOLD_MEMBER = "household_member"
    FAMILY = "family"
    EMPLOYEE_OF = "employee_of"
    DECISION_MAKER = "decision_maker"
    REFERRED_BY = "referred_by"


class ContactKind(StrEnum):
    PRIVATE = "private"
    WORK = "work"
    OTHER = "other"


class PhoneKind(StrEnum):
    MOBILE = "mobile"
    LANDLINE = "landline"
    OTHER = "other"


class AddressStatus(StrEnum):
    UNCHECKED = "unchecked"
    VALID = "valid"
    CORRECTED = "corrected"
    SUSPECT = "suspect"
    UNKNOWN = "unknown"


class AttributeType(StrEnum):
    NUMBER = "number"
    DATE = "date"
    BOOLEAN = "boolean"
    CHOICE = "choice"
    MULTI_CHOICE = "multi_choice"
    TEXT = "text"


class AttributeGroup(StrEnum):
    DEMOGRAPHIC = "demographic"
    PSYCHOGRAPHIC = "psychographic"
    FIRMOGRAPHIC = "firmographic"
    INTERESTS = "interests"
    IDENTIFIER = "identifier"


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"
    LETTER = "letter"
    EVENT = "event"


class Purpose(StrEnum):
    MARKETING = "marketing"
    NEWSLETTER = "newsletter"
    SURVEYS = "surveys"
    EVENTS = "events"
    PARTNERS = "partners"


class ConsentState(StrEnum):
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"


class ConsentMethod(StrEnum):
    WEB_FORM = "web_form"
    DOUBLE_OPT_IN = "double_opt_in"
    PREFERENCE_CENTRE = "preference_centre"
    IMPORT = "import"
    API = "api"
    AGENT = "agent"
    PAPER = "paper"
    UNSUBSCRIBE_LINK = "unsubscribe_link"
    SMS_STOP = "sms_stop"


class SuppressionReason(StrEnum):
    DO_NOT_CONTACT = "do_not_contact"
    BOUNCED = "bounced"
    DECEASED = "deceased"
    COMPLAINT = "complaint"
    ERASED = "erased"


class Role(StrEnum):
    ADMIN = "admin"
    MARKETER = "marketer"
    ANALYST = "analyst"
    AGENT = "agent"


class CampaignStatus(StrEnum):
    """States of a campaign and of its waves (see closedloop.campaigns.lifecycle)."""

    DRAFT = "draft"
    APPROVED = "approved"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    #: the old name of COMPLETED (an alias: migration 0019 renamed the stored value)
    FINISHED = "completed"


class CommunicationStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    BOUNCED = "bounced"
    SUPPRESSED = "suppressed"
    SKIPPED = "skipped"
    UNCONFIRMED = "unconfirmed"


class ResponseKind(StrEnum):
    OPEN = "open"
    CLICK = "click"
    REPLY = "reply"
    UNSUBSCRIBE = "unsubscribe"
    BOUNCE = "bounce"
    CALL = "call"
    VISIT = "visit"
    PURCHASE = "purchase"
    SURVEY = "survey"
    ATTENDANCE = "attendance"
    RSVP = "rsvp"
    DELIVERY = "delivery"


#: The reactions that count as a person's response to a campaign (evaluation, segment rules):
#: an open is not one (mail clients and privacy proxies open by themselves), nor a bounce or
#: an unsubscribe; reactions flagged as a machine's (``responses.machine``) never count.
RESPONDING_KINDS: frozenset[str] = frozenset(
    k.value
    for k in ResponseKind
    if k not in (ResponseKind.OPEN, ResponseKind.BOUNCE, ResponseKind.UNSUBSCRIBE)
)


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
