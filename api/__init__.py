"""ASGI transport: the Starlette app factory, routes, middleware, settings and the CLI."""
