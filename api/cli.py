"""The ``hrss-credit`` command: serve, migrate, seed-demo, token, schema print."""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from api.cli_support import database, err, local_signing_keys, settings_from_env, signing_key_file
from api.import_cli import import_file
from api.outbox_cli import outbox_app
from api.receipt_cli import receipt_app
from api.settings import Settings

if TYPE_CHECKING:
    from store.audit import ChainReport
    from store.demo import DemoSummary

app = typer.Typer(help="hrss-credit: labor and social-security credit information API.", no_args_is_help=True)
schema_app = typer.Typer(help="The GraphQL schema.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")
app.command("import")(import_file)
app.add_typer(outbox_app, name="outbox")
app.add_typer(receipt_app, name="receipt")


def _exit_after_graceful_shutdown(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _migrate(url: str) -> None:
    from store import migrations

    migrations.upgrade(url)


def _seed_if_empty(settings: Settings, url: str) -> None:
    from services import demo
    from store.db import bureau_today, create_engine

    async def run() -> DemoSummary | None:
        engine = create_engine(url, pool_size=1, max_overflow=0, statement_timeout_ms=120_000)
        try:
            async with engine.begin() as conn:
                return await demo.seed_if_empty(conn, settings.pii_cipher(), today=bureau_today())
        finally:
            await engine.dispose()

    summary = asyncio.run(run())
    if summary is None:
        err.print("the database already holds subjects: demo data not loaded again")
        return
    err.print(
        f"demo data loaded: {summary.organizations} organizations, {summary.individuals} individuals, "
        f"{summary.records} records, {summary.objections} objections"
    )


@app.command()
def serve(
    migrate: bool = typer.Option(False, "--migrate", help="Run the migrations before serving."),
    seed_demo: bool = typer.Option(False, "--seed-demo", help="Load the demo data into an empty database."),
) -> None:
    """Serve the API (uvicorn with uvloop and httptools) on HRSS_HOST:PORT."""
    import uvicorn

    from api.app import create_app
    from api.http_protocol import GatheringHttpToolsProtocol
    from api.logging import configure_logging

    settings = settings_from_env()
    configure_logging(settings.log_level, json=settings.log_json)
    if seed_demo and not settings.dev_mode:
        err.print("[red]--seed-demo is for development only[/red]")
        raise typer.Exit(2)
    with database(settings) as url:
        if migrate:
            _migrate(url)
        if seed_demo or settings.seed_demo_on_start:
            _seed_if_empty(settings, url)
        application = create_app(settings, database_url=url)
        err.print(f"serving on {settings.issuer}/graphql")
        # uvicorn shuts down gracefully on SIGTERM, then raises it again under the handler it found: a service
        # manager's stop is a clean exit (status 0), and the embedded PostgreSQL is stopped on the way out.
        signal.signal(signal.SIGTERM, _exit_after_graceful_shutdown)
        # The schemas, the policy and the libraries are built now and live as long as the process: frozen, the
        # collector stops walking them, and a higher first threshold makes its pauses rarer. Those pauses were
        # most of the single check's tail latency under load.
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 50, 100)
        uvicorn.run(
            application,
            host=settings.host,
            port=settings.port,
            loop="uvloop",
            http=GatheringHttpToolsProtocol,
            log_config=None,
            access_log=False,
            proxy_headers=True,
            server_header=False,
        )


@app.command()
def migrate() -> None:
    """Upgrade the database schema to the newest migration."""
    settings = settings_from_env()
    with database(settings) as url:
        _migrate(url)
    err.print("migrations at head")


@app.command("seed-demo")
def seed_demo_command() -> None:
    """Load the demo data into an empty database (development only)."""
    settings = settings_from_env()
    if not settings.dev_mode:
        err.print("[red]seed-demo is for development only[/red]")
        raise typer.Exit(2)
    with database(settings) as url:
        _migrate(url)
        _seed_if_empty(settings, url)


@app.command()
def token(
    client_id: str = typer.Argument(..., help="A demo client, e.g. procurement, inspection, admin."),
    scope: str | None = typer.Option(None, help="Narrow the token to these scopes (space-separated)."),
    user: str | None = typer.Option(None, help="For employer-portal: the demo employer account (its USCC)."),
) -> None:
    """Print an access token for a demo client (development only); employer-portal needs --user USCC."""
    from api.app import authorization_server, signing_keys

    settings = settings_from_env()
    if not settings.dev_mode or not settings.demo_clients:
        err.print("[red]tokens are printed for demo clients in development mode only[/red]")
        raise typer.Exit(2)
    server = authorization_server(settings, signing_keys(settings))
    try:
        scopes = scope.split() if scope else None
        if user is not None:
            token_text = server.issue_employer_token(user, client_id=client_id, scopes=scopes)
        else:
            token_text = server.issue_token(client_id, scopes=scopes)
        sys.stdout.write(token_text + "\n")
    except (KeyError, ValueError) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


@app.command()
def evaluate(
    as_of: str | None = typer.Option(None, "--as-of", help="Evaluation date, YYYY-MM-DD (default: today)."),
    batch: int = typer.Option(2000, help="Subjects per transaction."),
    lanes: int = typer.Option(2, min=1, help="Batches under way at once, each on a connection of its own."),
) -> None:
    """Re-evaluate every subject's grade timeline and restrictions (WG art. 13: the yearly evaluation).

    Set-based, in batches, each batch its own transaction; a second run finds nothing to change.
    """
    from datetime import date

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from services import grading
    from store.db import bureau_today, create_engine

    settings = settings_from_env()
    try:
        day = date.fromisoformat(as_of) if as_of else bureau_today()
    except ValueError:
        err.print("[red]--as-of must be a date YYYY-MM-DD[/red]")
        raise typer.Exit(2) from None

    async def run(url: str) -> grading.Evaluated:
        engine = create_engine(url, pool_size=lanes, max_overflow=0, statement_timeout_ms=600_000)
        progress = Progress(
            TextColumn("evaluating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
        )

        def started(total: int) -> None:
            # The modules and the calendar live as long as the command: frozen, the collector stops walking them,
            # and a higher first threshold spares it the many short-lived rows and decisions of every batch.
            gc.collect()
            gc.freeze()
            gc.set_threshold(50_000, 50, 100)
            progress.start()
            progress.add_task("subjects", total=total)

        def committed(subjects: int) -> None:
            progress.advance(progress.task_ids[0], subjects)

        try:
            return await grading.evaluate_everyone(
                engine, today=day, batch=batch, lanes=lanes, on_start=started, on_batch=committed
            )
        finally:
            if progress.live.is_started:  # shown once the subjects were counted
                progress.stop()
            await engine.dispose()

    with database(settings) as url:
        done = asyncio.run(run(url))
    err.print(
        f"evaluated {done.subjects} subjects as of {day}: grades changed for {done.grades_changed}, "
        f"restrictions for {done.restrictions_changed}"
    )


audit_app = typer.Typer(help="The append-only, hash-chained audit log (SH art. 12).", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(
    checkpoints: Path | None = typer.Option(
        None,
        "--checkpoints",
        help="Checkpoints kept outside the database (the JSON lines of `audit checkpoints`, or one JWS a line):"
        " the chain must still pass through each of them.",
    ),
    jwks: Path | None = typer.Option(
        None,
        "--jwks",
        help="The JWK Set that checks the checkpoints' signatures (the API's /.well-known/jwks.json); default:"
        " the public half of the signing key under HRSS_DATA_DIR.",
    ),
) -> None:
    """Walk the sealed audit chain and check it against the checkpoints (exit status 1 when anything fails).

    Every sealed entry must link to the one before and match its digest, and the chain must pass through every
    checkpoint given and every one stored; entries not sealed yet are counted apart."""
    import orjson

    from services import audit as audit_service
    from store import audit
    from store.db import create_engine

    settings = settings_from_env()
    public: dict[str, object] | None = None
    if jwks is not None:
        public = orjson.loads(jwks.read_bytes())
    elif (keys := local_signing_keys(settings)) is not None:
        public = keys.public_jwks()
    kept: list[tuple[str, str]] = []
    if checkpoints is not None:
        if public is None:
            err.print("[red]no key to check the checkpoints with:[/red] pass --jwks (the API's JWKS)")
            raise typer.Exit(2)
        tokens = audit.checkpoint_tokens(checkpoints.read_text(encoding="utf-8"))
        kept = [(f"{checkpoints.name} line {n}", t) for n, t in enumerate(tokens, 1)]

    async def run(url: str) -> tuple[audit.ChainReport, list[str], int]:
        engine = create_engine(url, pool_size=1, max_overflow=0, statement_timeout_ms=600_000)
        try:
            async with engine.connect() as conn:
                return await audit_service.verify_chain(conn, kept, public)
        finally:
            await engine.dispose()

    with database(settings) as url:
        report, unreadable, stored = asyncio.run(run(url))
    if not _verification_holds(report, unreadable, stored, checked=public is not None):
        raise typer.Exit(1)
    head = f", head entry {report.head.entry_id} {report.head.hash.hex()}" if report.head else ""
    sys.stdout.write(f"audit chain intact: {report.entries} entries{head}\n")
    sys.stdout.write(f"checkpoints: {report.checkpoints} held\n")
    sys.stdout.write(f"not sealed yet: {report.unsealed} entries\n")


def _verification_holds(report: ChainReport, unreadable: list[str], stored: int, *, checked: bool) -> bool:
    """Print what failed; True when nothing did."""
    failed = False
    if report.first_broken_id is not None:
        err.print(f"[red]audit chain broken at entry {report.first_broken_id}[/red] ({report.entries} entries checked)")
        failed = True
    for problem in unreadable:
        err.print(f"[red]checkpoint refused:[/red] {problem}")
        failed = True
    for failure in report.checkpoint_failures:
        err.print(f"[red]checkpoint at entry {failure.entry_id} does not hold:[/red] {failure.reason}")
        failed = True
    if stored and not checked:
        err.print(f"{stored} stored checkpoints not checked: no key to check them with (--jwks)")
    return not failed


@audit_app.command("seal")
def audit_seal(
    checkpoint: bool = typer.Option(False, "--checkpoint", help="Then sign the head and store the checkpoint."),
) -> None:
    """Chain the entries not sealed yet, now (the API processes do it in the background; one sealer at a time)."""
    import orjson

    from services import audit as audit_service
    from store.db import create_engine

    settings = settings_from_env()
    keys = local_signing_keys(settings) if checkpoint else None
    if checkpoint and keys is None:
        err.print(f"[red]no signing key at {signing_key_file(settings)}[/red]: run this where the API keeps its data")
        raise typer.Exit(2)

    async def run(url: str) -> audit_service.Sealing:
        engine = create_engine(url, pool_size=1, max_overflow=0, application_name="hrss-credit audit seal")
        try:
            async with engine.connect() as conn:
                return await audit_service.seal_now(
                    conn, signer=keys, issuer=settings.issuer, waiting=lambda n: err.print(f"waiting for {n} writers …")
                )
        finally:
            await engine.dispose()

    with database(settings) as url:
        done = asyncio.run(run(url))
    if done.sealed is None:
        err.print(f"another sealer is running ({done.holder or 'a session that just ended'}): it seals the chain")
    else:
        err.print(f"sealed {done.sealed} entries")
    err.print(f"head: entry {done.head.entry_id} {done.head.hash.hex()}" if done.head else "nothing sealed yet")
    if done.checkpoint is not None:
        sys.stdout.write(orjson.dumps(done.checkpoint.export_line()).decode() + "\n")


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign the head of the sealed chain with the API's signing key, store it and print it (a JSON line)."""
    import orjson

    from services import audit as audit_service
    from store import audit
    from store.db import create_engine

    settings = settings_from_env()
    keys = local_signing_keys(settings)
    if keys is None:
        err.print(f"[red]no signing key at {signing_key_file(settings)}[/red]: run this where the API keeps its data")
        raise typer.Exit(2)

    async def run(url: str) -> audit.Checkpoint | None:
        engine = create_engine(url, pool_size=1, max_overflow=0)
        try:
            async with engine.begin() as conn:
                return await audit_service.sign_checkpoint(conn, keys, issuer=settings.issuer)
        finally:
            await engine.dispose()

    with database(settings) as url:
        signed = asyncio.run(run(url))
    if signed is None:
        err.print("nothing sealed yet: no checkpoint")
        raise typer.Exit(1)
    sys.stdout.write(orjson.dumps(signed.export_line()).decode() + "\n")


@audit_app.command("checkpoints")
def audit_checkpoints(
    output: Path | None = typer.Option(None, "-o", "--output", help="Write to this file instead of stdout."),
    after_entry: int | None = typer.Option(None, "--after-entry", help="Only checkpoints of later entries."),
) -> None:
    """Export the stored checkpoints as JSON lines, for the auditor and the city platform to keep: later,
    `audit verify --checkpoints FILE` shows whether the chain still passes through them."""
    import orjson

    from services import audit as audit_service
    from store.db import create_engine

    settings = settings_from_env()
    keys = local_signing_keys(settings)
    public = keys.public_jwks() if keys is not None else None

    async def run(url: str) -> list[audit_service.ExportedCheckpoint]:
        engine = create_engine(url, pool_size=1, max_overflow=0)
        try:
            async with engine.connect() as conn:
                return await audit_service.stored_checkpoints(conn, public=public, after_entry=after_entry)
        finally:
            await engine.dispose()

    with database(settings) as url:
        exported = asyncio.run(run(url))
    lines = []
    for stored in exported:
        if stored.problem is not None:
            err.print(f"[red]a stored checkpoint does not verify:[/red] {stored.problem}")
        lines.append(orjson.dumps(stored.line).decode() + "\n")
    if output is None:
        sys.stdout.write("".join(lines))
    else:
        output.write_text("".join(lines), encoding="utf-8")
        err.print(f"{len(lines)} checkpoints written to {output}")


pii_app = typer.Typer(help="Personal information at rest.", no_args_is_help=True)
app.add_typer(pii_app, name="pii")


@pii_app.command("rotate")
def pii_rotate(batch: int = typer.Option(1000, help="Rows per transaction.")) -> None:
    """Rewrite every stored ID number under the current HRSS_PII_KEY (decrypting with HRSS_PII_PREVIOUS_KEYS);
    afterwards the previous keys can be removed from the settings."""
    from store import subjects as subject_store
    from store.db import create_engine

    settings = settings_from_env()
    cipher = settings.pii_cipher()

    async def run(url: str) -> int:
        engine = create_engine(url, pool_size=1, max_overflow=0, statement_timeout_ms=600_000)
        try:
            return await subject_store.reencrypt_id_numbers(engine, cipher, batch=batch)
        finally:
            await engine.dispose()

    with database(settings) as url:
        count = asyncio.run(run(url))
    err.print(f"rewrote {count} ID numbers under the current key")


holidays_app = typer.Typer(help="The official holiday schedule for years the packaged calendar does not know.")
app.add_typer(holidays_app, name="holidays")


@holidays_app.command("load")
def holidays_load(file: Path = typer.Argument(..., exists=True, readable=True)) -> None:
    """Load a year's schedule from CSV (day,working_day,note); replaces those years. Restart the API after."""
    from store import holidays
    from store.db import create_engine

    try:
        rows, years = holidays.read_csv(file)
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None

    async def run(url: str) -> int:
        engine = create_engine(url, pool_size=1, max_overflow=0)
        try:
            async with engine.begin() as conn:
                return await holidays.store_years(conn, rows, years, source=file.name)
        finally:
            await engine.dispose()

    settings = settings_from_env()
    with database(settings) as url:
        count = asyncio.run(run(url))
    err.print(f"loaded {count} days for {sorted(years)}; run `hrss-credit evaluate` and restart the API")


@schema_app.command("write-sdl")
def schema_write_sdl(directory: Path = typer.Option(Path("schema/sdl"), help="Where the SDL files go.")) -> None:
    """Write every audience's SDL (and the full one) for committing; a test compares them with the code."""
    from auth.policy import load_policy
    from schema.audiences import AudienceSchemas
    from schema.build import build_schema

    full = build_schema()
    schemas = AudienceSchemas(full, load_policy())
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "full.graphql").write_text(full.as_str() + "\n", encoding="utf-8")
    for name in sorted(schemas.policy.audiences):
        (directory / f"{name}.graphql").write_text(schemas.sdl(name) + "\n", encoding="utf-8")
    err.print(f"wrote {len(schemas.policy.audiences) + 1} SDL files to {directory}")


@schema_app.command("print")
def schema_print(
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the SDL to this file."),
    audience: str | None = typer.Option(None, "--audience", "-a", help="The schema one audience sees (policy)."),
) -> None:
    """Print the schema's SDL: the whole schema, or the one an audience of the policy sees."""
    from auth.policy import load_policy
    from schema.audiences import AudienceSchemas
    from schema.build import build_schema

    full = build_schema()
    if audience is None:
        sdl = full.as_str() + "\n"
    else:
        schemas = AudienceSchemas(full, load_policy())
        if audience not in schemas.policy.audiences:
            err.print(f"[red]unknown audience {audience}; the policy has {sorted(schemas.policy.audiences)}[/red]")
            raise typer.Exit(2)
        sdl = schemas.sdl(audience) + "\n"
    if output:
        output.write_text(sdl, encoding="utf-8")
    else:
        sys.stdout.write(sdl)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
