"""frontdoor's event contract: the envelope, code sets, one frozen model per event type and
version, the registry that parses and upcasts, the topic list, and the exporter of the JSON Schema
and AsyncAPI files partners read. Start at ``schemas.registry.parse_event`` and
``schemas.topics``; see ``schemas.envelope`` for the time and id conventions and
``schemas.text`` for the characters no string may hold. A stream pipeline checks Kafka headers
with ``schemas.headers.check_header`` and words a refusal with
``schemas.errors.describe_validation_error`` (field and rule, never the value).
"""
