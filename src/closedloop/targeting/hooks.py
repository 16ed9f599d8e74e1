"""Plugin hooks of targeting: the worker jobs of its analyses, and the products a message
template lists (``recommendations``) for each recipient.

Loaded in every process, so pandas and scikit-learn are imported only when a job or a
message needs them.
"""

from __future__ import annotations

from typing import Any

from closedloop.hookspecs import hookimpl
from closedloop.targeting.jobs import (
    CLUSTERS_KIND,
    EVALUATION_KIND,
    PROPENSITY_KIND,
    UPLIFT_KIND,
    run_clusters,
    run_evaluation,
    run_propensity,
    run_uplift,
)


@hookimpl
def job_handlers() -> dict[str, Any]:
    """``targeting.propensity``, ``targeting.clusters``, ``targeting.evaluation``,
    ``targeting.uplift``."""
    return {
        PROPENSITY_KIND: run_propensity,
        CLUSTERS_KIND: run_clusters,
        EVALUATION_KIND: run_evaluation,
        UPLIFT_KIND: run_uplift,
    }


@hookimpl
def message_recommendations(
    session: Any, person_ids: list[int], campaign_id: int | None, limit: int
) -> dict[int, list[dict[str, Any]]] | None:
    """The next best products of each recipient (co-purchase and category affinity, never
    one already bought or inactive): ``code``, ``name``, ``price``, ``currency``…"""
    from closedloop.targeting.recommend import recommend_many

    if not person_ids:
        return {}
    return recommend_many(session, list(person_ids), max(1, limit))
