"""``/api/v1/scores``: start scoring runs and read them; ``/api/v1/persons/{id}/scores``: a
person's scores over the runs (the customer value cycle)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from pydantic import BaseModel

from closedloop.api.auth import JOB_QUOTA, PersonsReader, requires
from closedloop.api.problems import problem_responses
from closedloop.bootstrap import get_engine, get_session_factory
from closedloop.contacts import service as contacts
from closedloop.db.types import DbCount, DbId
from closedloop.db.uow import unit_of_work
from closedloop.deps import DbSession
from closedloop.scoring import queries, service
from closedloop.scoring.schemas import PersonScorePublic, ScoreParams, ScoreRunPublic
from closedloop.users.models import User
from closedloop.users.permissions import Permission
from closedloop.users.service import audit

router = APIRouter(tags=["scores"])

AnalyticsUser = Annotated[User, Depends(requires(Permission.ANALYTICS_RUN))]
RunId = Annotated[DbId, Path(description="The run's id.")]
PersonId = Annotated[DbId, Path(description="The person's id.")]


class ScoreRunPage(BaseModel):
    """One page of scoring runs, newest first."""

    items: list[ScoreRunPublic]
    total: int
    limit: int
    offset: int


@router.post(
    "/scores/runs",
    response_model=ScoreRunPublic,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        201: {"model": ScoreRunPublic, "description": "The run has finished (`wait=true`)."},
        **problem_responses(400, 401, 403, 409, 415, 422, 429),
    },
    dependencies=[JOB_QUOTA],
)
def start_run(
    request: Request,
    response: Response,
    user: AnalyticsUser,
    params: ScoreParams | None = None,
    wait: Annotated[
        bool,
        Query(description="Run now and answer when the run has finished (201) instead of 202."),
    ] = False,
) -> ScoreRunPublic:
    """Start a scoring run of every person (parameters optional; see the schema).

    The run is queued as a `scoring.run` job that a worker runs (`closedloop worker`, or the
    one embedded in `closedloop serve`; then the demand report is refreshed): the answer
    (202) carries the run and its `Location`; poll it until `status` is `done` or `failed`.
    With `wait=true` the run happens during the request and the answer is the finished run
    (201); a run that fails answers with its problem (e.g. 422 naming currencies without a
    rate). Only one run at a time: another one queued or running gives 409.
    """
    engine = get_engine()
    factory = get_session_factory(engine)
    chosen = params or ScoreParams()
    with unit_of_work(factory) as session:
        if wait:
            run_id = service.create_run(session, chosen, created_by=user.username).id
        else:
            run_id = service.enqueue_run(session, chosen, created_by=user.username)[0].id
        audit(session, user, "start", "score_run", run_id, channel="api")
    response.headers["Location"] = request.app.url_path_for("get_run", run_id=run_id)
    if wait:
        finished = service.execute_run(engine, run_id)
        response.status_code = status.HTTP_201_CREATED
        return ScoreRunPublic.model_validate(finished)
    with factory() as session:
        return ScoreRunPublic.model_validate(queries.get_run(session, run_id))


@router.get("/scores/runs", response_model=ScoreRunPage, responses=problem_responses(401, 403, 422))
def list_runs(
    db: DbSession,
    user: AnalyticsUser,
    limit: Annotated[int, Query(ge=1, le=500, description="Page size.")] = 50,
    offset: Annotated[DbCount, Query(description="Runs to skip.")] = 0,
) -> ScoreRunPage:
    """Scoring runs, newest first, with their parameters, models and summaries."""
    runs, total = queries.list_runs(db, limit=limit, offset=offset)
    return ScoreRunPage(
        items=[ScoreRunPublic.model_validate(r) for r in runs],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/scores/runs/{run_id}",
    response_model=ScoreRunPublic,
    responses=problem_responses(401, 403, 404, 422),
)
def get_run(run_id: RunId, db: DbSession, user: AnalyticsUser) -> ScoreRunPublic:
    """One run: status and progress while it runs; then both purchase models' fits, the
    holdout check and the model chosen, and the counts per segment, tier and stage."""
    return ScoreRunPublic.model_validate(queries.get_run(db, run_id))


@router.get(
    "/persons/{person_id}/scores",
    response_model=list[PersonScorePublic],
    responses=problem_responses(401, 403, 404, 422),
)
def person_scores(
    person_id: PersonId,
    db: DbSession,
    user: PersonsReader,
    limit: Annotated[int, Query(ge=1, le=500, description="How many runs, latest first.")] = 50,
) -> list[PersonScorePublic]:
    """A person's scores in every finished run, latest as-of day first: RFM, P(alive),
    expected purchases, expected spend, CLV, tier and lifecycle stage (the value cycle)."""
    contacts.get_person(db, person_id)
    rows = queries.person_history(db, person_id, limit=limit)
    audit(db, user, "view_scores", "person", person_id, channel="api")
    return [
        PersonScorePublic.model_validate(score).model_copy(update={"as_of": run.as_of})
        for score, run in rows
    ]
