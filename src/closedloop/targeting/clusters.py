"""Clustering of persons on behaviour (k-means): k chosen by silhouette, a readable name per
cluster from its profile, a cluster frozen as a snapshot segment in one call.

Features (as of the last order): recency, frequency, monetary value, tenure and breadth of
categories, log-scaled and standardised. Persons without any order form their own group
("no purchase yet") and are not clustered.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from closedloop.errors import ValidationFailed
from closedloop.segments.service import freeze_members
from closedloop.targeting import said
from closedloop.targeting.features import features_at, load_lines, person_ids

COLUMNS = ("recency_days", "frequency", "monetary", "tenure_days", "categories")
SAMPLE = 5000  # persons used to score each k by silhouette


def _name(profile: dict[str, float], overall: dict[str, float]) -> str:
    """Words from how the cluster differs from the median buyer."""
    words = []
    r = profile["recency_days"] / max(overall["recency_days"], 1.0)
    words.append("recent" if r < 0.6 else "lapsed" if r > 1.6 else "steady")
    f = profile["frequency"] / max(overall["frequency"], 1.0)
    words.append("frequent" if f > 1.5 else "occasional" if f < 0.8 else "regular")
    m = profile["monetary"] / max(overall["monetary"], 1.0)
    words.append("high-value" if m > 1.5 else "low-value" if m < 0.7 else "mid-value")
    if profile["categories"] > 1.5 * max(overall["categories"], 1.0):
        words.append("broad")
    return " ".join(words) + " buyers"


Progress = Callable[[float, str], None]


def _quiet(_fraction: float, _message: str) -> None:
    return None


def _buyers(session: Session, cutoff: datetime | None) -> tuple[Any, int, datetime]:
    """The buyers' feature table as of ``cutoff`` (default: just after the last order), the
    number of golden persons, and the cut-off used."""
    lines = load_lines(session)
    persons = person_ids(session)
    if lines.empty:
        raise ValidationFailed("There are no orders to cluster on.")
    if cutoff is None:
        cutoff = lines["ordered_at"].max().to_pydatetime() + timedelta(seconds=1)
    feats = features_at(lines, persons, lines["amount"] == lines["amount"], cutoff)
    return feats[feats["frequency"] > 0][list(COLUMNS)], len(persons), cutoff


def clusters(
    session: Session, k: int | None = None, *, seed: int = 0, progress: Progress = _quiet
) -> dict[str, Any]:
    """Cluster buyers; ``k`` between 2 and 12, or None to choose it by silhouette.

    Returns the chosen k, the silhouette of each k tried, and per cluster its number, name,
    size and median profile; ``members`` maps the cluster number to person ids, and
    ``model`` (JSON-ready: cut-off, scaling, centres) lets :func:`assign` find the same
    members again later (:func:`cluster_segment_from_model`).
    """
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    if k is not None and not 2 <= k <= 12:
        raise ValidationFailed(
            f"The number of clusters must be between 2 and 12, not {k}.",
            errors=[{"field": "k", "message": "between 2 and 12"}],
        )
    progress(0.05, said.READING)
    buyers, n_persons, cutoff = _buyers(session, None)
    if len(buyers) < 20:
        raise ValidationFailed(f"Too few buyers ({len(buyers)}) to cluster; at least 20.")
    raw = np.log1p(buyers.to_numpy(dtype=float))
    mean, std = raw.mean(axis=0), raw.std(axis=0) + 1e-9
    x = (raw - mean) / std
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(x), size=min(SAMPLE, len(x)), replace=False)
    tried: dict[int, float] = {}
    candidates = [k] if k else list(range(2, 9))
    for i, candidate in enumerate(candidates):
        progress(0.3 + 0.5 * i / len(candidates), said.TRYING(k=candidate))
        fit = KMeans(n_clusters=candidate, n_init=4, random_state=seed).fit(x[sample])
        tried[candidate] = float(silhouette_score(x[sample], fit.labels_))
    best = k or max(tried, key=lambda c: tried[c])
    progress(0.85, said.FITTING(k=best))
    model = KMeans(n_clusters=best, n_init=4, random_state=seed).fit(x)
    overall = {c: float(buyers[c].median()) for c in COLUMNS}
    out = []
    members: dict[int, list[int]] = {}
    sizes = np.bincount(model.labels_, minlength=best)
    for number, label in enumerate(np.argsort(-sizes), start=1):
        part = buyers[model.labels_ == label]
        profile = {c: round(float(part[c].median()), 2) for c in COLUMNS}
        members[number] = [int(p) for p in part.index]
        out.append(
            {
                "cluster": number,
                "name": _name(profile, overall),
                "persons": len(part),
                "profile": profile,
            }
        )
    centers = model.cluster_centers_[np.argsort(-sizes)]
    return {
        "k": best,
        "silhouette": {str(c): round(s, 4) for c, s in tried.items()},
        "buyers": len(buyers),
        "non_buyers": n_persons - len(buyers),
        "clusters": out,
        "members": members,
        "model": {
            "cutoff": cutoff.isoformat(),
            "mean": [float(v) for v in mean],
            "std": [float(v) for v in std],
            "centers": [[float(v) for v in row] for row in centers],
        },
    }


def assign(session: Session, model: dict[str, Any]) -> dict[int, list[int]]:
    """The members of each cluster of a stored ``model`` (from :func:`clusters`): features as
    of the model's cut-off, each buyer to the nearest centre. The same persons as when the
    model was made, less those merged or erased since."""
    import numpy as np

    try:
        cutoff = datetime.fromisoformat(str(model["cutoff"]))
        mean, std = np.array(model["mean"], float), np.array(model["std"], float)
        centers = np.array(model["centers"], float)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationFailed("This clustering has no stored model to find its members.") from exc
    buyers, _, _ = _buyers(session, cutoff)
    if buyers.empty:
        return {}
    x = (np.log1p(buyers.to_numpy(dtype=float)) - mean) / std
    nearest = ((x[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
    ids = buyers.index.to_numpy()
    return {n + 1: [int(p) for p in ids[nearest == n]] for n in range(len(centers))}


def cluster_segment(
    session: Session,
    result: dict[str, Any],
    number: int,
    name: str,
    *,
    created_by: str | None = None,
) -> dict[str, Any]:
    """Freeze cluster ``number`` of ``result`` as the snapshot segment ``name``.

    ``result`` is what :func:`clusters` returned; without its ``members`` (a result stored by
    a job), they are found again from its ``model`` (:func:`assign`)."""
    if "members" not in result:
        result = {**result, "members": assign(session, result.get("model") or {})}
    result = {**result, "members": {int(n): m for n, m in result["members"].items()}}
    number = int(number)
    if number not in result["members"]:
        raise ValidationFailed(
            f"There is no cluster {number} (clusters 1 to {result['k']}).",
            errors=[{"field": "cluster", "message": "no such cluster"}],
        )
    info = next(c for c in result["clusters"] if int(c["cluster"]) == number)
    origin = {"source": "clusters", "k": result["k"], "cluster": number, "name": info["name"]}
    segment = freeze_members(
        session,
        name,
        result["members"][number],
        origin,
        created_by=created_by,
        description=f"Cluster: {info['name']}",
    )
    session.flush()
    return {"id": segment.id, "name": segment.name, "members": segment.frozen_count}
