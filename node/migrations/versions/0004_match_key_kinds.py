"""match key v2: a kind per lookup tag

Match keys changed (federation/match_keys.py MATCH_KEY_VERSION v2), so every stored tag is dropped here and
re-derived: OPRF tags by the node's tokeniser on its next start, local tags likewise (node/federation/
tokenise.py `retag_local`).

Revision ID: 0004
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM match_tags")
    with op.batch_alter_table('match_tags', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=24), nullable=False, server_default=''))


def downgrade() -> None:
    op.execute("DELETE FROM match_tags")
    with op.batch_alter_table('match_tags', schema=None) as batch_op:
        batch_op.drop_column('kind')
