"""keys out of the database: the node's signing, sealing and tag keys move from node_settings to its key
store (node/keystore.py), practitioners' TOTP secrets are encrypted under the store's TOTP key, and
practitioners.totp_secret widens to hold them (node/keystore_migration.py)

Revision ID: 0006
Revises: 0005
"""

from alembic import context, op
import sqlalchemy as sa

from whoelse.node.keystore_migration import move_keys_in, move_keys_out


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('practitioners', schema=None) as batch_op:
        batch_op.alter_column(
            'totp_secret', existing_type=sa.String(length=64), type_=sa.String(length=200), nullable=False
        )
    context.config.attributes["moved"] = move_keys_out(op.get_bind(), context.config.attributes["key_store"])


def downgrade() -> None:
    move_keys_in(op.get_bind(), context.config.attributes["key_store"])
    with op.batch_alter_table('practitioners', schema=None) as batch_op:
        batch_op.alter_column(
            'totp_secret', existing_type=sa.String(length=200), type_=sa.String(length=64), nullable=False
        )
