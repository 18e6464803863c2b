"""The machine-readable reasons partner ingress gives, each with its HTTP status and title.

Every refusal carries one of these codes (in the problem document's ``code`` and in each rejected
event of a batch report), so a partner's integration can branch on it without parsing English.
The problem ``type`` is ``PROBLEM_BASE_URI`` + the code: an identifier, not a download location.
Codes are part of the public interface: add new ones, never rename or reuse one.
"""

from __future__ import annotations

from enum import StrEnum

PROBLEM_BASE_URI = "https://frontdoor.example/problems/"


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

    @property
    def status(self) -> int:
        return _STATUS[self]

    @property
    def problem_title(self) -> str:
        return _TITLE[self]

    @property
    def type_uri(self) -> str:
        return PROBLEM_BASE_URI + self.value


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
}
