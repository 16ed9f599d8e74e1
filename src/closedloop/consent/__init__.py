"""Consent per channel and purpose (append-only ledger + current state) and suppression lists.

Front door for other domains:

- :func:`can_contact`, :func:`verdicts`, :class:`Verdict`, :class:`Block` — who may be
  contacted on a channel for a purpose (:mod:`.policy`);
- :func:`preference_links` (:func:`preference_url`, :func:`unsubscribe_url`) — a person's
  signed preference-centre and one-click unsubscribe links (:mod:`.messages`);
- :class:`TokenInvalid`, :class:`TokenExpired` — a signed link that is not valid (:mod:`.tokens`).

Other packages may also use the modules :mod:`.service` (record consents, suppressions),
:mod:`.models`, :mod:`.forms`, :mod:`.signup`, :mod:`.signup_jobs`, :mod:`.preferences`,
:mod:`.messages`, :mod:`.policy`, :mod:`.tokens` and :mod:`.hooks` (plugin); ``people`` is the
package's inside (import-linter's "Front door: consent" contract).
"""

from closedloop.consent.messages import (
    PreferenceLinks,
    preference_links,
    preference_url,
    unsubscribe_url,
)
from closedloop.consent.policy import Block, Verdict, can_contact, verdicts
from closedloop.consent.tokens import TokenExpired, TokenInvalid

__all__ = [
    "Block",
    "PreferenceLinks",
    "TokenExpired",
    "TokenInvalid",
    "Verdict",
    "can_contact",
    "preference_links",
    "preference_url",
    "unsubscribe_url",
    "verdicts",
]
