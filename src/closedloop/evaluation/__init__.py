"""Evaluation (M15): did a campaign work? Purchases in its response window are attributed to
the wave and cell of the person's message and compared with the control group's.

The front door for other packages:

* :func:`evaluate` — a campaign's :class:`Report` (per cell and wave: funnel, rates, cost,
  lift against control with 95 % intervals and p-values, the A/B winner, a verdict);
  :func:`report_dict` turns it into JSON; :class:`Rule` / :func:`parse_rule` name the
  attribution rule.
* :func:`segment_from_evaluation` — responders, non-responders, buyers or a cell as a
  snapshot segment (:class:`Source` / :func:`parse_source`); :func:`responder_ids`,
  :func:`non_responder_ids` and :func:`buyer_ids` for scoring and segmentation.
* :func:`rebuild_counters` / :func:`check_counters` — the funnel counters a report reads,
  recounted from the rows, or compared with a recount (:class:`Drift`).
* :mod:`closedloop.evaluation.stats` — the tests (two proportions, Welch, Holm), pure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from closedloop.evaluation.attribution import Rule
from closedloop.evaluation.counters import Drift, check_counters, rebuild_counters
from closedloop.evaluation.report import NO_EFFECT, Group, Report, report_dict
from closedloop.evaluation.service import evaluate, parse_rule

if TYPE_CHECKING:
    from closedloop.evaluation.loop import (
        Source,
        buyer_ids,
        non_responder_ids,
        parse_source,
        responder_ids,
        segment_from_evaluation,
    )

#: names of :mod:`closedloop.evaluation.loop`, imported when first used: the loop needs the
#: segments package, which a report does not (``closedloop campaigns report`` starts faster)
_LOOP = frozenset(
    (
        "Source",
        "buyer_ids",
        "non_responder_ids",
        "parse_source",
        "responder_ids",
        "segment_from_evaluation",
    )
)


def __getattr__(name: str) -> Any:
    if name in _LOOP:
        from closedloop.evaluation import loop

        return getattr(loop, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "NO_EFFECT",
    "Drift",
    "Group",
    "Report",
    "Rule",
    "Source",
    "buyer_ids",
    "check_counters",
    "evaluate",
    "non_responder_ids",
    "parse_rule",
    "parse_source",
    "rebuild_counters",
    "report_dict",
    "responder_ids",
    "segment_from_evaluation",
]
