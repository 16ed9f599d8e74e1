"""Uplift (M10): which persons a campaign *moves*, learnt from a past campaign with a control
group, and its Qini curve.

Two-model approach: one gradient-boosting classifier learns the buy probability of the
targeted members, another that of the control members, on the same behaviour features as of
the campaign's start; a person's uplift is the difference. Unlike propensity, it ranks the
"persuadables" (who buy because they were addressed) above the "sure things" (who buy anyway).

Judged on a held-out third of the members: the **Qini curve** gives, for the top fraction of
members by predicted uplift, the incremental buyers ``Y_t − Y_c · N_t / N_c`` (as a share of
the members); the **Qini coefficient** is the area between that curve and the diagonal of
random targeting: 0 is no better than random, above 0 is better.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.campaigns.models import Campaign, CampaignMember, Cell
from closedloop.contacts.models import Person
from closedloop.errors import NotFound, ValidationFailed
from closedloop.segments.service import freeze_members
from closedloop.targeting import said
from closedloop.targeting.features import FEATURES, features_at, load_lines
from closedloop.targeting.threads import one_thread

MIN_GROUP = 20  # members in each of the treated and control groups
POINTS = 20  # points of the Qini curve


def _quiet(_fraction: float, _message: str) -> None:
    return None


def qini_curve(uplift: Any, treated: Any, y: Any, points: int = POINTS) -> list[dict[str, float]]:
    """The Qini curve of a ranking by ``uplift``: for each top fraction of the persons, the
    incremental buyers ``Y_t − Y_c · N_t / N_c`` (as a share of all persons)."""
    import numpy as np

    order = np.argsort(-np.asarray(uplift, float), kind="stable")
    t = np.asarray(treated, bool)[order]
    yy = np.asarray(y, float)[order]
    n = len(order)
    yt, yc = np.cumsum(yy * t), np.cumsum(yy * ~t)
    nt, nc = np.cumsum(t), np.cumsum(~t)
    gain = yt - yc * np.divide(nt, nc, out=np.zeros(n), where=nc > 0)
    out = [{"fraction": 0.0, "incremental": 0.0}]
    for k in np.linspace(0, n, points + 1)[1:]:
        i = max(round(float(k)) - 1, 0)
        share = round(float(gain[i]) / n, 5)
        out.append({"fraction": round((i + 1) / n, 4), "incremental": share})
    return out


def qini_coefficient(curve: list[dict[str, float]]) -> float:
    """Area between the Qini curve and the random diagonal (0 at random, > 0 better)."""
    import numpy as np

    x = np.array([p["fraction"] for p in curve])
    y = np.array([p["incremental"] for p in curve])
    diagonal = x * y[-1]
    return float(np.trapezoid(y - diagonal, x))


def two_model_uplift(x_train: Any, treated: Any, y: Any, x_score: Any, *, seed: int = 0) -> Any:
    """The uplift ``P(buy | treated, x) − P(buy | control, x)`` of each row of ``x_score``,
    from two classifiers fitted on the treated and the control rows of ``x_train``."""
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier

    t = np.asarray(treated, bool)
    yy = np.asarray(y, int)
    probabilities = []
    for group in (t, ~t):
        if yy[group].min() == yy[group].max():  # one class only: its rate is the answer
            probabilities.append(np.full(len(x_score), float(yy[group].mean())))
            continue
        model = HistGradientBoostingClassifier(
            max_iter=100, learning_rate=0.08, min_samples_leaf=10, random_state=seed
        )
        with one_thread():
            model.fit(x_train[group], yy[group])
            probabilities.append(model.predict_proba(x_score)[:, 1])
    return probabilities[0] - probabilities[1]


def fit_and_judge(x: Any, treated: Any, y: Any, *, seed: int = 0) -> dict[str, Any]:
    """Fit on two thirds of the rows, judge on the last third (Qini curve and coefficient,
    observed uplift by predicted tenth); then refit on every row and score them all."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = len(y)
    test = np.zeros(n, bool)
    test[rng.permutation(n)[: n // 3]] = True
    t, yy = np.asarray(treated, bool), np.asarray(y, int)
    judged = two_model_uplift(x[~test], t[~test], yy[~test], x[test], seed=seed)
    curve = qini_curve(judged, t[test], yy[test])
    order = np.argsort(-judged, kind="stable")
    deciles = []
    for i, idx in enumerate(np.array_split(order, 10), start=1):
        tt, ty = t[test][idx], yy[test][idx]
        rate_t = float(ty[tt].mean()) if tt.any() else 0.0
        rate_c = float(ty[~tt].mean()) if (~tt).any() else 0.0
        predicted = round(float(judged[idx].mean()), 4)
        deciles.append({"decile": i, "persons": len(idx), "predicted": predicted,
                        "observed": round(rate_t - rate_c, 4)})  # fmt: skip
    scores = two_model_uplift(x, t, yy, x, seed=seed)
    return {
        "qini": curve,
        "qini_coefficient": round(qini_coefficient(curve), 5),
        "deciles": deciles,
        "test_persons": int(test.sum()),
        "scores": scores,
    }


def campaign_uplift(
    session: Session, code: str, *, days: int | None = None,
    progress: Callable[[float, str], None] = _quiet,
) -> dict[str, Any]:  # fmt: skip
    """Uplift of campaign ``code`` (its latest version): the response is a completed order in
    the ``days`` after its start (default: the campaign's response window). Refused for an
    unknown campaign, one without a control group, or with too few members in either."""
    import numpy as np

    campaign = session.scalars(
        select(Campaign).where(Campaign.code == code).order_by(Campaign.version.desc()).limit(1)
    ).first()
    if campaign is None:
        raise NotFound(f"There is no campaign {code!r}.")
    rows = session.execute(
        select(CampaignMember.person_id, Cell.is_control, CampaignMember.assigned_at)
        .join(Cell, Cell.id == CampaignMember.cell_id)
        .where(CampaignMember.campaign_id == campaign.id)
    ).all()
    members = {int(p): bool(c) for p, c, _ in rows}
    controls = sum(members.values())
    if controls < MIN_GROUP or len(members) - controls < MIN_GROUP:
        raise ValidationFailed(
            f"Campaign {code} needs at least {MIN_GROUP} targeted and {MIN_GROUP} control "
            f"members to learn an uplift ({len(members) - controls} and {controls}).",
            errors=[{"field": "campaign", "message": "too few members or no control group"}],
        )
    if campaign.starts_on is not None:
        start = datetime(campaign.starts_on.year, campaign.starts_on.month,
                         campaign.starts_on.day, tzinfo=UTC)  # fmt: skip
    else:
        start = min(a for _, _, a in rows)
        start = start if start.tzinfo else start.replace(tzinfo=UTC)
    window = timedelta(days=days or campaign.response_window_days or 30)
    progress(0.1, said.READING)
    lines = load_lines(session)
    ids = sorted(members)
    feats = features_at(lines, ids, lines["amount"] == lines["amount"], start)
    during = lines[(lines["ordered_at"] >= start) & (lines["ordered_at"] < start + window)]
    buyers = set(during["person_id"].unique())
    y = np.array([1 if p in buyers else 0 for p in ids])
    treated = np.array([not members[p] for p in ids])
    progress(0.4, said.TWO_MODELS)
    judged = fit_and_judge(feats.to_numpy(dtype=float), treated, y)
    scores = judged.pop("scores")
    order = np.argsort(-scores, kind="stable")
    rate_t, rate_c = float(y[treated].mean()), float(y[~treated].mean())
    return {
        "campaign": code, "campaign_id": campaign.id, "start": start.isoformat(),
        "days": window.days, "treated": int(treated.sum()), "control": int((~treated).sum()),
        "response_treated": round(rate_t, 4), "response_control": round(rate_c, 4),
        "uplift": round(rate_t - rate_c, 4), "features": list(FEATURES), **judged,
        "ranking": [(int(ids[i]), round(float(scores[i]), 5)) for i in order],
    }  # fmt: skip


def _ranked_ids(result: dict[str, Any]) -> list[int]:
    """The persons of an uplift ``result``, best uplift first: its ``ranking`` of (person,
    uplift) pairs from :func:`campaign_uplift`, or of person ids as a job stores it."""
    ranking = result.get("ranking")
    if not isinstance(ranking, list) or not ranking:
        raise ValidationFailed(
            "This uplift analysis has no stored ranking to choose members from; run it again.",
            errors=[{"field": "ranking", "message": "missing"}],
        )
    return [int(r[0]) if isinstance(r, list | tuple) else int(r) for r in ranking]


def uplift_segment(
    session: Session, result: dict[str, Any], share: float, name: str, *,
    created_by: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Freeze the top ``share`` (0 < share ≤ 1, e.g. 0.3) of the persons of an uplift
    ``result``, by predicted uplift, as the snapshot segment ``name``; persons erased since
    are left out, merged ones counted as their golden record. Returns its id, name, members."""
    import math

    if not isinstance(share, int | float) or math.isnan(share) or not 0 < share <= 1:
        raise ValidationFailed(
            f"The share of persons must be above 0 and at most 1 (0.3 is 30 percent), not {share}.",
            errors=[{"field": "share", "message": "above 0 and at most 1"}],
        )
    ids = _ranked_ids(result)
    chosen = ids[: max(1, round(share * len(ids)))]
    present: set[int] = set()
    for start in range(0, len(chosen), 900):
        part = chosen[start : start + 900]
        present.update(session.scalars(select(Person.id).where(Person.id.in_(part))))
    code = str(result.get("campaign", ""))
    origin = {"source": "uplift", "campaign": code, "share": share,
              "qini_coefficient": result.get("qini_coefficient")}  # fmt: skip
    segment = freeze_members(
        session, name, [p for p in chosen if p in present], origin, created_by=created_by,
        description=f"Uplift of campaign {code}: the best {share:.0%} of its members",
    )  # fmt: skip
    session.flush()
    return {"id": segment.id, "name": segment.name, "members": segment.frozen_count}
