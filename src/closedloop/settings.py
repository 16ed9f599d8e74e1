"""Settings read from the environment (prefix ``CLOSEDLOOP_``) and an optional ``.env`` file.

Nothing is built at import time: call :func:`get_settings` where settings are needed.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting of closedloop; each one can be set as ``CLOSEDLOOP_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="CLOSEDLOOP_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///closedloop.db",
        description="SQLAlchemy URL of the store; SQLite file by default, "
        "postgresql+psycopg://user@host/db for a team server.",
    )
    secret_key: str = Field(
        default="",
        description="Key that signs session cookies and links. Generated and kept in "
        "`secret_key_file` when empty.",
    )
    secret_key_file: Path = Field(default=Path(".closedloop-secret"))
    session_cookie_secure: bool = Field(
        default=False, description="Send the session cookie over HTTPS only (set in production)."
    )
    session_max_age_seconds: int = 8 * 3600
    default_locale: str = "en"
    default_currency: str = "EUR"
    default_country: str = "FR"
    timezone: str = Field(
        default="UTC",
        description="IANA time zone in which pages show dates and times (e.g. Europe/Paris); "
        "the store keeps UTC.",
    )
    page_size: int = 50
    # Outgoing email and public links (sign-up forms, preference centre).
    smtp_host: str = Field(default="localhost", description="SMTP server for outgoing email.")
    smtp_port: int = Field(default=25, description="SMTP port (587 with STARTTLS, 25 plain).")
    smtp_username: str = Field(default="", description="SMTP login; empty for none.")
    smtp_password: str = Field(default="", description="SMTP password.")
    smtp_starttls: bool = Field(default=False, description="Upgrade the SMTP link with STARTTLS.")
    smtp_timeout_seconds: float = 30.0
    mail_from: str = Field(
        default="closedloop <noreply@localhost>", description="Sender of outgoing email."
    )
    upload_dir: str = Field(
        default="",
        description="Folder where uploaded files wait for their import job; share it between "
        "the web server and the workers when they run on different machines. Empty: a "
        "private folder under the system's temporary directory.",
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Address where people reach the public pages (links in emails).",
    )
    signup_frame_ancestors: str = Field(
        default="",
        description="Origins (space- or comma-separated, e.g. https://www.example.com) allowed "
        "to embed the public sign-up forms in an iframe; empty allows this site only.",
    )
    signup_min_seconds: float = Field(
        default=3.0, description="A sign-up form sent sooner than this after display is a bot."
    )
    job_rate_limit: int = Field(
        default=20,
        ge=1,
        description="Jobs (imports, runs, retries, redeliveries) one user may start through "
        "the API per `job_rate_window_seconds`; past it the API answers 429 with Retry-After.",
    )
    job_rate_window_seconds: int = Field(default=600, ge=1)
    fresh_link_per_address: int = Field(
        default=3,
        ge=1,
        description='"Send me a fresh link" mails to one address per hour (more are '
        "silently dropped: the answer never tells whether an address is known).",
    )
    fresh_link_per_client: int = Field(
        default=10,
        ge=1,
        description='"Send me a fresh link" requests one client (IP address) may make per '
        "hour; past it the page answers 429.",
    )
    password_hash_profile: Literal["RFC_9106_LOW_MEMORY", "RFC_9106_HIGH_MEMORY", "CHEAPEST"] = (
        Field(
            default="RFC_9106_LOW_MEMORY",
            description="argon2id parameters for new password hashes (RFC 9106's profiles); "
            "existing hashes keep theirs until the next login. `CHEAPEST` is for test suites "
            "only: it makes passwords easy to crack.",
        )
    )
    campaign_approval_by_other: bool = Field(
        default=False,
        description="A campaign must be approved by a marketer other than its author "
        "(four-eyes rule).",
    )
    job_retention_days: int = Field(
        default=30,
        ge=0,
        description="Jobs that ended (done, failed, cancelled) are deleted after this many "
        "days by the workers; 0 keeps them.",
    )

    def resolved_secret_key(self) -> str:
        """Return the signing key, creating a random one in ``secret_key_file`` if none is set."""
        if self.secret_key:
            return self.secret_key
        path = self.secret_key_file
        if path.exists():
            return path.read_text().strip()
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings (cached; tests clear the cache to change them)."""
    return Settings()
