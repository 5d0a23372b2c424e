"""alert delivery per council: who has not answered, when to retry, when given up

Revision ID: 0002
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('alert_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('waiting_for', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('undelivered_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_error', sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('alert_outbox', schema=None) as batch_op:
        batch_op.drop_column('last_error')
        batch_op.drop_column('undelivered_at')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('waiting_for')
