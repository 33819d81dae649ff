"""``hrss-credit receipt verify``: check a signed screening receipt and print what it says (services.receipts).

The command is what an auditor or a procurement officer runs on a receipt kept in a file: it needs no database,
only the key, the JWK Set the API publishes at ``/.well-known/jwks.json`` (``--jwks``) or, where the API keeps its
data, the public half of its signing key.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import orjson
import typer

from api.cli_support import err, local_signing_keys, settings_from_env, signing_key_file
from services import receipts
from store.db import BUREAU_TIME_ZONE

receipt_app = typer.Typer(help="Signed screening receipts (screeningReceipt).", no_args_is_help=True)


@receipt_app.command("verify")
def receipt_verify(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            help="The receipt: its compact JWS, or JSON holding it as jws (the screeningReceipt object, the response).",
        ),
    ],
    jwks: Annotated[
        Path | None,
        typer.Option(
            "--jwks",
            help="The JWK Set that checks the signature (the API's /.well-known/jwks.json); default: the public"
            " half of the signing key under HRSS_DATA_DIR.",
        ),
    ] = None,
) -> None:
    """Check a screening receipt's signature and print its content (exit status 0 when it is valid, 1 when not,
    2 when there is no key to check it with)."""
    public = _public_keys(jwks)
    try:
        receipt = receipts.open_receipt(receipts.receipt_token(file.read_text(encoding="utf-8")), public)
    except receipts.InvalidReceipt as exc:
        err.print(f"[red]receipt not valid:[/red] {exc}")
        raise typer.Exit(1) from None
    for line in readable(receipt):
        sys.stdout.write(line + "\n")


def _public_keys(jwks: Path | None) -> dict[str, Any]:
    if jwks is not None:
        try:
            found = orjson.loads(jwks.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            err.print(f"[red]cannot read the JWK Set {jwks}:[/red] {exc}")
            raise typer.Exit(2) from None
        if not isinstance(found, dict):
            err.print(f"[red]{jwks} is not a JWK Set[/red] (a JSON object with keys)")
            raise typer.Exit(2)
        return found
    settings = settings_from_env()
    keys = local_signing_keys(settings)
    if keys is None:
        err.print(f"[red]no signing key at {signing_key_file(settings)}[/red]: pass --jwks (the API's JWKS)")
        raise typer.Exit(2)
    return keys.public_jwks()


def readable(receipt: receipts.Receipt) -> Iterator[str]:
    """The receipt's content as lines for a reader: who signed it and when, the question, the rules, the verdicts."""
    local = receipt.issued_at.astimezone(ZoneInfo(BUREAU_TIME_ZONE))
    yield f"screening receipt valid: signed by key {receipt.kid} of {receipt.issuer}"
    yield f"receipt id:  {receipt.receipt_id}"
    yield f"issued at:   {local:%Y-%m-%d %H:%M:%S} {BUREAU_TIME_ZONE} ({receipt.issued_at:%Y-%m-%dT%H:%M:%SZ})"
    yield f"request id:  {receipt.request_id or '-'}"
    yield f"audience:    {receipt.audience or '-'}"
    yield f"sector:      {receipt.sector}"
    yield f"as of:       {receipt.as_of.isoformat()}"
    yield from _rules(receipt.rules)
    results = receipt.results
    counts = {
        "restricted": sum(1 for r in results if r.get("restricted")),
        "not restricted": sum(1 for r in results if r.get("found") and not r.get("restricted")),
        "not found": sum(1 for r in results if not r.get("found")),
    }
    yield f"results: {len(results)} references, " + ", ".join(f"{n} {what}" for what, n in counts.items())
    for n, result in enumerate(results, 1):
        yield from _result(n, result)


def _rules(rules: dict[str, Any]) -> Iterator[str]:
    yield "rules in force:"
    articles = rules.get("articles") or []
    for document in rules.get("documents") or []:
        until = f" to {document['effective_to']}" if document.get("effective_to") else ""
        yield f"  {document['document']} ({document.get('jurisdiction', '')}, from {document['effective_from']}{until})"
        for article in articles:
            if article.get("document") == document["document"]:
                yield f"    {article['article']}" + (f" ({article['short']})" if article.get("short") else "")
    listed = {d["document"] for d in rules.get("documents") or []}
    for article in articles:
        if article.get("document") not in listed:
            yield f"  {article['document']} {article['article']}"
    if not articles:
        yield "  none restricts this sector on that day"


def _result(n: int, result: dict[str, Any]) -> Iterator[str]:
    verdict = "restricted" if result.get("restricted") else "not restricted" if result.get("found") else "not found"
    subject = f" (subject {result['subject']})" if result.get("subject") else ""
    yield f"  {n}. {result.get('ref')}{subject}: {verdict}"
    for restriction in result.get("restrictions") or []:
        until = restriction.get("until") or "open"
        basis = restriction.get("legal_basis") or {}
        disputed = ", disputed: an objection is being handled" if restriction.get("disputed") else ""
        yield f"     {restriction.get('measure')}: {restriction.get('since')} to {until}{disputed}"
        yield f"     {basis.get('document', '')} {basis.get('article', '')}".rstrip()
        if restriction.get("exception"):
            yield f"     except: {restriction['exception']}"
