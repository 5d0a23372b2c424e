"""the records team's role stored with each practitioner account (practitioners.records_team), instead of
a list of usernames given to the portal at start-up

Revision ID: 0007
Revises: 0006
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('practitioners', schema=None) as batch_op:
        batch_op.add_column(sa.Column('records_team', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('practitioners', schema=None) as batch_op:
        batch_op.drop_column('records_team')
