"""frontdoor's event contract: the envelope, code sets, one frozen model per event type and
version, the registry that parses and upcasts, the topic list, and the exporter of the JSON Schema
and AsyncAPI files partners read. Start at ``schemas.registry.parse_event`` and
``schemas.topics``; see ``schemas.envelope`` for the time and id conventions.
"""
