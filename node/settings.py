"""This node's identity (node_settings table of its own database) and its secret keys (its key store,
node/keystore.py, outside the database).

`whoelse node init` writes them once; every other command reads them. The database MUST NOT hold a private
key, the tag key or the TOTP key: a copy of it alone cannot sign, open, tag or log in as anyone. The keys
never leave the node and are never logged.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from whoelse.federation.errors import ConfigError, InvalidInput
from whoelse.federation.sealing import SealingKey
from whoelse.federation.signing import SigningKey
from whoelse.node.disclosure import HoldingCouncil
from whoelse.node.keystore import SESSION_KEY_STORE, KeyStore
from whoelse.node.storage.tables import NodeSetting

_KEYS = ("council_code", "council_name", "records_team_contact")
LEGACY_KEYS = {"signing_key": "signing", "sealing_key": "sealing", "tag_key": "tag"}
"""Rows of node_settings that held keys before migration 0006 moved them to the key store, by key name."""


@dataclass(frozen=True)
class NodeSettings:
    """Who this node is, and its keys from its key store."""

    council: HoldingCouncil
    tag_key: bytes
    signing_key: SigningKey  # Ed25519: signs queries, answers and audit tree heads
    sealing_key: SealingKey  # X25519: opens queries and answers sealed to this council

    def __repr__(self) -> str:  # never print secrets
        return f"NodeSettings({self.council.code}, {self.council.name!r})"


def _check_code(code: str) -> str:
    code = code.strip().upper()
    if len(code) != 9 or not code.startswith("E") or not code[1:].isdigit():
        raise InvalidInput(f"council code {code!r} is not an English ONS code like E08000035")
    return code


def key_store_of(session: Session) -> KeyStore:
    """The key store of the database this session belongs to (node/storage/database.py puts it there)."""
    store = session.info.get(SESSION_KEY_STORE)
    if not isinstance(store, KeyStore):
        raise ConfigError("node keys: this session is not from a node Database, so it has no key store")
    return store


def initialise(session: Session, code: str, name: str, records_team_contact: str) -> NodeSettings:
    """Record which council this node is, and create its keys in the key store. Re-initialising keeps every
    key (tags stay valid, the directory's registration stays right)."""
    if not name.strip():
        raise InvalidInput("council name must not be empty")
    existing = {s.key: s for s in session.scalars(select(NodeSetting))}
    store = key_store_of(session)
    if "council_code" in existing and not store.present():
        raise ConfigError(
            f"node keys: this database was initialised but its key store {store.where} holds no keys; "
            "restore the key store from its backup (new keys would make every local tag and registration "
            "wrong)"
        )
    store.ensure()
    values = {
        "council_code": _check_code(code),
        "council_name": name.strip(),
        "records_team_contact": records_team_contact.strip(),
    }
    for key, value in values.items():
        if key in existing:
            existing[key].value = value
        else:
            session.add(NodeSetting(key=key, value=value))
    session.flush()
    return load(session)


def load(session: Session) -> NodeSettings:
    values = {s.key: s.value for s in session.scalars(select(NodeSetting))}
    missing = [k for k in _KEYS if k not in values]
    if missing:
        raise ConfigError(
            f"node database is not initialised (missing {', '.join(missing)}): run `whoelse node init` first"
        )
    left = sorted(k for k in LEGACY_KEYS if k in values)
    if left:
        raise ConfigError(
            f"node database still holds keys ({', '.join(left)}): run `whoelse node migrate` to move them out"
        )
    keys = key_store_of(session).load()
    return NodeSettings(
        council=HoldingCouncil(
            values["council_code"], values["council_name"], values["records_team_contact"]
        ),
        tag_key=keys.tag_key,
        signing_key=keys.signing_key,
        sealing_key=keys.sealing_key,
    )
