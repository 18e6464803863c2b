"""The bodies partner ingress answers with: the submission report and RFC 9457 problems.

A submission that accepted at least one event answers with a ``SubmissionReport`` — 202 when every
event was accepted, 207 Multi-Status when some were rejected — listing the accepted event ids and,
per rejected event, its index in the batch, its ``event_id`` when readable, the status and ``code``
it would have had alone, and the field errors. Everything else is an ``application/problem+json``
``Problem`` (RFC 9457: ``type``, ``title``, ``status``, ``detail``, ``instance``) extended with the
machine-readable ``code``, the field ``errors`` and, for a submission whose events were all
rejected, the same ``accepted`` / ``rejected`` lists. The OpenAPI document is generated from these
models, so the document and the answers cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.ingress.domain.codes import Code
from services.ingress.domain.submission import EventRejected, FieldError

PROBLEM_MEDIA_TYPE = "application/problem+json"


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FieldErrorOut(_Body):
    """One reason an event or request was refused. Never echoes the submitted value."""

    loc: tuple[str | int, ...] = Field(description="Path to the offending field.")
    msg: str = Field(description="What is wrong with it.")
    type: str = Field(description="The error type, e.g. 'missing' or 'string_pattern_mismatch'.")

    @classmethod
    def of(cls, error: FieldError, prefix: tuple[str | int, ...] = ()) -> FieldErrorOut:
        return cls(loc=prefix + error.loc, msg=error.msg, type=error.type)


class EventRejection(_Body):
    """A rejected event of a submission; nothing of it was published."""

    index: int = Field(ge=0, description="Position of the event in the batch (0 for one event).")
    event_id: UUID | None = Field(
        default=None, description="The event's event_id; absent when it could not be read."
    )
    status: int = Field(description="The HTTP status this event alone would have had.")
    code: Code
    detail: str
    errors: tuple[FieldErrorOut, ...] = ()

    @classmethod
    def of(cls, rejected: EventRejected) -> EventRejection:
        return cls(
            index=rejected.index,
            event_id=rejected.event_id,
            status=rejected.status,
            code=rejected.code,
            detail=rejected.detail,
            errors=tuple(FieldErrorOut.of(e) for e in rejected.errors),
        )


class SubmissionReport(_Body):
    """Which events were accepted (stored by frontdoor, to be published) and which not."""

    accepted: tuple[UUID, ...] = Field(description="event_ids accepted, in submission order.")
    rejected: tuple[EventRejection, ...] = Field(description="Events refused, with reasons.")


class Problem(_Body):
    """An RFC 9457 problem document with frontdoor's extensions."""

    type: str = Field(description="URI identifying the problem type: the base URI + code.")
    title: str
    status: int
    detail: str
    instance: str = Field(description="urn:uuid of this request (also in X-Request-ID).")
    code: Code
    errors: tuple[FieldErrorOut, ...] = ()
    accepted: tuple[UUID, ...] | None = Field(
        default=None, description="For a submission: the accepted event ids (always empty here)."
    )
    rejected: tuple[EventRejection, ...] | None = Field(
        default=None, description="For a submission: every event, with why it was refused."
    )

    @classmethod
    def of(
        cls,
        code: Code,
        detail: str,
        *,
        request_id: UUID,
        status: int | None = None,
        errors: tuple[FieldErrorOut, ...] = (),
        rejected: tuple[EventRejection, ...] | None = None,
    ) -> Problem:
        return cls(
            type=code.type_uri,
            title=code.problem_title,
            status=status or code.status,
            detail=detail,
            instance=f"urn:uuid:{request_id}",
            code=code,
            errors=errors,
            accepted=() if rejected is not None else None,
            rejected=rejected,
        )


class Health(_Body):
    status: Literal["ok"]


class EventStatus(_Body):
    """What became of one of the caller's own events (``GET /v1/events/{event_id}``)."""

    event_id: UUID
    status: Literal["accepted", "recorded", "refused"] = Field(
        description="accepted: stored by ingress, not yet in the history; recorded: in the "
        "history (intake's events table); refused: the latest submission with this id refused "
        "it (see code)."
    )
    at: datetime = Field(description="When it was accepted, or when the refusal was answered.")
    code: Code | None = Field(default=None, description="The refusal's code, for refused.")
