"""This node's identity and secrets, stored in its own database (node_settings table).

`whoelse node init` writes them once; every other command reads them. The local tag key and the private
keys never leave the node and are never logged.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from federation.errors import ConfigError, InvalidInput
from federation.sealing import SealingKey
from federation.signing import SigningKey
from node.disclosure import HoldingCouncil
from node.storage.tables import NodeSetting

_KEYS = ("council_code", "council_name", "records_team_contact", "tag_key", "signing_key", "sealing_key")


@dataclass(frozen=True)
class NodeSettings:
    """Who this node is, and its secrets. Production would hold the keys in an HSM or KMS."""

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


def initialise(session: Session, code: str, name: str, records_team_contact: str) -> NodeSettings:
    """Record which council this node is. Re-initialising keeps the tag key (tags stay valid)."""
    if not name.strip():
        raise InvalidInput("council name must not be empty")
    existing = {s.key: s for s in session.scalars(select(NodeSetting))}
    values = {
        "council_code": _check_code(code),
        "council_name": name.strip(),
        "records_team_contact": records_team_contact.strip(),
    }
    if "tag_key" not in existing:
        values["tag_key"] = secrets.token_hex(32)
    if "signing_key" not in existing:
        values["signing_key"] = SigningKey.generate().to_bytes().hex()
    if "sealing_key" not in existing:
        values["sealing_key"] = SealingKey.generate().to_bytes().hex()
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
    return NodeSettings(
        council=HoldingCouncil(
            values["council_code"], values["council_name"], values["records_team_contact"]
        ),
        tag_key=bytes.fromhex(values["tag_key"]),
        signing_key=SigningKey.from_bytes(bytes.fromhex(values["signing_key"])),
        sealing_key=SealingKey.from_bytes(bytes.fromhex(values["sealing_key"])),
    )
