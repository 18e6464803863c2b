"""The machine-readable reasons partner ingress gives, each with its HTTP status and title.

Every refusal carries one of these codes (in the problem document's ``code`` and in each rejected
event of a batch report), so a partner's integration can branch on it without parsing English.
The problem ``type`` is ``PROBLEM_BASE_URI`` + the code, a relative reference (RFC 9457 §3.1.1:
resolved against the request's URI), so it names a page the partner API itself serves,
``/problems/<code>``, with what the problem means and what to do (``meaning``, ``advice``): it
resolves on an offline council network and behind any host name. Codes are part of the public
interface: add new ones, never rename or reuse one.
"""

from __future__ import annotations

from enum import StrEnum

PROBLEM_BASE_URI = "/problems/"


class Code(StrEnum):
    # the request as a whole
    MALFORMED_JSON = "malformed_json"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    INVALID_REQUEST = "invalid_request"
    BODY_TOO_LARGE = "body_too_large"
    TOO_MANY_EVENTS = "too_many_events"
    MISSING_CREDENTIALS = "missing_credentials"
    INVALID_CREDENTIALS = "invalid_credentials"
    CREDENTIAL_REVOKED = "credential_revoked"
    RATE_LIMITED = "rate_limited"
    AUTHENTICATION_THROTTLED = "authentication_throttled"
    EVENTS_REJECTED = "events_rejected"
    STORE_UNAVAILABLE = "store_unavailable"
    BROKER_UNAVAILABLE = "broker_unavailable"
    """No longer sent: a 202 waits for PostgreSQL, not the broker (``store_unavailable``)."""
    AUDIT_UNAVAILABLE = "audit_unavailable"
    """No longer sent: the audit row commits with the events (``store_unavailable``)."""
    AUTH_UNAVAILABLE = "auth_unavailable"
    NOT_READY = "not_ready"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    INTERNAL_ERROR = "internal_error"
    # one event of a submission
    AGENCY_MISMATCH = "agency_mismatch"
    EVENT_TYPE_NOT_PERMITTED = "event_type_not_permitted"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    INVALID_EVENT = "invalid_event"
    EVENT_TOO_LARGE = "event_too_large"
    DUPLICATE_EVENT_ID = "duplicate_event_id"
    EVENT_ID_REUSED = "event_id_reused"

    @property
    def status(self) -> int:
        return _STATUS[self]

    @property
    def problem_title(self) -> str:
        return _TITLE[self]

    @property
    def type_uri(self) -> str:
        return PROBLEM_BASE_URI + self.value

    @property
    def meaning(self) -> str:
        """What the problem means, for the problem's page."""
        return _GUIDE[self][0]

    @property
    def advice(self) -> str:
        """What the partner should do about it."""
        return _GUIDE[self][1]


RETIRED: frozenset[Code] = frozenset({Code.BROKER_UNAVAILABLE, Code.AUDIT_UNAVAILABLE})
"""Codes kept in the enum for partners' generated clients, but no longer sent."""

_STATUS: dict[Code, int] = {
    Code.MALFORMED_JSON: 400,
    Code.UNSUPPORTED_MEDIA_TYPE: 415,
    Code.INVALID_REQUEST: 422,
    Code.BODY_TOO_LARGE: 413,
    Code.TOO_MANY_EVENTS: 413,
    Code.MISSING_CREDENTIALS: 401,
    Code.INVALID_CREDENTIALS: 401,
    Code.CREDENTIAL_REVOKED: 401,
    Code.RATE_LIMITED: 429,
    Code.AUTHENTICATION_THROTTLED: 429,
    Code.EVENTS_REJECTED: 422,
    Code.STORE_UNAVAILABLE: 503,
    Code.BROKER_UNAVAILABLE: 503,
    Code.AUDIT_UNAVAILABLE: 503,
    Code.AUTH_UNAVAILABLE: 503,
    Code.NOT_READY: 503,
    Code.NOT_FOUND: 404,
    Code.METHOD_NOT_ALLOWED: 405,
    Code.INTERNAL_ERROR: 500,
    Code.AGENCY_MISMATCH: 403,
    Code.EVENT_TYPE_NOT_PERMITTED: 403,
    Code.UNKNOWN_EVENT_TYPE: 422,
    Code.INVALID_EVENT: 422,
    Code.EVENT_TOO_LARGE: 413,
    Code.DUPLICATE_EVENT_ID: 422,
    Code.EVENT_ID_REUSED: 409,
}

_TITLE: dict[Code, str] = {
    Code.MALFORMED_JSON: "The request body is not valid JSON",
    Code.UNSUPPORTED_MEDIA_TYPE: "The request body must be application/json",
    Code.INVALID_REQUEST: "The request is not an event or a batch of events",
    Code.BODY_TOO_LARGE: "The request body is too large",
    Code.TOO_MANY_EVENTS: "The batch holds too many events",
    Code.MISSING_CREDENTIALS: "No API key was presented",
    Code.INVALID_CREDENTIALS: "The API key is not valid",
    Code.CREDENTIAL_REVOKED: "The API key has been revoked",
    Code.RATE_LIMITED: "The agency's rate limit is exceeded",
    Code.AUTHENTICATION_THROTTLED: "Too many failed authentications; wait before trying again",
    Code.EVENTS_REJECTED: "Every event in the submission was rejected",
    Code.STORE_UNAVAILABLE: "The events could not be stored; nothing was accepted",
    Code.BROKER_UNAVAILABLE: "The events could not be stored; nothing was accepted",
    Code.AUDIT_UNAVAILABLE: "The submission could not be audited; nothing was accepted",
    Code.AUTH_UNAVAILABLE: "The API key could not be checked; nothing was accepted",
    Code.NOT_READY: "The service is starting or stopping",
    Code.NOT_FOUND: "No such resource",
    Code.METHOD_NOT_ALLOWED: "Method not allowed on this resource",
    Code.INTERNAL_ERROR: "Internal error",
    Code.AGENCY_MISMATCH: "source.agency is not the agency of the API key",
    Code.EVENT_TYPE_NOT_PERMITTED: "The agency may not submit this event type",
    Code.UNKNOWN_EVENT_TYPE: "No event model for this event_type and schema_version",
    Code.INVALID_EVENT: "The event does not match its schema",
    Code.EVENT_TOO_LARGE: "The event is too large",
    Code.DUPLICATE_EVENT_ID: "The event_id appears twice in this batch",
    Code.EVENT_ID_REUSED: "The event_id was already used for an event with different content",
}

_RESUBMIT = "Resubmit the same events unchanged (same event_id): a repeat is recorded once."
_FIX = "Correct the events named in `rejected` and resubmit them; the others were accepted."
_GUIDE: dict[Code, tuple[str, str]] = {
    Code.MALFORMED_JSON: (
        "The body could not be parsed as JSON; nothing was read from it.",
        'Send UTF-8 JSON: one event object, or {"events": [...]}. `detail` names the position.',
    ),
    Code.UNSUPPORTED_MEDIA_TYPE: (
        "The request's Content-Type is not application/json.",
        "Send `Content-Type: application/json` with a JSON body.",
    ),
    Code.INVALID_REQUEST: (
        'The body is JSON but neither one event object nor {"events": [...]} with a non-empty '
        "array (or the request itself is malformed).",
        "Send one event object, or an object whose only key is `events`. `errors` names the field.",
    ),
    Code.BODY_TOO_LARGE: (
        "The body is larger than the service accepts (1 MiB by default); it was not read.",
        "Split the batch into smaller requests.",
    ),
    Code.TOO_MANY_EVENTS: (
        "The batch holds more events than one request may carry (500 by default).",
        "Split the batch; `detail` gives the limit.",
    ),
    Code.MISSING_CREDENTIALS: (
        "No API key was sent.",
        "Send `Authorization: Bearer fd_<credential_id>_<secret>` with your agency's key "
        "(issued by the council with `frontdoor agencies add <agency>`).",
    ),
    Code.INVALID_CREDENTIALS: (
        "The key is malformed, unknown, or its secret does not match.",
        "Check the key was copied whole; ask the council for a new key if it was lost.",
    ),
    Code.CREDENTIAL_REVOKED: (
        "The key was revoked (rotated or withdrawn) and no longer works.",
        "Use your agency's current key; ask the council if you have none.",
    ),
    Code.RATE_LIMITED: (
        "Your agency sent more events per second than its limit allows; nothing was accepted.",
        "Wait the seconds in `Retry-After`, then resubmit unchanged; send larger, rarer batches.",
    ),
    Code.AUTHENTICATION_THROTTLED: (
        "Too many failed authentications came from your address or for this credential id; no "
        "key is checked until the window ends.",
        "Wait the seconds in `Retry-After`; fix the key before trying again.",
    ),
    Code.EVENTS_REJECTED: (
        "Every event of the submission was refused; nothing was accepted.",
        "Read `rejected`: each event's own `code`, `detail` and field `errors`, then resubmit.",
    ),
    Code.STORE_UNAVAILABLE: (
        "frontdoor could not store the events; nothing was accepted.",
        "Wait the seconds in `Retry-After`. " + _RESUBMIT,
    ),
    Code.BROKER_UNAVAILABLE: (
        "No longer sent (acceptance waits for the database, not the broker: see "
        "store_unavailable). Older clients may still know it.",
        _RESUBMIT,
    ),
    Code.AUDIT_UNAVAILABLE: (
        "No longer sent (the audit record commits with the events: see store_unavailable).",
        _RESUBMIT,
    ),
    Code.AUTH_UNAVAILABLE: (
        "The key could not be checked because the credential store was unreachable.",
        "Wait the seconds in `Retry-After`. " + _RESUBMIT,
    ),
    Code.NOT_READY: (
        "The service is starting or stopping.",
        "Retry in a few seconds. " + _RESUBMIT,
    ),
    Code.NOT_FOUND: (
        "No such resource: an unknown path, or an event id your agency never submitted.",
        "Check the path against /docs; `GET /v1/events/{event_id}` answers only for your "
        "agency's own events.",
    ),
    Code.METHOD_NOT_ALLOWED: (
        "The path exists but not with this HTTP method.",
        "Use the method /docs lists for the path (events are submitted with POST /v1/events).",
    ),
    Code.INTERNAL_ERROR: (
        "frontdoor failed unexpectedly; it was logged with the request id.",
        "Resubmit unchanged; if it persists, tell the council the `instance` (request id).",
    ),
    Code.AGENCY_MISMATCH: (
        "The event's `source.agency` (or an author field such as `payload.agency`) names "
        "another agency than the one your key belongs to.",
        "Send only your own agency's events, with `source.agency` set to your agency.",
    ),
    Code.EVENT_TYPE_NOT_PERMITTED: (
        "Your agency may not submit this event type (the role table, schemas/roles.toml), or "
        "the type is one frontdoor publishes itself.",
        "Check the event types your agency may send; ask the council if one is missing.",
    ),
    Code.UNKNOWN_EVENT_TYPE: (
        "There is no event model for this `event_type` and `schema_version`.",
        "Use an event type and version from the OpenAPI document or the JSON Schemas; "
        "`errors` lists the known versions.",
    ),
    Code.INVALID_EVENT: (
        "The event does not match its JSON Schema. `errors` lists each field (`loc`) and what "
        "was expected (`msg`); dates are ISO 8601 (2025-03-04), date-times ISO 8601 with an "
        "offset (2025-03-04T10:30:00+00:00).",
        _FIX,
    ),
    Code.EVENT_TOO_LARGE: (
        "One event is larger than the per-event limit.",
        "Shorten the event's free text or attachments; " + _FIX[0].lower() + _FIX[1:],
    ),
    Code.DUPLICATE_EVENT_ID: (
        "The same `event_id` appears twice in one batch; the first was judged, the repeat refused.",
        "Give every event its own event_id (a UUID).",
    ),
    Code.EVENT_ID_REUSED: (
        "The `event_id` was already used for an event with different content. An event_id "
        "names one event for ever.",
        "Resend the original unchanged (it is accepted again, stored once), or give the new "
        "event its own event_id.",
    ),
}
