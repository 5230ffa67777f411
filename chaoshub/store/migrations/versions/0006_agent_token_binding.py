"""agent token binding: an agent token names the one agent it may register as

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

LIVE = sa.text("revoked_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agent_name", sa.String(length=200), nullable=True))
    # a live agent token that registered exactly one agent keeps that name; one that
    # registered several claims a name again at its next registration
    op.execute(
        """
        UPDATE api_tokens SET agent_name = (
            SELECT agents.name FROM agents WHERE agents.token_id = api_tokens.id
        )
        WHERE role = 'agent' AND revoked_at IS NULL
          AND (SELECT count(*) FROM agents WHERE agents.token_id = api_tokens.id) = 1
        """
    )
    op.create_index(
        "uq_api_tokens_agent_name_live",
        "api_tokens",
        ["agent_name"],
        unique=True,
        sqlite_where=LIVE,
        postgresql_where=LIVE,
    )


def downgrade() -> None:
    op.drop_index("uq_api_tokens_agent_name_live", table_name="api_tokens")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("agent_name")
