"""Settings of identity resolution, read from ``CLOSEDLOOP_DEDUPE_*`` (or a ``.env`` file).

- ``CLOSEDLOOP_DEDUPE_THRESHOLD`` (0.9): a pair at or above this match probability is merged
  automatically by ``closedloop dedupe run``.
- ``CLOSEDLOOP_DEDUPE_REVIEW_THRESHOLD`` (0.5): pairs between the two go to the review queue;
  the online check reports candidates from here up.
- ``CLOSEDLOOP_DEDUPE_SOURCE_RANKING`` (JSON list, most trusted first), e.g.
  ``'["erp", "pos", "webshop"]'``: the "most trusted source" survivorship rule follows it;
  unlisted sources come after listed ones.
- ``CLOSEDLOOP_DEDUPE_SURVIVORSHIP`` (JSON object field → rule), e.g.
  ``'{"birth_date": "most_trusted", "given_name": "most_complete"}'``; rules are
  ``most_recent``, ``most_trusted`` and ``most_complete`` (see :mod:`.survivorship`).
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DedupeSettings(BaseSettings):
    """Thresholds and survivorship of identity resolution."""

    model_config = SettingsConfigDict(
        env_prefix="CLOSEDLOOP_DEDUPE_", env_file=".env", extra="ignore"
    )

    threshold: float = Field(0.9, gt=0, lt=1, description="Automatic merge from here up.")
    review_threshold: float = Field(0.5, gt=0, lt=1, description="Review queue from here up.")
    source_ranking: list[str] = Field(
        default_factory=list, description="Source systems, most trusted first."
    )
    survivorship: dict[str, str] = Field(
        default_factory=dict, description="Field → most_recent | most_trusted | most_complete."
    )
    online_block_cap: int = Field(
        50, ge=2, description="A key shared by more persons than this is too common to look up."
    )
    online_limit: int = Field(10, ge=1, description="Most candidates the online check returns.")


@lru_cache(maxsize=1)
def get_dedupe_settings() -> DedupeSettings:
    """The process-wide dedupe settings (tests clear the cache to change them)."""
    return DedupeSettings()
