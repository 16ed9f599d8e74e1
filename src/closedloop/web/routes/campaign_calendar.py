"""The shared campaign calendar (month and week views) and its iCalendar feed.

The feed ``/campaigns/calendar.ics`` opens with the browser's session, or with
``?token=`` an API token (``closedloop users token NAME``) for calendar apps that cannot log
in; either way the user needs ``campaigns:read``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.responses import Response

from closedloop.access import declare
from closedloop.bootstrap import get_session_factory
from closedloop.campaigns import calendar as cal
from closedloop.campaigns.calendar_entries import WaveEntry
from closedloop.campaigns.ical import feed
from closedloop.db.uow import unit_of_work
from closedloop.deps import DbSession
from closedloop.errors import AuthenticationFailed
from closedloop.users import service as users_service
from closedloop.users.models import User
from closedloop.users.permissions import Permission, allowed
from closedloop.web.rendering import render
from closedloop.web.routes import page_router
from closedloop.web.security import current_user as web_user
from closedloop.web.security import forbidden, optional_user, requires

router = page_router()
Reader = Annotated[User, requires(Permission.CAMPAIGNS_READ)]


def _month(text: str) -> tuple[date, date]:
    try:
        year, month_no = (int(p) for p in text.split("-"))
        return cal.month(year, month_no)
    except ValueError:
        today = datetime.now(UTC).date()
        return cal.month(today.year, today.month)


@router.get("/campaigns/calendar", response_class=Response)
def calendar_page(
    request: Request,
    db: DbSession,
    user: Reader,
    month: Annotated[str, Query(max_length=7, description="YYYY-MM")] = "",
    week: Annotated[str, Query(max_length=10, description="A day of the week, YYYY-MM-DD")] = "",
) -> Response:
    """The month (or with ``week`` the week): waves per day with their volume per channel,
    the contact pressure and the conflicts to settle before launch."""
    view = "week" if week else "month"
    if week:
        try:
            start, end = cal.week(date.fromisoformat(week))
        except ValueError:
            start, end = cal.week(datetime.now(UTC).date())
    else:
        start, end = _month(month)
    plan = cal.calendar(db, start, end)
    by_day: dict[date, list[WaveEntry]] = {}
    for e in plan.entries:
        by_day.setdefault(e.day, []).append(e)
    lead = start - timedelta(days=start.weekday())
    grid = [lead + timedelta(days=n) for n in range(((end - lead).days + 6) // 7 * 7)]
    previous = start - timedelta(days=1 if view == "month" else 7)
    context = {
        "active": "campaigns",
        "view": view,
        "start": start,
        "end": end,
        "plan": plan,
        "loads": {d.day: d for d in plan.days},
        "by_day": by_day,
        "grid": grid,
        "previous": previous.strftime("%Y-%m") if view == "month" else previous.isoformat(),
        "next": end.strftime("%Y-%m") if view == "month" else end.isoformat(),
    }
    return render(request, "campaigns/calendar.html", context)


def feed_reader(
    request: Request,
    token: Annotated[str | None, Query(max_length=200, description="An API token.")] = None,
    session_user: Annotated[User | None, Depends(optional_user)] = None,
) -> User:
    """The user of the feed: the API token's owner, else the logged-in user (login page
    otherwise); 403 without ``campaigns:read``."""
    if token:
        try:
            with unit_of_work(get_session_factory()) as session:
                user = users_service.user_for_token(session, token)
        except AuthenticationFailed:
            user = None
        if user is None:
            return web_user(None, request)  # the login page
    else:
        user = web_user(session_user, request)
    if not allowed(user.role, Permission.CAMPAIGNS_READ):
        raise forbidden()
    return user


declare(feed_reader, Permission.CAMPAIGNS_READ)


@router.get("/campaigns/calendar.ics", response_class=Response)
def calendar_feed(
    db: DbSession,
    user: Annotated[User, Depends(feed_reader)],
    days: Annotated[int, Query(ge=1, le=400)] = 120,
) -> Response:
    """The iCalendar feed: campaigns and waves from a month ago to ``days`` ahead."""
    today = datetime.now(UTC).date()
    text = feed(db, today - timedelta(days=31), today + timedelta(days=days))
    return Response(
        text,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": 'inline; filename="campaigns.ics"'},
    )
