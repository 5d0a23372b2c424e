"""The directory's secrets on disk: its Ed25519 signing key (it signs the council list and its routing-log
heads) and its match-token OPRF keys. Each is a file of hex digits with mode 0600 in the key directory chosen
at `whoelse directory init --dir DIR`; the database holds only public halves and the directory's path.

    DIR/directory-signing.key   Ed25519 seed (secret)
    DIR/directory.pub           Ed25519 verify key: give this file to every node at enrolment (public)
    DIR/oprf-<key_id>.key       OPRF secret scalar, one per key not yet retired (secret)
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from whoelse.federation.council_list import write_verify_key
from whoelse.federation.database import private_folder
from whoelse.federation.errors import ConfigError, NotFound
from whoelse.federation.oprf import OprfServerKey
from whoelse.federation.signing import SigningKey

SIGNING_KEY_FILE = "directory-signing.key"
VERIFY_KEY_FILE = "directory.pub"
_KEY_ID = re.compile(r"[0-9a-f]{32}")


def _write_secret(path: Path, data: bytes) -> None:
    # Created with its final mode so the secret is never readable by others, even for an instant.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(data.hex() + "\n")
    os.chmod(path, 0o600)


def _read_secret(path: Path, what: str) -> bytes:
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        raise NotFound(f"{what}: {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{what}: {path} is unreadable or not hex") from exc


class KeyDirectory:
    """Reads and writes the directory's key files under one folder."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).expanduser().resolve()

    @property
    def verify_key_path(self) -> Path:
        return self.path / VERIFY_KEY_FILE

    def create_signing_key(self) -> SigningKey:
        """Generate the directory's signing key and write the secret and the public verify key files.
        Refuses to overwrite an existing key (nodes have pinned its verify key)."""
        private_folder(self.path)
        target = self.path / SIGNING_KEY_FILE
        if target.exists():
            raise ConfigError(f"dir: {target} already exists; the directory is already initialised")
        key = SigningKey.generate()
        _write_secret(target, key.to_bytes())
        write_verify_key(self.verify_key_path, key.verify_key_bytes)
        return key

    def signing_key(self) -> SigningKey:
        return SigningKey.from_bytes(_read_secret(self.path / SIGNING_KEY_FILE, "directory signing key"))

    def _oprf_path(self, key_id: str) -> Path:
        if not _KEY_ID.fullmatch(key_id):
            raise NotFound(f"match-token key {key_id[:40]!r} is not a key id")
        return self.path / f"oprf-{key_id}.key"

    def write_oprf_key(self, key: OprfServerKey) -> None:
        private_folder(self.path)
        _write_secret(self._oprf_path(key.key_id), key.to_bytes())

    def oprf_key(self, key_id: str) -> OprfServerKey:
        key = OprfServerKey.from_bytes(_read_secret(self._oprf_path(key_id), f"match-token key {key_id}"))
        if key.key_id != key_id:
            raise ConfigError(f"match-token key file for {key_id} holds a different key ({key.key_id})")
        return key

    def delete_oprf_key(self, key_id: str) -> None:
        """Destroy a retired key's secret, so no token can ever again be computed with it."""
        self._oprf_path(key_id).unlink(missing_ok=True)
