"""Tracked links in a rendered email: every ``http(s)`` link of its HTML and text becomes a
tracked link of the message, and the open pixel goes before ``</body>``
(:mod:`closedloop.campaigns.tracking` signs and serves them).
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import replace

from closedloop.campaigns import tracking
from closedloop.campaigns.render import Rendered

#: An address in the text part: up to a space, a closing bracket or the end (so a longer
#: address that merely starts like a tracked one is left alone).
_TEXT_URL = re.compile(r"https?://[^\s<>()\[\]\"]+")
_HREF = re.compile(r"<a\b[^>]*?\bhref\s*=\s*\"(https?://[^\"]+)\"[^>]*>", re.I)


def with_tracking(message: Rendered, communication_id: int, *, skip: tuple[str, ...]) -> Rendered:
    """``message`` with every ``http(s)`` link of its HTML and text turned into a tracked
    link of message ``communication_id``, and the open pixel before ``</body>``. Links that
    start with one of ``skip`` (the unsubscribe and preference links) and ``<a data-notrack>``
    stay as they are."""
    urls: dict[str, str] = {}

    def tracked(match: re.Match[str]) -> str:
        tag, raw = match.group(0), match.group(1)
        url = html_lib.unescape(raw)
        if "data-notrack" in tag or url.startswith(skip):
            return tag
        new = urls.setdefault(url, tracking.click_url(communication_id, url))
        return tag.replace(f'"{raw}"', f'"{html_lib.escape(new)}"', 1)

    body = _HREF.sub(tracked, message.body)
    pixel = (
        f'<img src="{tracking.open_url(communication_id)}" width="1" height="1" alt="" '
        'style="display:block;border:0">'
    )
    close = body.lower().rfind("</body>")
    body = body[:close] + pixel + body[close:] if close >= 0 else body + pixel
    text = message.text
    if text and urls:
        text = _TEXT_URL.sub(lambda m: urls.get(m.group(0), m.group(0)), text)
    return replace(message, body=body, text=text)
