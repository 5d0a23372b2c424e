"""log-in throttle per username and client source

Revision ID: 0003
Revises: 0002
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_sources',
    sa.Column('source_key', sa.String(length=64), nullable=False),
    sa.Column('username_key', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('source_key', name=op.f('pk_login_sources'))
    )
    with op.batch_alter_table('login_sources', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_sources_username_key'), ['username_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('login_sources', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_sources_username_key'))
    op.drop_table('login_sources')
