"""The hrss-credit command and the settings it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from api.cli import app
from api.settings import Settings
from auth.keys import SigningKeys
from auth.tokens import TokenValidator

runner = CliRunner()


def test_schema_print_writes_the_sdl(tmp_path: Path) -> None:
    result = runner.invoke(app, ["schema", "print"])
    assert result.exit_code == 0, result.output
    assert "type Subject implements Node" in result.stdout
    assert "subject(ref: SubjectRef!): Subject" in result.stdout
    out = tmp_path / "schema.graphql"
    assert runner.invoke(app, ["schema", "print", "-o", str(out)]).exit_code == 0
    assert out.read_text() == result.stdout


def test_token_prints_a_valid_token_for_a_demo_client(tmp_path: Path) -> None:
    keys = SigningKeys.generate()
    env = {"HRSS_DATA_DIR": str(tmp_path), "HRSS_ENV": "dev", "HRSS_SIGNING_KEY": keys.private_jwk_json()}
    result = runner.invoke(app, ["token", "procurement"], env=env)
    assert result.exit_code == 0, result.output
    principal = TokenValidator(
        issuer="http://127.0.0.1:8000", audience="hrss-credit", jwks=keys.public_jwks()
    ).validate(result.stdout.strip())
    assert principal.client_id == "procurement"
    assert principal.scopes == {
        "subject:read",
        "grade:read",
        "restriction:government_procurement",
        "restriction:bidding",
    }
    narrowed = runner.invoke(app, ["token", "procurement", "--scope", "subject:read"], env=env)
    assert narrowed.exit_code == 0
    assert runner.invoke(app, ["token", "nobody"], env=env).exit_code == 2


def test_token_is_refused_outside_dev_mode(tmp_path: Path) -> None:
    env = {
        "HRSS_DATA_DIR": str(tmp_path),
        "HRSS_ENV": "production",
        "HRSS_DEMO_CLIENTS": "false",
        "HRSS_PII_KEY": "a-real-production-key-0123456789abcdef",
        "DATABASE_URL": "postgresql://db/hrss",
    }
    result = runner.invoke(app, ["token", "admin"], env=env)
    assert result.exit_code == 2


def test_production_refuses_demo_clients_and_demo_secrets() -> None:
    with pytest.raises(ValidationError, match="refusing to start in production") as refused:
        Settings(env="production", database_url=None)
    message = str(refused.value)
    assert "HRSS_DEMO_CLIENTS" in message and "HRSS_PII_KEY" in message and "DATABASE_URL" in message
    ok = Settings(
        env="production",
        demo_clients=False,
        pii_key="a-real-production-key-0123456789abcdef",  # type: ignore[arg-type]
        database_url="postgresql://db/hrss",
    )
    assert not ok.dev_mode


def test_port_is_honoured_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9123")
    assert Settings().port == 9123
