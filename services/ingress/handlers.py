"""Partner ingress's one use case: take a submission, answer exactly what happened to each event.

In order: authenticate the key (401; 429 ``authentication_throttled`` before any argon2 work when
the client address or the claimed credential id failed too often — ``auth``), insist on JSON (415),
read at most ``max_body_bytes`` of body (413, before any parsing), decode it into one event or a
batch (400 / 422 / 413 for too many events), charge the agency's rate limit one token per event (429
with ``Retry-After``; the bucket is shared by every replica, ``ports.RateLimit``), judge every event
(``domain.submission``: 403 for another agency's name or a type the role forbids, 413 / 422 for size
and schema), then look its ``event_id`` up (``ports.AuditTrail.known``): an id already stored with
other content is refused, 409 ``event_id_reused``; an id stored with the same content is an
idempotent repeat, reported accepted and not stored again. Then store the submission: its audit row,
one outbox row per new accepted event (for ``partner.events``, keyed by child id) and the events'
ids with their content hashes commit in ONE PostgreSQL transaction (``ports.AuditTrail.accept``),
and only then the answer is 202 (all accepted) or 207 (some rejected) with the accepted ids; an id
taken for other content by a concurrent submission rolls the transaction back and the whole request
is 409. So a 202 never depends on the broker, which may forget: after the commit the rows are
relayed to ``partner.events`` in the background (``ports.Relayer``); a relay that fails or takes
longer than ``publish_timeout_seconds`` is logged and left to the outbox sweeper, which sends the
rows again until the broker has them, and intake catches up from the outbox what a restarted broker
forgot. A submission with no acceptable event is a problem document with the status of its
rejections (403 when all were forbidden, 413 when all were too large, else 422). If the transaction
fails the answer is 503 ``store_unavailable`` and nothing is claimed accepted; resubmitting the same
events is safe, because intake drops a repeated ``event_id`` with the same content. Every request to
the endpoint — 401s included — leaves one row in the audit log (who, from where, when, status, event
ids; no payloads) and one canonical log line; a refusal whose audit row cannot be written is
answered all the same (and logged). A credential store that cannot be reached is 503
``auth_unavailable``; any other failure is 500 ``internal_error``, still audited.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import structlog

from schemas.roles import RoleTable
from schemas.topics import PARTNER_EVENTS, SPEAKER_HEADER
from services.common.outbox import OutboxRow
from services.common.publishing import OutRecord
from services.ingress.audit import AuditDraft, AuditEntry
from services.ingress.auth import Authenticator, AuthFailure, Credential
from services.ingress.domain.codes import Code
from services.ingress.domain.submission import (
    EventAccepted,
    EventRejected,
    RequestRejected,
    Submission,
    against_known,
    check,
    read_submission,
)
from services.ingress.ports import (
    AuditTrail,
    EventIdReusedError,
    EventState,
    RateLimit,
    Relayer,
)
from services.ingress.responses import (
    EventRejection,
    FieldErrorOut,
    Problem,
    SubmissionReport,
)

log = structlog.get_logger(__name__)

RETRY_AFTER_SECONDS = 5
JSON_MEDIA_TYPES = ("application/json",)


BodyReader = Callable[[int], Awaitable[bytes | None]]
"""Reads the request body, at most the given number of bytes; ``None`` when it is longer."""


@dataclass(frozen=True)
class IncomingRequest:
    authorization: str | None
    content_type: str | None
    read_body: BodyReader
    client_addr: str | None
    request_id: UUID


@dataclass(frozen=True)
class Answer:
    status: int
    body: SubmissionReport | Problem
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def code(self) -> str | None:
        return self.body.code.value if isinstance(self.body, Problem) else None


@dataclass(frozen=True)
class Reply:
    """The answer to send, and the audit entry recorded for it."""

    answer: Answer
    audit: AuditEntry


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int
    max_batch: int
    max_event_bytes: int
    publish_timeout_seconds: float


@dataclass(frozen=True)
class _Accepting:
    """A decided answer with accepted events: it stands only once ``rows`` are committed."""

    answer: Answer
    rows: Sequence[OutboxRow]


STORE_FAILED = (
    "the events could not be stored, so none is confirmed; resubmit them unchanged (a repeated "
    "event_id with the same content is recorded once)"
)


@dataclass
class IngressHandler:
    authenticator: Authenticator
    audit: AuditTrail
    relay: Relayer
    limiter: RateLimit
    roles: RoleTable
    limits: Limits
    clock: Callable[[], datetime]
    monotonic: Callable[[], float]
    topic: str = PARTNER_EVENTS.name
    _relaying: set[asyncio.Task[None]] = field(default_factory=set, init=False, repr=False)

    async def handle(self, request: IncomingRequest) -> Reply:
        started = self.monotonic()
        draft = AuditDraft(request.request_id, self.clock(), request.client_addr)
        rows: Sequence[OutboxRow] = ()
        try:
            decided = await self._decide(request, draft)
        except Exception as exc:
            # class and place only: a traceback's messages could quote submitted personal data
            frames = traceback.extract_tb(exc.__traceback__)
            log.error(  # noqa: TRY400
                "ingress_internal_error",
                request_id=str(request.request_id),
                error_class=type(exc).__name__,
                where=f"{frames[-1].filename}:{frames[-1].lineno}" if frames else None,
            )
            decided = self._problem(draft, Code.INTERNAL_ERROR, "unexpected error; it was logged")
        if isinstance(decided, _Accepting):
            answer, rows = decided.answer, decided.rows
        else:
            answer = decided
        entry = draft.entry(
            answer.status, answer.code, duration_ms=(self.monotonic() - started) * 1000
        )
        store_started = self.monotonic()
        if rows:
            answer, entry = await self._store(draft, answer, entry, rows)
        else:
            await self._record(entry)
        reply = Reply(answer, entry)
        _log_request(reply, audit_ms=(self.monotonic() - store_started) * 1000)
        return reply

    async def status(self, request: IncomingRequest, event_id: UUID) -> Answer | EventState:
        """What became of the caller's own event ``event_id`` (404 for any other)."""
        draft = AuditDraft(request.request_id, self.clock(), request.client_addr)
        auth = await self._authenticate(request, draft)
        if isinstance(auth, Answer):
            return auth
        try:
            found = await self.audit.status_of(auth.agency.value, event_id)
        except Exception as exc:
            return self._unavailable(draft, "ingress_status_unavailable", exc)
        if found is None:
            return self._problem(
                draft, Code.NOT_FOUND, "your agency has submitted no event with this event_id"
            )
        return found

    async def drain(self, grace: float | None = None) -> None:
        """Wait for the relays under way; after ``grace`` seconds cancel them (the sweeper
        sends what they did not)."""
        tasks = list(self._relaying)
        if not tasks:
            return
        _, unfinished = await asyncio.wait(tasks, timeout=grace)
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _store(
        self, draft: AuditDraft, answer: Answer, entry: AuditEntry, rows: Sequence[OutboxRow]
    ) -> tuple[Answer, AuditEntry]:
        """Commit the audit row with the outbox rows, then relay them; 503 if the commit fails."""
        try:
            stored = await self.audit.accept(entry, rows)
        except EventIdReusedError as exc:
            answer = self._problem(
                draft,
                Code.EVENT_ID_REUSED,
                f"{len(exc.event_ids)} event_id(s) of this submission were taken for other "
                "content by a submission made at the same moment; nothing was stored. Give each "
                "new event its own event_id and resubmit",
            )
            draft.unconfirmed, draft.accepted = draft.accepted, []
            entry = draft.entry(answer.status, answer.code, duration_ms=entry.duration_ms)
            await self._record(entry)
            return answer, entry
        except Exception as exc:
            log.error(  # noqa: TRY400 - no traceback: driver messages can quote values
                "ingress_store_failed",
                request_id=str(draft.request_id),
                error_class=type(exc).__name__,
                events=len(rows),
            )
            answer = self._problem(
                draft,
                Code.STORE_UNAVAILABLE,
                STORE_FAILED,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
            draft.unconfirmed, draft.accepted = draft.accepted, []
            entry = draft.entry(answer.status, answer.code, duration_ms=entry.duration_ms)
            await self._record(entry)  # the failure's own row, if the database takes it
            return answer, entry
        task = asyncio.ensure_future(self._relay(draft.request_id, stored))
        self._relaying.add(task)
        task.add_done_callback(self._relaying.discard)
        return answer, entry

    async def _relay(self, request_id: UUID, rows: Sequence[OutboxRow]) -> None:
        """Committed and answered: a broker that is away or slow is the sweeper's business."""
        try:
            await asyncio.wait_for(
                self.relay.relay(rows), timeout=self.limits.publish_timeout_seconds
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(
                "ingress_relay_deferred",
                request_id=str(request_id),
                rows=len(rows),
                error_class=type(exc).__name__,
            )

    async def _record(self, entry: AuditEntry) -> None:
        try:
            await self.audit.record(entry)
        except Exception as exc:
            log.error(  # noqa: TRY400 - no traceback: driver messages can quote values
                "ingress_audit_failed",
                request_id=str(entry.request_id),
                error_class=type(exc).__name__,
                status=entry.status,
            )

    async def _authenticate(
        self, request: IncomingRequest, draft: AuditDraft
    ) -> Credential | Answer:
        try:
            auth = await self.authenticator.authenticate(request.authorization, request.client_addr)
        except Exception as exc:
            log.error(  # noqa: TRY400 - no traceback: driver messages can quote values
                "ingress_credentials_unavailable",
                request_id=str(request.request_id),
                error_class=type(exc).__name__,
            )
            return self._problem(
                draft,
                Code.AUTH_UNAVAILABLE,
                "the API key could not be checked; nothing was accepted",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        if isinstance(auth, AuthFailure):
            draft.credential_id = auth.claimed_credential_id
            if auth.retry_after_seconds is not None:
                return self._problem(
                    draft,
                    auth.code,
                    "too many failed authentications from this address or for this credential; "
                    f"no key is checked for {auth.retry_after_seconds} s",
                    headers={"Retry-After": str(auth.retry_after_seconds)},
                )
            return self._problem(
                draft,
                auth.code,
                "present an agency API key as 'Authorization: Bearer fd_<credential_id>_<secret>'",
                headers={"WWW-Authenticate": _www_authenticate(auth.code)},
            )
        return auth

    async def _decide(self, request: IncomingRequest, draft: AuditDraft) -> Answer | _Accepting:
        auth = await self._authenticate(request, draft)
        if isinstance(auth, Answer):
            return auth
        draft.agency, draft.credential_id = auth.agency.value, auth.credential_id
        if not _is_json(request.content_type):
            return self._problem(
                draft,
                Code.UNSUPPORTED_MEDIA_TYPE,
                "send the events with Content-Type: application/json",
            )
        body = await request.read_body(self.limits.max_body_bytes)
        if body is None:
            return await self._limited(draft, auth, 1) or self._problem(
                draft,
                Code.BODY_TOO_LARGE,
                f"the body exceeds {self.limits.max_body_bytes} bytes; send smaller batches",
            )
        draft.body_bytes = len(body)
        submission = read_submission(body, max_batch=self.limits.max_batch)
        if isinstance(submission, RequestRejected):
            return await self._limited(draft, auth, 1) or self._problem(
                draft,
                submission.code,
                submission.detail,
                errors=tuple(FieldErrorOut.of(e) for e in submission.errors),
            )
        draft.events_received = len(submission.items)
        limited = await self._limited(draft, auth, len(submission.items))
        if limited is not None:
            return limited
        return await self._submit(draft, auth, submission)

    async def _submit(
        self, draft: AuditDraft, auth: Credential, submission: Submission
    ) -> Answer | _Accepting:
        verdicts = check(
            submission,
            agency=auth.agency,
            roles=self.roles,
            max_event_bytes=self.limits.max_event_bytes,
        )
        passed = [v for v in verdicts if isinstance(v, EventAccepted)]
        try:
            known = await self.audit.known([a.event.event_id for a in passed])
        except Exception as exc:
            return self._unavailable(draft, "ingress_lookup_failed", exc)
        verdicts, repeats = against_known(verdicts, known)
        accepted = [v for v in verdicts if isinstance(v, EventAccepted)]
        rejected = [v for v in verdicts if isinstance(v, EventRejected)]
        draft.rejected = rejected
        report = tuple(EventRejection.of(r) for r in rejected)
        if not accepted:
            return self._all_rejected(draft, rejected, report, batch=submission.batch)
        draft.accepted = [a.event.event_id for a in accepted]
        answer = Answer(
            207 if rejected else 202,
            SubmissionReport(accepted=tuple(draft.accepted), rejected=report),
        )
        new = [a for a in accepted if a.event.event_id not in repeats]
        if not new:
            return answer  # every one a repeat already stored: idempotent, nothing to write
        return _Accepting(answer, self._rows(new, auth, draft.request_id))

    def _unavailable(self, draft: AuditDraft, event: str, exc: Exception) -> Answer:
        log.error(event, request_id=str(draft.request_id), error_class=type(exc).__name__)
        return self._problem(
            draft,
            Code.STORE_UNAVAILABLE,
            STORE_FAILED,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    def _all_rejected(
        self,
        draft: AuditDraft,
        rejected: Sequence[EventRejected],
        report: tuple[EventRejection, ...],
        *,
        batch: bool,
    ) -> Answer:
        codes = {r.code for r in rejected}
        statuses = {r.status for r in rejected}
        code = codes.pop() if len(codes) == 1 else Code.EVENTS_REJECTED
        status = statuses.pop() if len(statuses) == 1 else Code.EVENTS_REJECTED.status
        if batch:
            detail = f"all {len(rejected)} events were rejected; see 'rejected' for each"
            errors = tuple(
                FieldErrorOut.of(e, ("events", r.index)) for r in rejected for e in r.errors
            )
        else:
            detail = rejected[0].detail
            errors = tuple(FieldErrorOut.of(e) for e in rejected[0].errors)
        return self._problem(draft, code, detail, status=status, errors=errors, rejected=report)

    async def _limited(self, draft: AuditDraft, auth: Credential, n: int) -> Answer | None:
        try:
            decision = await self.limiter.take(auth.agency, n)
        except Exception as exc:
            return self._unavailable(draft, "ingress_rate_limit_unavailable", exc)
        if decision.allowed:
            return None
        return self._problem(
            draft,
            Code.RATE_LIMITED,
            f"the {auth.agency.value} agency may submit {self.limiter.rate:g} events/s "
            f"(bursts of {self.limiter.burst}); retry after {decision.retry_after_seconds} s",
            headers={"Retry-After": str(decision.retry_after_seconds)},
        )

    def _rows(
        self, accepted: Sequence[EventAccepted], auth: Credential, request_id: UUID
    ) -> list[OutboxRow]:
        """One outbox row per accepted event: ``partner.events``, keyed by child, its JSON."""
        provenance = [
            (SPEAKER_HEADER, auth.agency.value.encode()),
            ("ingress.credential_id", auth.credential_id.encode()),
            ("ingress.request_id", str(request_id).encode()),
        ]
        rows: list[OutboxRow] = []
        for a in accepted:
            event = a.event
            record = OutRecord(
                self.topic,
                event.subject.child_id.encode(),
                a.canonical,
                [("event_type", event.event_type.encode()), *provenance],
                event_id=event.event_id,
                event_type=event.event_type,
            )
            rows.append(OutboxRow.of(record, event_id=event.event_id, event_type=event.event_type))
        return rows

    @staticmethod
    def _problem(
        draft: AuditDraft,
        code: Code,
        detail: str,
        *,
        status: int | None = None,
        errors: tuple[FieldErrorOut, ...] = (),
        rejected: tuple[EventRejection, ...] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        problem = Problem.of(
            code,
            detail,
            request_id=draft.request_id,
            status=status,
            errors=errors,
            rejected=rejected,
        )
        return Answer(problem.status, problem, headers or {})


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media in JSON_MEDIA_TYPES or (
        media.startswith("application/") and media.endswith("+json")
    )


def _www_authenticate(code: Code) -> str:
    if code is Code.MISSING_CREDENTIALS:
        return 'Bearer realm="frontdoor"'
    return 'Bearer realm="frontdoor", error="invalid_token"'


def _log_request(reply: Reply, *, audit_ms: float) -> None:
    entry = reply.audit
    log.info(
        "ingress_request",
        request_id=str(entry.request_id),
        status=entry.status,
        outcome=entry.outcome,
        code=entry.code,
        agency=entry.agency,
        credential_id=entry.credential_id,
        events=entry.events_received,
        accepted=len(entry.accepted_ids),
        rejected=entry.events_rejected,
        bytes=entry.body_bytes,
        duration_ms=entry.duration_ms,
        audit_ms=round(audit_ms, 3),
    )
