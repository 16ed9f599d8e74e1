"""The ``campaigns.send`` job: a wave's sender run by a worker, with progress on the job.

A run that ends with messages waiting for a retry (the server said "later") asks to run
again when the first one is due; a run stopped because the server could not be reached
asks to run again with backoff. The rows stay ``queued`` meanwhile: nothing is lost.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from closedloop.campaigns.ledger import wave_purpose
from closedloop.campaigns.send_report import SendReport
from closedloop.campaigns.sender import WaveSender
from closedloop.db.base import as_utc, utcnow
from closedloop.i18n import N_, Said
from closedloop.jobs.models import Job
from closedloop.jobs.service import JobContext, Retry, backoff_seconds, enqueue

SEND_KIND = "campaigns.send"
#: A wave may need many runs (retries hours apart); the job is not failed for that.
MAX_RUNS = 100


def queue_send(session: Session, wave_id: int, *, created_by: str | None = None) -> Job:
    """Queue the sending of ``wave_id`` (job ``campaigns.send``); NotFound for no such wave."""
    wave_purpose(session, wave_id)
    return enqueue(
        session, SEND_KIND, {"wave_id": wave_id}, created_by=created_by, max_attempts=MAX_RUNS
    )


#: The progress message of a wave being sent.
SENT_SO_FAR = Said(
    N_("%(sent)s sent, %(failed)s failed, %(suppressed)s suppressed, %(skipped)s skipped")
)


def send_handler(ctx: JobContext) -> dict[str, Any]:
    """Job ``campaigns.send``: send the wave in the payload."""
    wave_id = int(ctx.payload["wave_id"])

    def progress(done: int, total: int, report: SendReport) -> None:
        ctx.progress(
            done / total if total else 1.0,
            SENT_SO_FAR(
                sent=report.sent,
                failed=report.failed,
                suppressed=report.suppressed,
                skipped=report.skipped,
            ),
        )

    report = WaveSender(ctx.factory, wave_id, progress=progress).run()
    if report.held:
        return report.as_dict()  # resuming the campaign queues the send again
    if report.stopped:
        raise Retry(report.stopped, backoff_seconds(ctx.attempts))
    if report.next_retry_at is not None:
        delay = max(1.0, (as_utc(report.next_retry_at) - utcnow()).total_seconds())
        raise Retry(f"{report.retrying} message(s) to retry later", delay)
    _settle(ctx, wave_id)
    return report.as_dict()


def _settle(ctx: JobContext, wave_id: int) -> None:
    """Mark the wave (and its campaign, when it was the last) completed once all is sent."""
    from closedloop.campaigns.lifecycle import settle  # lifecycle queues this job
    from closedloop.db.uow import unit_of_work

    with unit_of_work(ctx.factory) as session:
        _wave, campaign = wave_purpose(session, wave_id)
        settle(session, campaign.id)


HANDLERS: dict[str, Any] = {SEND_KIND: send_handler}
