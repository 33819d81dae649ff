"""Authentication: OAuth 2.0 access tokens for the API.

``keys`` holds the signing key of the built-in authorization server, ``clients`` the registered OAuth clients
(the audiences of ../shared/contract/policy.md), ``server`` the built-in authorization server (RFC 6749 client
credentials, RFC 8414 metadata, RFC 9068 JWT access tokens), ``tokens`` the resource-server side validation of
those tokens (RFC 9068, RFC 8725) and ``middleware`` the ASGI middleware that turns a bearer token (RFC 6750)
into a ``Principal``. The built-in server is put together in ``server`` from its parts: ``oauth_clients``,
``oauth_requests``, ``codes``, ``authlib_server``, ``login``, ``csrf`` and ``throttle``, none of which
imports ``server``. This package may import ``domain`` only; settings arrive as plain values.
"""
