"""Rules engine: materialized grade timelines and restriction intervals, the holiday table.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

Grades and restrictions are recomputed in the transaction of every write that changes a subject's records;
a recomputation supersedes the rows it replaces (superseded_at) instead of deleting them, so what the system
said before stays readable. The holiday table carries the State Council's schedule for years the
chinesecalendar package does not know (DESIGN.md "Working days").
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("grades", sa.Column("rule_text", sa.Text(), nullable=True))
    op.add_column("grades", sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_grades_current", "grades", ["subject_id", "valid_from"], postgresql_where=sa.text("superseded_at IS NULL")
    )
    op.create_index(
        "ix_grades_level_current",
        "grades",
        ["level", "subject_id"],
        postgresql_where=sa.text("superseded_at IS NULL AND valid_to IS NULL"),
    )
    op.add_column("restrictions", sa.Column("legal_text", sa.Text(), nullable=True))
    op.add_column("restrictions", sa.Column("disputed", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("restrictions", sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_restrictions_current",
        "restrictions",
        ["subject_id", "sector", "since"],
        postgresql_where=sa.text("superseded_at IS NULL"),
    )
    op.create_table(
        "holidays",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("working_day", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_holidays")),
    )
    op.create_table(
        "holiday_years",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_holiday_years")),
    )


def downgrade() -> None:
    op.drop_table("holiday_years")
    op.drop_table("holidays")
    op.drop_index("ix_restrictions_current", table_name="restrictions")
    op.drop_column("restrictions", "superseded_at")
    op.drop_column("restrictions", "disputed")
    op.drop_column("restrictions", "legal_text")
    op.drop_index("ix_grades_level_current", table_name="grades")
    op.drop_index("ix_grades_current", table_name="grades")
    op.drop_column("grades", "superseded_at")
    op.drop_column("grades", "rule_text")
