"""The response media type of GraphQL over HTTP: ``application/graphql-response+json`` when the client asks for it.

With that media type the status code tells what became of the request (GraphQL over HTTP, "application/
graphql-response+json"): a request that fails before execution (it does not parse, does not validate, its
variables do not coerce) is 400 and its body has no ``data``; a request that executed is 200, errors or not.
With ``application/json``, the legacy media type every client understands, such a failure is 200, as before.
A client that sends no Accept header, or ``*/*``, gets ``application/json``.
"""

from __future__ import annotations

GRAPHQL_RESPONSE = b"application/graphql-response+json"
JSON = b"application/json"


def _quality(parameters: list[bytes]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition(b"=")
        if name.strip().lower() == b"q":
            try:
                return float(value.strip())
            except ValueError:
                return 0.0
    return 1.0


def response_media_type(accept: bytes) -> bytes:
    """``application/graphql-response+json`` when ``accept`` names it and prefers it at least as much as
    ``application/json``; else ``application/json``. Wildcards choose ``application/json``: a client that takes
    anything may be one that predates the new type."""
    if GRAPHQL_RESPONSE not in accept.lower():
        return JSON
    wanted = 0.0
    legacy = 0.0
    for item in accept.lower().split(b","):
        media, *parameters = item.split(b";")
        media = media.strip()
        if media == GRAPHQL_RESPONSE:
            wanted = max(wanted, _quality(parameters))
        elif media == JSON:
            legacy = max(legacy, _quality(parameters))
    return GRAPHQL_RESPONSE if wanted > 0 and wanted >= legacy else JSON
