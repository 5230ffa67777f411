"""threshold searches: the document, its trials (each a workflow run) and the result

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chaoshub.store.models import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "threshold_searches",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("phase", sa.String(length=20), nullable=False),
        sa.Column("desired_state", sa.String(length=10), nullable=False),
        sa.Column("trials", sa.JSON(), nullable=False),
        sa.Column("current_workflow_run_id", sa.String(length=32), nullable=True),
        sa.Column("current_magnitude", sa.Float(), nullable=True),
        sa.Column("current_started_at", UTCDateTime(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_role", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("worker", sa.String(length=200), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
    )
    op.create_index(
        "ix_threshold_searches_phase_created", "threshold_searches", ["phase", "created_at"]
    )


def downgrade() -> None:
    op.drop_table("threshold_searches")
