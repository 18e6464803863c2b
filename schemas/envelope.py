"""The envelope every frontdoor event shares, and the small value types its payloads reuse.

An event is one JSON object: ``event_id`` (the de-duplication key), ``event_type`` and
``schema_version`` (which model validates it), ``occurred_at`` (ISO 8601 with an offset; naive
times are rejected), ``source`` (who published it), ``subject`` (the child it is about — the Kafka
key), optional ``correlation_id`` / ``causation_id``, and a type-specific ``payload``. Every model
here is frozen, forbids unknown fields and refuses NUL and other control characters in any string
(the text rule of ``schemas.text``, enforced by ``ContractModel``). Time convention for all
payloads: an instant at which a clock starts or stops (a contact, a referral, a conference) is an
``AwareDatetime``; a calendar day that statute or a DfE return reports as a date and that has no
meaningful time (a date of birth, an expected birth date, an ICPC target date) is a ``date``.
Local dates are read in Europe/London.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from schemas.text import TextViolation, find_violations

LONDON = ZoneInfo("Europe/London")

SAFE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"

ChildId = Annotated[str, StringConstraints(pattern=SAFE_ID_PATTERN, min_length=1, max_length=64)]
"""A child's id in the council's case system: 1–64 safe characters (letters, digits, ``._:-``)."""

FamilyId = Annotated[str, StringConstraints(pattern=SAFE_ID_PATTERN, min_length=1, max_length=64)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
"""A short label such as a team, a worker or a system name (not personal narrative)."""

Narrative = Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
"""Free text written by a professional. Personal data: never logged."""

Reference = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class Agency(StrEnum):
    """The partner agencies that publish to, or read from, the front door."""

    POLICE = "police"
    HEALTH = "health"
    EDUCATION = "education"
    PROBATION = "probation"
    HOUSING = "housing"
    SOCIAL_CARE = "social_care"
    EARLY_HELP = "early_help"
    OOH = "ooh"
    PUBLIC = "public"
    OTHER = "other"


AUTHOR_MARK = "x-frontdoor-author"
"""JSON Schema keyword on a payload field that names the agency whose record this is (its
author): intake and ingress require it to be the publishing agency (``schemas/roles.py``)."""


def author_agency(description: str) -> Any:
    """A payload field naming the event's author agency (see ``AUTHOR_MARK``)."""
    return Field(description=description, json_schema_extra={AUTHOR_MARK: True})


class ContractModel(BaseModel):
    """Base of every model in the contract: immutable, unknown fields rejected, text only.

    The text rule (``schemas.text``: no NUL or other C0 control but TAB/LF/CR, no surrogate, no
    U+FFFE/U+FFFF) is enforced here, once, by a ``mode="before"`` model validator on the raw
    input rather than by an annotated ``str`` type, because it then covers every string
    whatever the field's declared type — a plain ``str`` added later, an ``Enum``, a ``Literal``,
    an unknown key about to be refused, list items and mapping keys at any depth, the
    envelope's ``source`` / ``subject`` included — and no field can opt out by forgetting an
    annotation. Each model checks, before any of its fields is validated, every part of its
    input except the mappings it hands to a field typed only as nested contract models
    (``_nested_model_keys``); those models check them in turn, so each string is looked at once.
    Every model reachable from a registered event derives from this class
    (``tests/unit/test_schemas_text_rule.py`` checks it). Each bad string is one error of type
    ``forbidden_character`` at its own path (``payload.child.family_name``) saying e.g.
    "control character U+0000 is not allowed in text". Errors never carry submitted values:
    ``hide_input_in_errors`` keeps ``input_value=`` out of ``str(ValidationError)`` (dates of
    birth and names are personal data), and the text rule's errors hold no input at all.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    @model_validator(mode="before")
    @classmethod
    def _text_rule(cls, data: Any) -> Any:
        nested = _NESTED.get(cls)
        if nested is None:
            nested = _NESTED[cls] = _nested_model_keys(cls)
        violations = find_violations(data, nested=nested)
        if violations:
            raise text_rule_error(cls.__name__, violations)
        return data


_NESTED: dict[type[ContractModel], frozenset[str]] = {}
"""Per model (filled on first use, when its fields are resolved): ``_nested_model_keys``."""


def _is_contract_model(annotation: object) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, ContractModel)


def _only_contract_models(annotation: object) -> bool:
    """``M``, ``M | None``, ``M1 | M2``, ``tuple[M, ...]`` or ``list[M]`` of ContractModels."""
    if _is_contract_model(annotation):
        return True
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Union or origin is UnionType:
        models = [a for a in args if a is not NoneType]
        return bool(models) and all(_is_contract_model(a) for a in models)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return _is_contract_model(args[0])
    if origin is list and len(args) == 1:
        return _is_contract_model(args[0])
    return False


def _nested_model_keys(model: type[ContractModel]) -> frozenset[str]:
    """Input keys of ``model`` whose values only a nested ContractModel may validate.

    When in doubt the answer is no (an unresolved annotation, a union with ``str``, a mapping of
    models): ``model`` then checks that value itself, at worst a second time.
    """
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        if _only_contract_models(field.annotation):
            keys.add(name)
            keys.update(a for a in (field.alias, field.validation_alias) if isinstance(a, str))
    return frozenset(keys)


def text_rule_error(title: str, violations: Sequence[TextViolation]) -> ValidationError:
    """The ``ValidationError`` for strings breaking the text rule: an error per string, no input."""
    return ValidationError.from_exception_data(
        title, [_text_error(v) for v in violations], hide_input=True
    )


def _text_error(violation: TextViolation) -> InitErrorDetails:
    return InitErrorDetails(
        type=PydanticCustomError(
            "forbidden_character",
            "{kind} {codepoint} is not allowed in {where}",
            {
                "kind": violation.kind,
                "codepoint": violation.codepoint,
                "where": "a key" if violation.in_key else "text",
            },
        ),
        loc=violation.loc,
        input=None,
    )


class Source(ContractModel):
    """Who published the event: the agency, its system, and that system's own record reference."""

    agency: Agency
    system: ShortText = Field(description="The publishing system, e.g. 'niche-rms' or 'mosaic'.")
    ref: Reference = Field(description="The record's reference in the publishing system.")


class Subject(ContractModel):
    """The child the event is about. ``child_id`` is the Kafka key of every topic."""

    child_id: ChildId
    family_id: FamilyId | None = Field(
        default=None, description="The household, when known; links siblings and repeat incidents."
    )


class Payload(ContractModel):
    """Base of every event payload."""


class EventBase(ContractModel):
    """The common envelope; concrete events narrow event_type, schema_version and payload."""

    event_id: UUID = Field(description="Unique per event; the de-duplication key.")
    event_type: str
    schema_version: int
    occurred_at: AwareDatetime = Field(description="When it happened, ISO 8601 with an offset.")
    source: Source
    subject: Subject
    correlation_id: UUID | None = Field(
        default=None, description="Shared by every event of one piece of work (e.g. one contact)."
    )
    causation_id: UUID | None = Field(
        default=None, description="The event_id of the event that caused this one."
    )
    payload: Payload


def london_date(moment: datetime) -> str:
    """The Europe/London calendar date of an aware instant, ISO formatted (for error messages)."""
    return moment.astimezone(LONDON).date().isoformat()


def is_london_weekend(moment: datetime) -> bool:
    """True when an aware instant falls on a Saturday or Sunday in Europe/London."""
    return moment.astimezone(LONDON).weekday() >= 5
