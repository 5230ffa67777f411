"""schedules: workflows and experiments started on a timetable, and every tick's outcome

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-09 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chaoshub.store.models import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("name", sa.String(length=200), nullable=False, unique=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("workflow_id", sa.String(length=32), nullable=True),
        sa.Column("experiment_id", sa.String(length=32), nullable=True),
        sa.Column("cron", sa.String(length=200), nullable=False),
        sa.Column("time_zone", sa.String(length=100), nullable=False),
        sa.Column("concurrency_policy", sa.String(length=10), nullable=False),
        sa.Column("starting_deadline_seconds", sa.Float(), nullable=False),
        sa.Column("blackouts", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("paused_reason", sa.Text(), nullable=False),
        sa.Column("anchor_at", UTCDateTime(), nullable=False),
        sa.Column("next_fire_at", UTCDateTime(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_role", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_schedules_enabled_next", "schedules", ["enabled", "next_fire_at"])
    op.create_index("ix_schedules_workflow_id", "schedules", ["workflow_id"])
    op.create_index("ix_schedules_experiment_id", "schedules", ["experiment_id"])
    op.create_table(
        "schedule_fires",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "schedule_id",
            sa.String(length=32),
            sa.ForeignKey("schedules.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("scheduled_for", UTCDateTime(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("workflow_run_id", sa.String(length=32), nullable=True),
        sa.Column("run_id", sa.String(length=32), nullable=True),
    )
    op.create_index(
        "uq_schedule_fires_tick", "schedule_fires", ["schedule_id", "scheduled_for"], unique=True
    )
    op.create_index("ix_schedule_fires_history", "schedule_fires", ["schedule_id", "id"])
    op.create_index("ix_schedule_fires_workflow_run_id", "schedule_fires", ["workflow_run_id"])
    op.create_index("ix_schedule_fires_run_id", "schedule_fires", ["run_id"])


def downgrade() -> None:
    op.drop_table("schedule_fires")
    op.drop_table("schedules")
