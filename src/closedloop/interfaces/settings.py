"""Settings of the sync API and of outgoing webhooks, read from ``CLOSEDLOOP_*``.

- ``CLOSEDLOOP_SYNC_MAX_ITEMS`` (1000): items per sync request; more is refused (413).
- ``CLOSEDLOOP_SYNC_MAX_BODY_BYTES`` (10 MiB): the largest request body (413 above).
- ``CLOSEDLOOP_IDEMPOTENCY_TTL_HOURS`` (24): how long a stored response is replayed.
- ``CLOSEDLOOP_WEBHOOK_RETRY_SCHEDULE`` (JSON list of seconds, ``[60, 300, 1800, 7200,
  43200]``): the wait before each retry (1 min, 5 min, 30 min, 2 h, 12 h); a delivery fails
  after ``len(schedule) + 1`` attempts.
- ``CLOSEDLOOP_WEBHOOK_JITTER`` (0.2): each wait is stretched by a random 0–20 %.
- ``CLOSEDLOOP_WEBHOOK_TIMEOUT_SECONDS`` (10): the receiver's time to answer.
- ``CLOSEDLOOP_WEBHOOK_CACHE_SECONDS`` (5): how long a process trusts its list of
  subscriptions (changes made in the same process apply at once).
- ``CLOSEDLOOP_WEBHOOK_ALLOW_PRIVATE_TARGETS`` (false): let webhooks reach loopback, link-local
  and private addresses (see :mod:`closedloop.interfaces.targets`).
- ``CLOSEDLOOP_WEBHOOK_SECRET_GRACE_HOURS`` (24): after a rotation the old secret also signs
  (a second ``v1=`` signature) for this long, so receivers can switch without losing events.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class InterfacesSettings(BaseSettings):
    """Limits of the sync API and the webhook delivery schedule."""

    model_config = SettingsConfigDict(env_prefix="CLOSEDLOOP_", env_file=".env", extra="ignore")

    sync_max_items: int = Field(1000, ge=1, description="Items per sync request.")
    sync_max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="Largest body.")
    idempotency_ttl_hours: float = Field(24.0, gt=0)
    webhook_retry_schedule: list[float] = Field(
        default_factory=lambda: [60.0, 300.0, 1800.0, 7200.0, 43200.0]
    )
    webhook_jitter: float = Field(0.2, ge=0, le=1)
    webhook_timeout_seconds: float = Field(10.0, gt=0)
    webhook_cache_seconds: float = Field(5.0, ge=0)
    webhook_secret_grace_hours: float = Field(24.0, ge=0)
    webhook_allow_private_targets: bool = Field(
        False,
        description="Let webhooks reach loopback, link-local and private addresses (their "
        "answers' bodies are then never logged).",
    )

    @property
    def webhook_max_attempts(self) -> int:
        """Attempts before a delivery is marked failed."""
        return len(self.webhook_retry_schedule) + 1


@lru_cache(maxsize=1)
def get_interfaces_settings() -> InterfacesSettings:
    """The process-wide settings (tests clear the cache to change them)."""
    return InterfacesSettings()
