"""A running phone wave with a call script (and optionally a survey) for the desk's tests."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session
from tests.integration.campaigns.waves import WaveSetup, wave

from closedloop.campaigns.models import Wave
from closedloop.campaigns.templates import ContentCreate, TemplateCreate, create_template
from closedloop.responses.surveys import QuestionCreate, SurveyCreate, create_survey
from closedloop.vocab import Channel

SCRIPT = "Hello {{ person.given_name }}, this is the book club: {{ offer.name }} for you."


def phone_wave(
    session: Session,
    n: int = 3,
    code: str = "CALLS",
    *,
    running: bool = True,
    survey: bool = False,
) -> WaveSetup:
    """``n`` persons with a phone number and phone consent, queued in a phone wave whose cell
    has a call script; the wave is running unless asked otherwise."""
    script = create_template(
        session,
        TemplateCreate(
            code=f"script-{code}",
            name="Call script",
            channel=Channel.PHONE,
            contents=[ContentCreate(locale="en", body=SCRIPT)],
        ),
    ).id
    setup = wave(session, n, channel=Channel.PHONE, template_id=script, code=code, phone=True)
    if running:
        session.execute(update(Wave).where(Wave.id == setup.wave_id).values(status="running"))
    if survey:
        create_survey(
            session,
            SurveyCreate(
                code=f"sat-{code}",
                title="Satisfaction",
                campaign_id=setup.campaign_id,
                questions=[
                    QuestionCreate(code="nps", text="Would you recommend us?", kind="nps"),
                    QuestionCreate(
                        code="genre",
                        text="Favourite genre?",
                        kind="single",
                        choices=["Crime", "Poetry"],
                    ),
                ],
            ),
        )
    session.flush()
    return setup
