"""``hrss-credit outbox``: deliver the outbox to the city credit platform (push) and read it out (export).

httpx and the relay are imported only by ``push``, so every other command works without them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO
from urllib.parse import urlsplit

import orjson
import sqlalchemy as sa
import typer
from rich.console import Console

from api.cli_support import database, settings_from_env

if TYPE_CHECKING:
    from api.relay import RelayConfig, RelaySummary
    from store.pii import PiiCipher

outbox_app = typer.Typer(
    help="The outbox: changes the city credit platform must receive, written with the change itself.",
    no_args_is_help=True,
)
err = Console(stderr=True, soft_wrap=True)

EXIT_STOPPED = 1  # an event could not be delivered (or the database failed): the relay stopped at it
EXIT_USAGE = 2
EXIT_LOCKED = 3  # another relay holds the relay lock


def _say(message: str) -> None:
    err.print(message, markup=False, highlight=False)


def _fail(message: str, code: int) -> typer.Exit:
    err.print("[red]error:[/red] ", end="", highlight=False)
    err.print(message, markup=False, highlight=False)
    return typer.Exit(code)


@outbox_app.command("push")
def push(
    url: Annotated[
        str,
        typer.Option(
            "--url", envvar="HRSS_OUTBOX_URL", help="The city credit platform's endpoint that receives the events."
        ),
    ],
    follow: Annotated[
        bool,
        typer.Option(
            "--follow/--once", help="--once (default): deliver what is pending now and exit; --follow: keep polling."
        ),
    ] = False,
    max_attempts: Annotated[
        int, typer.Option(min=0, help="Attempts per event in this run before the relay stops (0: no limit).")
    ] = 10,
    backoff: Annotated[
        float, typer.Option(min=0.0, help="Seconds before the first retry; doubled for each further one, with jitter.")
    ] = 0.5,
    backoff_max: Annotated[float, typer.Option(min=0.0, help="The longest pause between two attempts.")] = 60.0,
    timeout: Annotated[float, typer.Option(min=0.001, help="Seconds allowed per request.")] = 10.0,
    poll_interval: Annotated[
        float, typer.Option(min=0.0, help="--follow: seconds between two looks at an empty outbox.")
    ] = 2.0,
    batch: Annotated[int, typer.Option(min=1, help="Pending events read per query.")] = 100,
) -> None:
    """Deliver every pending event to the city credit platform, in outbox order, at least once.

    Each event is POSTed as JSON with the header Idempotency-Key: <event_id>. 5xx, 408, 409, 429, timeouts and connection errors are retried with exponential backoff; any other refusal stops the relay at that event, which is never skipped (exit status 1). Exit status 3: another relay is running.
    """
    from api.relay import RelayConfig

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _fail(f"--url must be an http or https URL, not {url!r}", EXIT_USAGE)
    config = RelayConfig(
        url=url,
        follow=follow,
        max_attempts=max_attempts,
        backoff=backoff,
        backoff_max=backoff_max,
        timeout=timeout,
        poll_interval=poll_interval,
        batch=batch,
    )
    summary, pending = _push_in_database(config)
    ending = "stopped by signal: " if summary.stopped_by_signal else ""
    _say(
        f"{ending}delivered {summary.delivered} events to {url} "
        f"({summary.failed_attempts} failed attempts); {pending} pending"
    )


def _push_in_database(config: RelayConfig) -> tuple[RelaySummary, int]:
    """Run the relay against the configured database; its refusals end the command with their exit status."""
    from api.relay import DeliveryStopped, RelayLocked
    from store.outbox import UnresolvedSubject

    settings = settings_from_env()
    with database(settings) as db_url:
        try:
            return asyncio.run(_push(db_url, config, settings.pii_cipher()))
        except RelayLocked as exc:
            raise _fail(str(exc), EXIT_LOCKED) from None
        except (DeliveryStopped, UnresolvedSubject) as exc:
            raise _fail(str(exc), EXIT_STOPPED) from None
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            raise _fail(f"database: {exc}", EXIT_STOPPED) from None


async def _push(db_url: str, config: RelayConfig, pii: PiiCipher) -> tuple[RelaySummary, int]:
    from api.relay import Relay
    from store import outbox
    from store.db import create_engine

    engine = create_engine(
        db_url, pool_size=1, max_overflow=0, application_name=f"hrss-credit outbox push {os.getpid()}"
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM) if threading.current_thread() is threading.main_thread() else ()
    for signum in signals:
        # Finish the event in flight (at most one request timeout), record it, then stop.
        loop.add_signal_handler(signum, stop.set)
    try:
        summary = await Relay(engine, config, pii=pii, say=_say, stop=stop).run()
        async with engine.connect() as conn:
            pending, _ = await outbox.counts(conn)
        return summary, pending
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
        await engine.dispose()


@outbox_app.command("export")
def export(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file (created readable by its owner only), not stdout."),
    ] = None,
    pending_only: Annotated[bool, typer.Option("--pending-only", help="Only the events not pushed yet.")] = False,
) -> None:
    """Write the events as JSON lines in outbox order: the delivery body plus id, pushed_at, attempts, last_error.

    A file written with --output has mode 0600 from its creation on: the events are credit information and name individuals by their ID numbers, as the platform receives them.
    """
    from store.outbox import UnresolvedSubject

    settings = settings_from_env()
    pii = settings.pii_cipher()
    with database(settings) as db_url:
        try:
            if output is None:
                count = asyncio.run(_export(db_url, sys.stdout, pending_only, pii))
            else:
                count = _export_to_file(db_url, output, pending_only, pii)
        except UnresolvedSubject as exc:
            raise _fail(str(exc), EXIT_STOPPED) from None
    _say(f"exported {count} {'pending ' if pending_only else ''}events" + (f" to {output}" if output else ""))


def _export_to_file(db_url: str, output: Path, pending_only: bool, pii: PiiCipher) -> int:
    """Write a new file beside ``output`` and rename it over ``output``: the file appears whole or not at all.

    mkstemp creates it with mode 0600 (O_EXCL, a fresh inode: never a file or link left there by someone else),
    so the events in it are never readable by others, not even while it is written; the rename gives
    ``output`` that inode and its mode, whatever mode a file of that name had before.
    """
    fd, name = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".partial")
    partial = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as target:
            os.fchmod(target.fileno(), 0o600)  # exactly 0600, whatever the umask let through
            count = asyncio.run(_export(db_url, target, pending_only, pii))
        partial.replace(output)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return count


async def _export(db_url: str, target: TextIO, pending_only: bool, pii: PiiCipher) -> int:
    from store import outbox
    from store.db import create_engine

    engine = create_engine(db_url, pool_size=1, max_overflow=0, statement_timeout_ms=600_000)
    count = 0
    try:
        async with engine.connect() as conn:
            async for event in outbox.export(conn, pending_only, pii=pii):
                target.write(orjson.dumps(event.export_line()).decode() + "\n")
                count += 1
    finally:
        await engine.dispose()
    return count
