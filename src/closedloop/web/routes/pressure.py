"""The pressure-rules page: every contact-pressure rule and channel capacity, a form to add or
replace a rule, and a delete button per rule (M12)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.responses import RedirectResponse, Response

from closedloop.campaigns import coordination, pressure
from closedloop.deps import DbSession
from closedloop.errors import ValidationFailed
from closedloop.i18n import N_
from closedloop.users import service as users_service
from closedloop.users.models import User
from closedloop.users.permissions import Permission
from closedloop.vocab import Channel
from closedloop.web.rendering import flash, render
from closedloop.web.routes import form_str, page_router
from closedloop.web.security import requires

router = page_router()
Manager = Annotated[User, requires(Permission.CAMPAIGNS_MANAGE)]
RuleId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _page(request: Request, db: DbSession, values: dict[str, Any], errors: dict[str, str],
          status: int = 200) -> Response:  # fmt: skip
    context = {
        "active": "pressure",
        "rules": pressure.list_rules(db),
        "capacities": coordination.list_capacities(db),
        "channels": [c.value for c in Channel],
        "values": values,
        "errors": errors,
    }
    return render(request, "pressure/index.html", context, status=status)


@router.get("/pressure-rules", response_class=Response)
def rules_page(request: Request, db: DbSession, user: Manager) -> Response:
    """The pressure rules and channel capacities, with the form to add a rule."""
    return _page(request, db, {"period_days": "7", "max_messages": "2", "min_gap_hours": "0"}, {})


def _number(raw: str, name: str, errors: dict[str, str], kind: type = int) -> Any:
    try:
        return kind(raw)
    except ValueError:
        errors[name] = "Write a number."
        return None


@router.post("/pressure-rules", response_class=Response)
async def save_rule(request: Request, db: DbSession, user: Manager) -> Response:
    """Add a rule, or replace the one of the same name."""
    form = await request.form()
    names = ("name", "channel", "max_messages", "period_days", "min_gap_hours", "tier")
    values = {name: form_str(form, name).strip() for name in names}
    errors: dict[str, str] = {}
    max_messages = _number(values["max_messages"], "max_messages", errors)
    period_days = _number(values["period_days"], "period_days", errors)
    gap = _number(values["min_gap_hours"] or "0", "min_gap_hours", errors, float)
    if not errors:
        try:
            rule = pressure.save_rule(db, values["name"], max_messages=max_messages,
                                      period_days=period_days, channel=values["channel"] or None,
                                      min_gap_hours=gap, tier=values["tier"] or None)  # fmt: skip
        except ValidationFailed as exc:
            errors = {e["field"]: e["reason"] for e in exc.errors}
        else:
            users_service.audit(db, user, "save", "pressure_rule", rule.id, channel="web")
            flash(request, N_("The pressure rule is saved."))
            return RedirectResponse("/pressure-rules", status_code=303)
    return _page(request, db, values, errors, status=422)


@router.post("/pressure-rules/{rule_id}/delete", response_class=Response)
def delete_rule(request: Request, db: DbSession, user: Manager, rule_id: RuleId) -> Response:
    """Delete a rule."""
    pressure.delete_rule(db, rule_id)
    users_service.audit(db, user, "delete", "pressure_rule", rule_id, channel="web")
    flash(request, N_("The pressure rule is deleted."))
    return RedirectResponse("/pressure-rules", status_code=303)
