"""The built-in authorization server's login state, shared by every API process (store.login_state).

``auth_codes`` holds the employer login's authorization codes under their SHA-256 (a code is a bearer secret
until it is exchanged), with everything the exchange checks: client, redirect URI, scope, user and the PKCE
challenge. ``auth_secrets`` holds the keys every process must hold alike when the deployment gives none in
its settings: the token signing key and the login form's CSRF MAC key, each created once by the first
process that needs it.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_codes",
        sa.Column("code_hash", sa.LargeBinary, nullable=False),
        sa.Column("client_id", sa.Text(collation="C"), nullable=False),
        sa.Column("redirect_uri", sa.Text, nullable=False),
        sa.Column("redirect_uri_param", sa.Text),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("username", sa.Text(collation="C"), nullable=False),
        sa.Column("code_challenge", sa.Text, nullable=False),
        sa.Column("code_challenge_method", sa.Text, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("spent_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_auth_codes")),
        sa.CheckConstraint("octet_length(code_hash) = 32", name=op.f("ck_auth_codes_code_hash")),
    )
    op.create_index("ix_auth_codes_expires_at", "auth_codes", ["expires_at"])
    op.create_table(
        "auth_secrets",
        sa.Column("name", sa.Text(collation="C"), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_auth_secrets")),
    )


def downgrade() -> None:
    op.drop_table("auth_secrets")
    op.drop_table("auth_codes")
