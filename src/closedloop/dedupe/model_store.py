"""Trained models in the store (``dedupe_models``) and their term frequencies."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from closedloop.dedupe.keys import prepare_one
from closedloop.dedupe.models import DedupeModelRecord
from closedloop.dedupe.online_model import OnlineModel

if TYPE_CHECKING:  # pandas and Splink's settings are loaded by the batch paths only
    import pandas as pd

    from closedloop.dedupe.engine.model import DedupeModel


def save_model(
    session: Session,
    model: DedupeModel,
    *,
    threshold: float,
    review_threshold: float,
    prepared: pd.DataFrame | None,
    job_id: int | None = None,
) -> DedupeModelRecord:
    """Store a trained model as the new active version."""
    doc = model.to_json(prepared)
    version = int(session.scalar(select(func.max(DedupeModelRecord.version))) or 0) + 1
    session.execute(update(DedupeModelRecord).values(is_active=False))
    record = DedupeModelRecord(
        version=version,
        is_active=True,
        threshold=threshold,
        review_threshold=review_threshold,
        trained_on=model.trained_on,
        document=doc,
        job_id=job_id,
    )
    session.add(record)
    session.flush()
    return record


def active_model(session: Session) -> DedupeModelRecord | None:
    """The model the online check uses: the newest active one."""
    return session.scalar(
        select(DedupeModelRecord)
        .where(DedupeModelRecord.is_active.is_(True))
        .order_by(DedupeModelRecord.version.desc())
        .limit(1)
    )


@lru_cache(maxsize=1)
def _active_statement() -> Select[int, datetime]:
    """Built once: the online check reads it on every save."""
    return (
        select(DedupeModelRecord.id, DedupeModelRecord.created_at)
        .where(DedupeModelRecord.is_active.is_(True))
        .order_by(DedupeModelRecord.version.desc())
        .limit(1)
    )


_ONLINE_CACHE: dict[tuple[int, str], OnlineModel] = {}


def online_model(session: Session, n_golden: int | None = None) -> tuple[OnlineModel, int | None]:
    """(scoring model, its id): the active trained model, else the untrained default one."""
    found = session.execute(_active_statement()).first()
    if found is not None:
        model_id, created = int(found[0]), str(found[1])
        # Rows are never changed once stored; the time tells apart a reused id.
        cached = _ONLINE_CACHE.get((model_id, created))
        if cached is None:
            row = session.get(DedupeModelRecord, model_id)
            assert row is not None
            cached = OnlineModel.from_document(row.document)
            if len(_ONLINE_CACHE) > 8:
                _ONLINE_CACHE.clear()
            _ONLINE_CACHE[(model_id, created)] = cached
        return cached, model_id
    return default_online_model(max(n_golden or 0, 2)), None


@lru_cache(maxsize=16)
def default_online_model(n: int) -> OnlineModel:
    """The product's comparisons with their prior m and u (no base to train on yet)."""
    full = {
        "record_id": "0", "given_name": "Jean", "family_name": "Martin",
        "birth_date": "1970-01-01", "email": "a@b.fr", "phone": "+33612345678",
        "street": "1 rue de la Paix", "address_line2": "Bat A", "postal_code": "75001",
        "locality": "Paris",
    }  # fmt: skip
    import pandas as pd

    from closedloop.dedupe.engine.model import default_settings

    frame = pd.DataFrame([prepare_one(full)])
    settings = default_settings(frame, [])
    settings["probability_two_random_records_match"] = 1.0 / n
    return OnlineModel.from_document({"splink_settings": settings})
