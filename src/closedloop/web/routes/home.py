"""The start page after login: the search box and the dashboard (M15 of issue 14)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response

from closedloop.deps import DbSession
from closedloop.reports.dashboard import CHANNELS, Dashboard, build_dashboard
from closedloop.settings import get_settings
from closedloop.users.models import User
from closedloop.users.permissions import Permission, allowed
from closedloop.web.rendering import render
from closedloop.web.routes import page_router
from closedloop.web.security import current_user

router = page_router()

#: Size of the revenue chart (SVG user units; drawn server-side, no script).
CHART_WIDTH, CHART_HEIGHT = 720, 200


def revenue_chart(board: Dashboard) -> dict[str, Any]:
    """Bars of monthly revenue and a line of monthly buyers, scaled to the chart's box."""
    months = board.months
    if not months:
        return {"bars": [], "line": "", "max_revenue": 0, "max_buyers": 0}
    top = max(float(m.revenue) for m in months) or 1.0
    most = max(m.buyers for m in months) or 1
    step = CHART_WIDTH / len(months)
    usable = CHART_HEIGHT - 20
    bars, points = [], []
    for index, month in enumerate(months):
        height = float(month.revenue) / top * usable
        x = index * step
        bars.append(
            {"x": round(x + 2, 1), "y": round(CHART_HEIGHT - height, 1),
             "width": round(step - 4, 1), "height": round(height, 1), "month": month}
        )  # fmt: skip
        y = CHART_HEIGHT - month.buyers / most * usable
        points.append(f"{x + step / 2:.1f},{y:.1f}")
    return {"bars": bars, "line": " ".join(points), "max_revenue": top, "max_buyers": most}


@router.get("/", response_class=Response)
def home(request: Request, db: DbSession, user: Annotated[User, Depends(current_user)]) -> Response:
    """Greeting, the person search box and, for staff who may see persons, the dashboard:
    the base, who can be reached per channel, revenue and buyers by month (for roles that
    read the reports), the latest jobs and what needs attention."""
    board = None
    if allowed(user.role, Permission.PERSONS_READ):
        board = build_dashboard(db, get_settings().default_currency)
    context = {
        "active": "home",
        "board": board,
        "channels": [c.value for c in CHANNELS],
        "chart": revenue_chart(board) if board else None,
        "chart_size": (CHART_WIDTH, CHART_HEIGHT),
    }
    return render(request, "home/index.html", context)
