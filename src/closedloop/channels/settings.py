"""Settings of the channels, read from ``CLOSEDLOOP_*`` (or a ``.env`` file) at each run.

The SMTP server itself (``CLOSEDLOOP_SMTP_HOST``, ``_PORT``, ``_USERNAME``, ``_PASSWORD``,
``_STARTTLS``, ``_TIMEOUT_SECONDS``) and ``CLOSEDLOOP_MAIL_FROM`` are in
:class:`closedloop.settings.Settings`, shared with the sign-up emails. Here: how campaigns
use it, the SMS provider, the letters, and the guard that keeps the demo base from reaching
real mailboxes.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")


class ChannelSettings(BaseSettings):
    """How campaign messages go out."""

    model_config = SettingsConfigDict(env_prefix="CLOSEDLOOP_", env_file=".env", extra="ignore")

    delivery_is_test_sink: bool = Field(
        default=False,
        description="The SMTP server and SMS provider configured are test sinks that deliver "
        "nothing (aiosmtpd, Postfix smtp-sink, a local HTTP stub). Required to send to the "
        "demo base, whose made-up addresses look real and may belong to someone.",
    )
    smtp_connections: int = Field(
        default=4, ge=1, le=64, description="SMTP connections a campaign sender keeps open."
    )
    smtp_rate: float = Field(
        default=0.0, ge=0, description="Most campaign emails a second (0: no limit)."
    )
    smtp_data_timeout_seconds: float = Field(
        default=600.0,
        gt=0,
        description="How long to wait for the server's answer to the end of a message "
        "(RFC 5321 asks for 10 minutes); a message without answer is 'unconfirmed'.",
    )
    send_batch_size: int = Field(
        default=500, ge=1, le=10000, description="Ledger rows a sender reads at a time."
    )
    send_max_attempts: int = Field(
        default=5, ge=1, description="Attempts at a message refused for now (4xx) before it fails."
    )
    send_retry_seconds: float = Field(
        default=60.0,
        ge=0,
        description="Wait before the first retry of a message refused for now; each next "
        "wait is four times longer (60 s, 4 min, 16 min, ~1 h).",
    )
    send_unavailable_seconds: float = Field(
        default=300.0,
        ge=0,
        description="A sender that cannot reach its server for this long stops; the rows "
        "stay queued for the next run (the job retries later).",
    )
    send_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="A wave's sender that has not shown life for this long (and is not a "
        "live process of this machine) may be replaced by another.",
    )
    sms_url: str = Field(default="", description="The SMS provider's HTTP endpoint (POST).")
    sms_username: str = Field(default="", description="HTTP basic login at the SMS provider.")
    sms_password: str = Field(default="", description="HTTP basic password.")
    sms_token: str = Field(default="", description="Bearer token (instead of basic login).")
    sms_sender: str = Field(default="closedloop", description="Sender id or number of SMS.")
    sms_body_template: str = Field(
        default='{"from": {{sender}}, "to": {{to}}, "text": {{text}}}',
        description="The request body with the placeholders {{sender}}, {{to}}, {{text}} and "
        "{{reference}}, each replaced by its value encoded for the body type (a JSON string "
        "with its quotes, or URL-encoded for a form body).",
    )
    sms_content_type: str = Field(default="application/json")
    sms_id_field: str = Field(
        default="id",
        description="Field of the provider's JSON answer holding its message id (empty: none).",
    )
    sms_timeout_seconds: float = Field(default=10.0, gt=0)
    sms_rate: float = Field(default=0.0, ge=0, description="Most SMS a second (0: no limit).")
    sms_max_segments: int = Field(
        default=3, ge=1, le=10, description="Most segments one SMS may take (budget)."
    )
    letter_dir: Path = Field(
        default=Path("letters"),
        description="Folder where letter waves are written (PDF and print-shop CSV per batch).",
    )
    letter_font: Path = Field(
        default=DEJAVU / "DejaVuSans.ttf", description="TrueType font of the letters."
    )
    letter_font_bold: Path = Field(default=DEJAVU / "DejaVuSans-Bold.ttf")
    letter_fallback_fonts: list[Path] = Field(
        default_factory=list,
        description="Further fonts for characters the letter font lacks (e.g. a CJK font).",
    )
    letter_return_address: str = Field(
        default="",
        description="Sender line printed above the window's address block (one line).",
    )
    letter_country: str = Field(
        default="",
        description="Country the letters are posted from (ISO code): the country line is "
        "left out for addresses inside it. Empty: CLOSEDLOOP_DEFAULT_COUNTRY.",
    )


def get_channel_settings() -> ChannelSettings:
    """The channel settings as the environment says now (not cached: read once per run)."""
    return ChannelSettings()
