"""Display labels of the stored vocabularies (message ids; translated where they are shown)."""

from __future__ import annotations

from closedloop.i18n import N_
from closedloop.vocab import AttributeGroup, Channel, LifecycleStatus, Purpose

#: Every stored code the pages show, by code. Codes of different vocabularies that are spelt
#: the same (``events`` purpose, ``event`` channel) share one label on purpose.
LABELS: dict[str, str] = {
    # lifecycle
    "prospect": N_("Prospect"),
    "customer": N_("Customer"),
    "lapsed": N_("Lapsed"),
    "won_back": N_("Won back"),
    # relationships
    "household_member": N_("Household member"),
    "family": N_("Family"),
    "employee_of": N_("Employee of"),
    "decision_maker": N_("Decision-maker"),
    "referred_by": N_("Referred by"),
    # contact kinds and line types
    "private": N_("Private"),
    "work": N_("Work"),
    "other": N_("Other"),
    "mobile": N_("Mobile"),
    "landline": N_("Landline"),
    # address check
    "unchecked": N_("Not checked"),
    "valid": N_("Valid"),
    "corrected": N_("Corrected"),
    "suspect": N_("Suspect"),
    "unknown": N_("Unknown"),
    # attribute groups
    "demographic": N_("Demographic"),
    "psychographic": N_("Psychographic"),
    "firmographic": N_("Firmographic"),
    "interests": N_("Interests"),
    "identifier": N_("Identifiers"),
    # channels
    "email": N_("Email"),
    "sms": N_("SMS"),
    "phone": N_("Phone"),
    "letter": N_("Letter"),
    "event": N_("Event"),
    # purposes
    "marketing": N_("Marketing"),
    "newsletter": N_("Newsletter"),
    "surveys": N_("Surveys"),
    "events": N_("Events"),
    "partners": N_("Partners"),
    # consent
    "granted": N_("Granted"),
    "withdrawn": N_("Withdrawn"),
    "web_form": N_("Web form"),
    "double_opt_in": N_("Double opt-in"),
    "preference_centre": N_("Preference centre"),
    "import": N_("Import"),
    "api": N_("API"),
    "agent": N_("Agent"),
    "paper": N_("Paper form"),
    "unsubscribe_link": N_("Unsubscribe link"),
    # suppressions
    "do_not_contact": N_("Do not contact"),
    "bounced": N_("Bounced"),
    "deceased": N_("Deceased"),
    "complaint": N_("Complaint"),
    "erased": N_("Erased"),
    # roles
    "admin": N_("Administrator"),
    "marketer": N_("Marketer"),
    "analyst": N_("Analyst"),
    # communications
    "queued": N_("Queued"),
    "sent": N_("Sent"),
    "delivered": N_("Delivered"),
    "failed": N_("Failed"),
    "suppressed": N_("Suppressed"),
    # responses
    "open": N_("Open"),
    "click": N_("Click"),
    "reply": N_("Reply"),
    "unsubscribe": N_("Unsubscribe"),
    "bounce": N_("Bounce"),
    "call": N_("Call"),
    "visit": N_("Visit"),
    "purchase": N_("Purchase"),
    "survey": N_("Survey"),
    "attendance": N_("Attendance"),
    # tasks and orders
    "done": N_("Done"),
    "cancelled": N_("Cancelled"),
    "completed": N_("Completed"),
    "returned": N_("Returned"),
    # genders
    "female": N_("Female"),
    "male": N_("Male"),
    "diverse": N_("Diverse"),
    # relationship targets
    "person": N_("Person"),
    "organisation": N_("Organisation"),
    "household": N_("Household"),
}

LIFECYCLE_CODES = tuple(v.value for v in LifecycleStatus)
GENDER_CODES = ("female", "male", "diverse", "unknown")
CHANNEL_CODES = tuple(v.value for v in Channel)
PURPOSE_CODES = tuple(v.value for v in Purpose)
ATTRIBUTE_GROUPS = tuple(v.value for v in AttributeGroup)
