"""Settings read from the environment (prefix ``CLOSEDLOOP_``) and an optional ``.env`` file.

Nothing is built at import time: call :func:`get_settings` where settings are needed.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

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
    page_size: int = 50

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
