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
    "sms_stop": N_("STOP reply to a text message"),
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
    "sending": N_("Sending"),
    "sent": N_("Sent"),
    "delivered": N_("Delivered"),
    "failed": N_("Failed"),
    "suppressed": N_("Suppressed"),
    "skipped": N_("Skipped"),
    "unconfirmed": N_("Unconfirmed"),
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
    "rsvp": N_("Invitation answer"),
    "delivery": N_("Delivery report"),
    # tasks and orders
    "done": N_("Done"),
    "cancelled": N_("Cancelled"),
    "completed": N_("Completed"),
    "returned": N_("Returned"),
    # campaigns and waves (the rest: running, completed, cancelled above and below)
    "draft": N_("Draft"),
    "approved": N_("Approved"),
    "scheduled": N_("Scheduled"),
    "paused": N_("Paused"),
    # the extraction funnel's stages
    "holdout": N_("Long-term hold-out"),
    "control": N_("Control group"),
    "ab_pending": N_("Waiting for the A/B winner"),
    "suppression": N_("Suppression list"),
    "no_address": N_("No address"),
    "pressure": N_("Contact pressure"),
    "arbitration": N_("Arbitration"),
    "capacity": N_("Channel capacity"),
    # duplicate pairs and merges
    "pending": N_("Pending"),
    "auto_merged": N_("Merged automatically"),
    "accepted": N_("Merged after review"),
    "rejected": N_("Kept apart (may be proposed again)"),
    "not_duplicate": N_("Not a duplicate"),
    "review": N_("Review"),
    "auto": N_("Automatic"),
    "manual": N_("Manual"),
    # what an import reads (ingest.fields.KINDS)
    "persons": N_("Persons"),
    "organisations": N_("Organisations"),
    "relationships": N_("Relationships"),
    "consents": N_("Consents"),
    "attributes": N_("Attributes"),
    "products": N_("Products"),
    "orders": N_("Orders"),
    "order_lines": N_("Order lines"),
    # jobs: states and kinds
    "running": N_("Running"),
    "dedupe.run": N_("Duplicate search"),
    "dedupe.index": N_("Duplicate index update"),
    "ingest.run": N_("Import"),
    "scoring.run": N_("Scoring run"),
    "reports.refresh_demand": N_("Demand report update"),
    "email.send": N_("Email"),
    "signup.submit": N_("Sign-up"),
    "signup.fresh_link": N_("Sign-up: fresh link"),
    "campaigns.send": N_("Campaign sending"),
    "campaigns.start_wave": N_("Campaign wave start"),
    "campaigns.ab_winner": N_("A/B test winner"),
    "dry_run": N_("Trial run"),
    "rolled_back": N_("Rolled back"),
    # attribution rules of the evaluation
    "last-touch": N_("Last touch"),
    "first-touch": N_("First touch"),
    "linear": N_("Linear"),
    # task kinds
    "follow_up": N_("Follow-up"),
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
