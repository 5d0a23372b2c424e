"""children.date_of_birth nullable (a record may arrive before its date of birth is known), and
children.ended_on (the day a full refresh found the child absent from the council's export), and
children.archived_on (the day retention ended and the record was archived)

Revision ID: 0005
Revises: 0004
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('children', schema=None) as batch_op:
        batch_op.alter_column('date_of_birth', existing_type=sa.Date(), nullable=True)
        batch_op.add_column(sa.Column('ended_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('archived_on', sa.Date(), nullable=True))


def downgrade() -> None:
    # Records without a date of birth cannot be kept in the old schema; refuse rather than lose them.
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM children WHERE date_of_birth IS NULL")).scalar():
        raise RuntimeError("children without a date of birth exist; add their dates before downgrading")
    with op.batch_alter_table('children', schema=None) as batch_op:
        batch_op.drop_column('archived_on')
        batch_op.drop_column('ended_on')
        batch_op.alter_column('date_of_birth', existing_type=sa.Date(), nullable=False)
