"""What a duplicate search says of its progress and outcome (stored in English, translated
where a page shows it: see :class:`closedloop.i18n.Said`)."""

from __future__ import annotations

from closedloop.i18n import N_, Said

#: What each phase of ``dedupe.run`` is doing.
PHASE_TEXT = {
    "read": N_("reading persons"),
    "dedupe": N_("comparing persons"),
    "index": N_("indexing"),
    "store": N_("storing pairs"),
    "merge": N_("merging"),
}
INDEXED = Said(N_("%(done)s of %(total)s persons"))
PHASE_DONE = Said(N_("%(phase)s: %(done)s of %(total)s"))
RUN_DONE = Said(N_("%(merges)s merges, %(pending)s pairs to review"))
