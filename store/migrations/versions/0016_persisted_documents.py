"""Persisted documents (automatic persisted queries) and the trusted documents of each audience.

``persisted_documents`` maps the SHA-256 of a GraphQL document to its text: a client that registered a document
once (the Apollo APQ protocol) then sends only its hash, to any API process. ``trusted_documents`` says which of
them an audience may run when the deployment allows registered operations only (HRSS_TRUSTED_DOCUMENTS).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "persisted_documents",
        sa.Column("sha256", sa.Text(collation="C"), nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_persisted_documents")),
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name=op.f("ck_persisted_documents_sha256")),
    )
    op.create_table(
        "trusted_documents",
        sa.Column("audience", sa.Text(collation="C"), nullable=False),
        sa.Column("sha256", sa.Text(collation="C"), nullable=False),
        sa.Column("operation_name", sa.Text),
        sa.Column("operation_type", sa.Text, nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("audience", "sha256", name=op.f("pk_trusted_documents")),
        sa.ForeignKeyConstraint(
            ["sha256"],
            ["persisted_documents.sha256"],
            name=op.f("fk_trusted_documents_sha256_persisted_documents"),
        ),
        sa.CheckConstraint(
            "operation_type IN ('query', 'mutation', 'subscription')", name=op.f("ck_trusted_documents_operation_type")
        ),
    )


def downgrade() -> None:
    op.drop_table("trusted_documents")
    op.drop_table("persisted_documents")
