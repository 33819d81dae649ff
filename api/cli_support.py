"""What the ``hrss-credit`` commands share: the settings, the database a command runs against, the error console.

The command modules (api/cli.py, api/import_cli.py, api/outbox_cli.py) import these from here, and from no other
command module, so that none of them imports another to reach them.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from api.settings import Settings

if TYPE_CHECKING:
    from auth.keys import SigningKeys

err = Console(stderr=True)


def settings_from_env() -> Settings:
    """The settings from the environment; a configuration error ends the command with exit status 2."""
    try:
        return Settings()
    except ValueError as exc:
        err.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None


@contextlib.contextmanager
def database(settings: Settings) -> Iterator[str]:
    """The configured database, or the embedded PostgreSQL under the data directory (stopped on exit)."""
    if settings.database_url:
        yield settings.database_url
        return
    from store.embedded import EmbeddedPostgres

    embedded = EmbeddedPostgres(settings.data_dir)
    err.print(f"starting the embedded PostgreSQL in {embedded.pgdata} …")
    url = embedded.start()
    previous = signal.signal(signal.SIGTERM, exit_on_sigterm)
    try:
        yield url
    finally:
        signal.signal(signal.SIGTERM, previous)
        embedded.stop()


def signing_key_file(settings: Settings) -> Path:
    # Where api.app.signing_keys keeps the key of the JWKS; read here without creating one, since a key made
    # by a command would sign checkpoints that no JWKS the API serves can check.
    return settings.data_dir / "keys" / "signing-jwk.json"


def local_signing_keys(settings: Settings) -> SigningKeys | None:
    """The API's signing key under the data directory, when there is one (the key of the JWKS it serves)."""
    from auth.keys import SigningKeys

    path = signing_key_file(settings)
    return SigningKeys.load_or_create(path) if path.exists() else None


def exit_on_sigterm(signum: int, frame: object) -> None:
    # SIGTERM's default action ends the process at once: no finally block and no atexit hook would stop the
    # embedded PostgreSQL, which later runs then join and never stop either (it counts the processes using it).
    # uvicorn shuts down gracefully on SIGTERM and then raises it again under the handler it found: this one.
    raise SystemExit(128 + signum)
