"""The pre-send analysis at approval: the campaign's messages rendered for its target segment.

Nothing is queued before launch, so :func:`analyse_for_approval` renders each sending cell's
message for the members of the campaign's target segment — all of them up to
:data:`SAMPLE` persons, else a reproducible random sample of :data:`SAMPLE` (the counts are
then the sample's, and a warning says so) — as the sender would, through
:func:`closedloop.campaigns.compose.compose`; nothing is written) and reports the findings of
:mod:`closedloop.campaigns.checks` — a missing unsubscribe link or subject, a template field empty
for some recipients (with their count), an SMS over its segment budget, an oversized email are
errors; approval refuses them. Skipped or suppressed recipients and the like are warnings.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace

from sqlalchemy.orm import Session

from closedloop.campaigns import service
from closedloop.campaigns.checks import (
    Finding,
    Severity,
    findings_from_reasons,
    findings_from_sizes,
    no_links,
    size_problems,
    static_findings,
)
from closedloop.campaigns.compose import compose, load_plan
from closedloop.campaigns.coordination_models import CampaignTargeting
from closedloop.campaigns.ledger import LedgerRow
from closedloop.campaigns.models import Campaign
from closedloop.channels import get_channel_settings
from closedloop.errors import ValidationFailed
from closedloop.vocab import CommunicationStatus as St

_BATCH = 1000
#: How many members approval renders at most (a random sample of a larger segment).
SAMPLE = 2000


def analyse_for_approval(session: Session, campaign: Campaign) -> list[Finding]:
    """Findings of the campaign's first wave for its target segment (reads only)."""
    waves = service.waves_of(session, campaign.id)
    if not waves:
        return []
    try:
        plan = load_plan(session, waves[0].id)
    except ValidationFailed as exc:
        return [
            Finding(Severity.ERROR, "template", f"{e['field']}: {e['message']}") for e in exc.errors
        ]
    findings = static_findings(plan)
    targeting = session.get(CampaignTargeting, campaign.id)
    if targeting is None or targeting.segment_id is None:
        return findings
    from closedloop.segments.evaluate import member_ids

    people = member_ids(session, targeting.segment_id)
    if len(people) > SAMPLE:  # the same sample every time for the same campaign
        total = len(people)
        people = sorted(random.Random(campaign.id).sample(people, SAMPLE))
        findings.append(Finding(
            Severity.WARNING, "sample",
            f"Checked a random sample of {SAMPLE:,} of the {total:,} recipients: "
            "the counts below are the sample's.",
        ))  # fmt: skip
    settings = get_channel_settings()
    for cell_id, cell in sorted(plan.cells.items()):
        reasons: Counter[tuple[St, str]] = Counter()
        sizes: Counter[str] = Counter()
        for start in range(0, len(people), _BATCH):
            batch = people[start : start + _BATCH]
            rows = [
                LedgerRow(-(start + i + 1), pid, cell_id, cell.channel.value, 0)
                for i, pid in enumerate(batch)
            ]
            ready, settled = compose(session, plan, rows, links=no_links)
            reasons.update((s.status, s.detail) for s in settled)
            for r in ready:
                sizes.update(size_problems(r, settings))
        cell_findings = findings_from_reasons(reasons, len(people))
        cell_findings += findings_from_sizes(sizes, settings)
        findings += [replace(f, cell=cell.code) for f in cell_findings]
    return findings


def errors_of(findings: list[Finding]) -> list[Finding]:
    """The findings that keep a campaign from being approved."""
    return [f for f in findings if f.severity is Severity.ERROR]


def warnings_of(findings: list[Finding]) -> list[Finding]:
    """The findings shown at approval without refusing it."""
    return [f for f in findings if f.severity is Severity.WARNING]
