"""Who may call each route, declared next to the route and read back from the route table.

Every API operation and web page declares its access through its dependencies:

- a permission — ``requires(Permission.X)`` (:mod:`closedloop.api.auth`,
  :mod:`closedloop.web.security`): 401 / the login page without a credential, 403 for a role
  that lacks ``X``;
- any signed-in user — ``CurrentUser`` (API) or ``Depends(current_user)`` (pages);
- public — ``dependencies=[PUBLIC]`` on the route or its router: no credential is needed
  (a signed link, a form ticket or nothing at all).

:func:`route_table` reads the declarations back; the authorisation matrix test
(``tests/security/test_matrix.py``) calls every route with every credential and checks the
answer against it, and fails on a route that declares nothing. :data:`DESTRUCTIVE` lists the
destructive and mass operations with the permission each must declare.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Depends, FastAPI
from fastapi.routing import iter_route_contexts

from closedloop.users.permissions import Audience, Permission

ACCESS_ATTR = "__closedloop_access__"
F = TypeVar("F", bound=Callable[..., Any])
P = Permission


def declare(func: F, access: Permission | Audience) -> F:
    """Mark a dependency as the declaration of ``access`` (a permission or an audience)."""
    setattr(func, ACCESS_ATTR, access)
    return func


def _public() -> None:
    """No credential is needed for this route."""


declare(_public, Audience.PUBLIC)
#: Put in a route's or router's ``dependencies`` to declare it public.
PUBLIC = Depends(_public)

#: Destructive and mass operations (method, path) and the permission each must declare.
#: A route whose path or method looks like one (see :data:`DESTRUCTIVE_WORDS`) must be listed.
DESTRUCTIVE: dict[tuple[str, str], Permission] = {
    ("DELETE", "/api/v1/persons/{person_id}"): P.PERSONS_DELETE,
    ("POST", "/api/v1/imports/{batch_id}/rollback"): P.IMPORTS_ROLLBACK,
    ("POST", "/imports/{batch_id:int}/rollback"): P.IMPORTS_ROLLBACK,
    ("GET", "/imports/{batch_id:int}/rollback"): P.IMPORTS_ROLLBACK,
    ("POST", "/api/v1/persons/{person_id}/merge"): P.PERSONS_WRITE,
    ("POST", "/pressure-rules/{rule_id}/delete"): P.CAMPAIGNS_MANAGE,
    ("DELETE", "/api/v1/pressure-rules/{rule_id}"): P.CAMPAIGNS_MANAGE,
    ("POST", "/api/v1/merges/{merge_id}/unmerge"): P.PERSONS_WRITE,
    ("POST", "/merges/{merge_id:int}/unmerge"): P.PERSONS_WRITE,
    ("POST", "/api/v1/duplicates/{pair_id}/decision"): P.PERSONS_WRITE,
    ("POST", "/duplicates/{pair_id:int}/decide"): P.PERSONS_WRITE,
    ("POST", "/api/v1/dedupe/runs"): P.PERSONS_WRITE,
    ("POST", "/duplicates/run"): P.PERSONS_WRITE,
    ("POST", "/api/v1/imports"): P.PERSONS_WRITE,
    ("POST", "/imports/upload"): P.PERSONS_WRITE,
    ("POST", "/api/v1/scores/runs"): P.ANALYTICS_RUN,
    ("POST", "/reports/runs"): P.ANALYTICS_RUN,
    ("POST", "/imports/run"): P.PERSONS_WRITE,
    ("POST", "/api/v1/sync/persons"): P.PERSONS_WRITE,
    ("POST", "/api/v1/sync/orders"): P.PERSONS_WRITE,
    ("POST", "/api/v1/sync/events"): P.PERSONS_WRITE,
    ("DELETE", "/api/v1/webhooks/{endpoint_id}"): P.USERS_MANAGE,
    ("POST", "/api/v1/campaigns/{campaign_id}/launch"): P.CAMPAIGNS_SEND,
    ("POST", "/api/v1/campaigns/{campaign_id}/send"): P.CAMPAIGNS_SEND,
    ("POST", "/api/v1/campaigns/{campaign_id}/resume"): P.CAMPAIGNS_SEND,
    ("POST", "/api/v1/campaigns/{campaign_id}/cancel"): P.CAMPAIGNS_SEND,
    ("DELETE", "/api/v1/segments/{segment_id}"): P.CAMPAIGNS_MANAGE,
    ("POST", "/segments/{segment_id:int}/delete"): P.CAMPAIGNS_MANAGE,
    ("GET", "/segments/{segment_id:int}/export"): P.PERSONS_EXPORT,
    ("POST", "/api/v1/webhooks/deliveries/{delivery_id}/redeliver"): P.USERS_MANAGE,
    ("POST", "/webhooks/deliveries/{delivery_id:int}/redeliver"): P.USERS_MANAGE,
}
#: Words of a path that mark a destructive or mass operation (rollback, merge, export, erase,
#: send…); a DELETE always is one.
DESTRUCTIVE_WORDS = re.compile(
    r"rollback|merge|export|erase|delete|purge|send|redeliver|sync|bulk|mass|decide|decision|"
    r"/run(s)?\b|/import"
)


@dataclass(frozen=True)
class RouteAccess:
    """One route (one method) and what it declares."""

    method: str
    path: str
    endpoint: str
    api: bool
    #: the permissions required (all of them), or an audience; None when nothing is declared
    access: frozenset[Permission] | Audience | None

    @property
    def destructive(self) -> bool:
        """Whether the route looks like a destructive or mass operation."""
        if self.method == "DELETE":
            return True
        return self.method != "GET" and bool(DESTRUCTIVE_WORDS.search(self.path))


def _declared(dependant: Any) -> Iterator[Permission | Audience]:
    found = getattr(dependant.call, ACCESS_ATTR, None)
    if found is not None:
        yield found
    for sub in dependant.dependencies:
        yield from _declared(sub)


def access_of(dependant: Any) -> frozenset[Permission] | Audience | None:
    """What a route's dependency tree declares: its permissions, else the widest audience
    named (signed-in before public), else None."""
    marks = set(_declared(dependant))
    permissions = frozenset(m for m in marks if isinstance(m, Permission))
    if permissions:
        return permissions
    for audience in (Audience.AUTHENTICATED, Audience.PUBLIC):
        if audience in marks:
            return audience
    return None


#: Routes that are not FastAPI operations (the OpenAPI document, its page, static files).
FRAMEWORK_PUBLIC = ("/api/v1/openapi.json", "/docs/oauth2-redirect", "/docs/assets", "/static")


def route_table(app: FastAPI) -> list[RouteAccess]:
    """Every operation of ``app`` (API and pages, one row per method) with its access."""
    rows: list[RouteAccess] = []
    for context in iter_route_contexts(app.routes):
        dependant = getattr(context, "dependant", None)
        path = str(context.path)
        if dependant is None:
            if path not in FRAMEWORK_PUBLIC:
                rows.append(RouteAccess("GET", path, repr(context.route), False, None))
            continue
        endpoint = context.endpoint
        name = f"{endpoint.__module__}.{endpoint.__qualname__}" if endpoint else path
        access = access_of(dependant)
        for method in sorted(context.methods or ()):
            if method != "HEAD":
                rows.append(RouteAccess(method, path, name, path.startswith("/api/"), access))
    return rows


HOW_TO_DECLARE = """\
{route} declares no access. Declare it next to the route, with one of:
  - a permission: a parameter `user: Annotated[User, Depends(requires(Permission.X))]`
    (closedloop.api.auth.requires for the API, closedloop.web.security.requires for pages);
  - any signed-in user: `user: CurrentUser` (API) or `Depends(current_user)` (pages);
  - public (no credential): `dependencies=[PUBLIC]` on the route or its router
    (from closedloop.access import PUBLIC).
A destructive or mass operation must also be listed in closedloop.access.DESTRUCTIVE.
See docs/security.md, "Declaring who may call a route"."""


def destructive_table() -> str:
    """The destructive and mass operations of ``docs/security.md`` (a test keeps the page
    equal to it)."""
    rows = [
        f"| `{method} {path}` | `{permission.value}` |"
        for (method, path), permission in sorted(DESTRUCTIVE.items(), key=lambda i: i[0][1])
    ]
    return "\n".join(["| operation | permission |", "|---|---|", *rows])
