"""Settings of response capture, read from ``CLOSEDLOOP_*`` (or a ``.env`` file) at each run."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ResponseSettings(BaseSettings):
    """How reactions are captured, filtered and acted on."""

    model_config = SettingsConfigDict(env_prefix="CLOSEDLOOP_", env_file=".env", extra="ignore")

    tracking_flush_ms: int = Field(
        default=200,
        ge=0,
        le=10000,
        description="Opens and clicks are written in batches at most this many milliseconds "
        "after they arrive (0: each is written before its answer). A clean shutdown writes "
        "what is waiting; a crash loses at most this window.",
    )
    tracking_buffer_max: int = Field(
        default=5000,
        ge=1,
        description="Opens and clicks waiting in memory that make a write start at once.",
    )
    scanner_seconds: float = Field(
        default=10.0,
        ge=0,
        description="A click this soon after its message was sent is a security scanner's, "
        "not the person's.",
    )
    scanner_links: int = Field(
        default=3,
        ge=2,
        description="This many different links of one message clicked within "
        "``scanner_window_seconds`` are a scanner's.",
    )
    scanner_window_seconds: float = Field(default=5.0, ge=0)
    soft_bounce_limit: int = Field(
        default=3,
        ge=1,
        description="Soft bounces of one address (full mailbox, server down) that suppress it.",
    )
    sms_stop_words: str = Field(
        default="STOP,STOPP,ARRET,ARRÊT,UNSUBSCRIBE,END,QUIT,CANCEL,STOPALL",
        description="Replies (first word, any case) that withdraw SMS consent at once.",
    )
    sms_callback_token: str | None = Field(
        default=None,
        description="The shared secret the SMS provider sends with its callbacks "
        "(``?token=`` or the ``X-Callback-Token`` header). Callbacks are refused without it.",
    )

    calls_per_agent_per_day: int = Field(
        default=80,
        ge=1,
        le=10000,
        description="Call outcomes one agent may record per local day at the call desk; "
        "the desk offers no new call beyond it.",
    )
    call_claim_minutes: int = Field(
        default=20,
        ge=1,
        le=1440,
        description="A call handed to an agent is theirs this long; unfinished, it goes back "
        "to the call list.",
    )
    call_retry_hours: float = Field(
        default=4.0,
        gt=0,
        le=720,
        description="An unanswered call (no answer, voicemail) is due again this many hours later.",
    )
    call_max_attempts: int = Field(
        default=3,
        ge=1,
        le=50,
        description="Unanswered calls to one person of a wave before the call is given up "
        "(settled failed).",
    )


@lru_cache(maxsize=1)
def get_response_settings() -> ResponseSettings:
    """The response settings (cached; tests clear the cache after changing the environment)."""
    return ResponseSettings()
