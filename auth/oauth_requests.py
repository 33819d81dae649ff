"""Starlette requests as Authlib sees them, and the reading of a form body.

Authlib's grant handling is synchronous while Starlette reads a body asynchronously, so an endpoint reads
and parses the body first (:func:`read_token_request`, :func:`read_form_body`) and hands Authlib a
:class:`PreparedRequest`, which :class:`StarletteOAuth2Request` and :class:`JsonRequestPayload` present in the
shape Authlib expects.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from authlib.oauth2.rfc6749 import InvalidRequestError, JsonPayload, OAuth2Payload, OAuth2Request
from starlette.datastructures import Headers
from starlette.requests import Request

from .oauth_clients import basic_credentials

__all__ = [
    "MAX_FORM_BYTES",
    "FormPayload",
    "JsonRequestPayload",
    "PreparedRequest",
    "StarletteOAuth2Request",
    "client_address",
    "is_form_encoded",
    "read_form_body",
    "read_token_request",
]

MAX_FORM_BYTES = 16 * 1024
"""A token request or a login form is a handful of short parameters; anything larger is refused unread."""


@dataclass(frozen=True)
class PreparedRequest:
    """A Starlette request whose body has already been read and parsed (Authlib itself is synchronous).

    ``form``/``datalist`` are the OAuth parameters Authlib reads: the body of a token request, the query of a
    ``GET`` authorization request, or the fields carried through the login form's ``POST``.
    """

    method: str
    url: str
    headers: Headers
    form: dict[str, str]
    datalist: dict[str, list[str]]
    args: dict[str, str]
    json: Any = None
    taken_code: tuple[str, Any] | None = None
    """At the token endpoint: the presented code and what the store returned for it (``auth.codes``)."""


class FormPayload(OAuth2Payload):  # type: ignore[misc]  # Authlib ships no type information
    def __init__(self, form: dict[str, str], datalist: dict[str, list[str]]) -> None:
        self._data = form
        self._datalist: defaultdict[str, list[str]] = defaultdict(list, datalist)

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class StarletteOAuth2Request(OAuth2Request):  # type: ignore[misc]  # Authlib ships no type information
    def __init__(self, prepared: PreparedRequest) -> None:
        # Raises InsecureTransportError for plain http to a non-loopback host (RFC 6749 §3.2 requires TLS).
        super().__init__(method=prepared.method, uri=prepared.url, headers=prepared.headers)
        self._prepared = prepared
        # RFC 6749 §2.3.1, §4.4.2: token request parameters travel in the body only, never in the URI.
        self.payload = FormPayload(prepared.form, prepared.datalist)

    @property
    def args(self) -> dict[str, str]:
        return self._prepared.args

    @property
    def form(self) -> dict[str, str]:
        return self._prepared.form

    @property
    def taken_code(self) -> tuple[str, Any] | None:
        return self._prepared.taken_code


class JsonRequestPayload(JsonPayload):  # type: ignore[misc]  # Authlib ships no type information
    def __init__(self, data: Any) -> None:
        self._data = data

    @property
    def data(self) -> Any:
        return self._data


def client_address(request: Request) -> str:
    """The client's address as the server sees it (behind a proxy: what uvicorn's trusted forwarded headers
    say, see docs/deployment.md)."""
    return request.client.host if request.client is not None else "unknown"


def is_form_encoded(request: Request) -> bool:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media_type == "application/x-www-form-urlencoded"


async def read_form_body(request: Request) -> bytes | None:
    """The request body, or ``None`` as soon as it grows past :data:`MAX_FORM_BYTES` (the rest is unread)."""
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_FORM_BYTES:
            return None
    return bytes(body)


async def read_token_request(request: Request) -> PreparedRequest:
    """The token request (RFC 6749 §3.2), read and checked for form; ``InvalidRequestError`` when malformed."""
    if not is_form_encoded(request):
        raise InvalidRequestError("The body must be application/x-www-form-urlencoded.")
    body = await read_form_body(request)
    if body is None:
        raise InvalidRequestError("The request body is too large.")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=64)
    except ValueError:  # also UnicodeDecodeError
        raise InvalidRequestError("The request body is not valid form data.") from None
    datalist: dict[str, list[str]] = defaultdict(list)
    for name, value in pairs:
        datalist[name].append(value)
    if any(len(values) > 1 for values in datalist.values()):
        # RFC 6749 §3.2: request parameters MUST NOT be included more than once.
        raise InvalidRequestError("A parameter is included more than once.")
    form = {name: values[0] for name, values in datalist.items()}
    if not form.get("grant_type"):
        raise InvalidRequestError("Missing 'grant_type' parameter.")
    if "client_secret" in form and basic_credentials(request.headers) is not None:
        # RFC 6749 §2.3: a client MUST NOT use more than one authentication method in a request.
        raise InvalidRequestError("Use one client authentication method per request.")
    return PreparedRequest(
        method=request.method,
        url=str(request.url),
        headers=request.headers,
        form=form,
        datalist=dict(datalist),
        args=dict(request.query_params),
    )
