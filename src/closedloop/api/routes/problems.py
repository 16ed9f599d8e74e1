"""``/api/v1/problems/{slug}``: the documentation behind each problem ``type`` URI."""

from __future__ import annotations

from fastapi import APIRouter

from closedloop.access import PUBLIC
from closedloop.api.problems import PROBLEM_TYPES, TYPE_BASE, ProblemType, problem_responses
from closedloop.errors import NotFound

router = APIRouter(prefix="/problems", tags=["problems"], dependencies=[PUBLIC])


@router.get("", response_model=list[ProblemType])
def list_problem_types() -> list[ProblemType]:
    """Every problem type the API returns, with its status and meaning (no token needed)."""
    return [
        ProblemType(type=TYPE_BASE + slug, title=title, status=status, description=text)
        for slug, (status, title, text) in PROBLEM_TYPES.items()
    ]


@router.get("/{slug}", response_model=ProblemType, responses=problem_responses(404, 422))
def get_problem_type(slug: str) -> ProblemType:
    """What one problem type means: the `type` of a problem response points here."""
    if slug not in PROBLEM_TYPES:
        raise NotFound(f"There is no problem type {slug!r}; GET {TYPE_BASE} lists them.")
    status, title, text = PROBLEM_TYPES[slug]
    return ProblemType(type=TYPE_BASE + slug, title=title, status=status, description=text)
