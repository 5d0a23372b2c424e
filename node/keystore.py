"""Where a council node keeps its secret keys: outside its database, so that a copy of the database alone can
neither sign as the council, open what is sealed to it, compute its local tags, nor generate a practitioner's
TOTP code.

The key store of a database is, in this order (`locate`):
1. the one named by `keys:` in the node config, or the WHOELSE_NODE_KEYS environment variable: a folder, or
   a PKCS#11 token as `pkcs11:token=LABEL?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=FILE`
   (node/keystore_pkcs11.py);
2. for a SQLite file, the folder beside it named after it: `leeds.sqlite` keeps its keys in
   `leeds.sqlite-keys/` (as SQLite keeps `leeds.sqlite-wal` beside it), so `--db PATH` alone finds them;
3. for any other database, none: loading the keys then fails naming both settings above.

A key folder MUST be 0700 and each key file 0600, whatever the umask; a key file or folder that group or
others can read is refused when loaded. Each file holds one key in hex:

    signing.key   Ed25519 seed: signs queries, answers and audit tree heads (federation/signing.py)
    sealing.key   X25519 private key: opens queries and answers sealed to this council (federation/sealing.py)
    tag.key       HMAC-SHA256 key of this council's local match tags (node/tags.py)
    totp.key      AES-256-GCM key of practitioners' stored TOTP secrets (node/accounts/totp_storage.py)
"""

from __future__ import annotations

import os
import secrets
import stat
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import URL

from whoelse.federation.database import PRIVATE_FILE, private_folder
from whoelse.federation.errors import ConfigError
from whoelse.federation.sealing import SealingKey
from whoelse.federation.signing import SigningKey

KEYS_ENV = "WHOELSE_NODE_KEYS"
KEY_FOLDER_SUFFIX = "-keys"
KEY_NAMES = ("signing", "sealing", "tag", "totp")
SESSION_KEY_STORE = "whoelse.key_store"
"""The entry of a node database session's `info` that holds the database's key store (node/settings.py)."""
_KEY_BYTES = 32  # every key here: an Ed25519 seed, an X25519 scalar, an HMAC key, an AES-256 key


class Aead(Protocol):
    """AES-256-GCM under the TOTP key: PyCA's AESGCM for a key file, or the token doing it (same bytes)."""

    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        """Raises cryptography.exceptions.InvalidTag when the data does not open."""
        ...


@dataclass(frozen=True)
class NodeKeys:
    """The node's secret keys, loaded from its key store. The repr never shows them."""

    signing_key: SigningKey
    sealing_key: SealingKey
    tag_key: bytes
    totp: Aead  # encrypts practitioners' TOTP secrets (node/accounts/totp_storage.py)

    def __repr__(self) -> str:
        return f"NodeKeys(verify_key={self.signing_key.verify_key_bytes.hex()[:16]}…)"


class KeyStore(ABC):
    """One node's secret keys, kept outside its database."""

    where: str  # names the store in messages: a folder path or a token label

    @abstractmethod
    def present(self) -> frozenset[str]:
        """The names (of KEY_NAMES) of the keys the store already holds."""

    @abstractmethod
    def load(self) -> NodeKeys:
        """Every key; ConfigError naming the store if one is missing, unreadable or exposed."""

    @abstractmethod
    def _put(self, name: str, value: bytes) -> None:
        """Store one new key (never replaces an existing one)."""

    @abstractmethod
    def _matches(self, name: str, value: bytes) -> bool:
        """Whether the key the store holds under `name` is `value`."""

    def ensure(self, adopt: Mapping[str, bytes] | None = None) -> NodeKeys:
        """Make the store complete: keep every key it holds, store each `adopt` key it lacks (keys moved out
        of an old database), and generate the rest. Idempotent. A key in `adopt` that differs from the one
        already held is refused: one of the two would be lost."""
        adopt = dict(adopt or {})
        unknown = set(adopt) - set(KEY_NAMES)
        if unknown:
            raise ValueError(f"unknown key names {sorted(unknown)}")
        held = self.present()
        for name in KEY_NAMES:
            if name in held:
                if name in adopt and not self._matches(name, adopt[name]):
                    raise ConfigError(
                        f"node keys: {self.where} already holds a {name} key that differs from the one in "
                        "the database; move one of them aside by hand (see docs/operations.md, key store)"
                    )
                continue
            if name in adopt:
                self._put(name, adopt[name])
            else:
                self._create(name)
        return self.load()

    def _create(self, name: str) -> None:
        """Make a new key (a token makes its own signing key inside itself)."""
        self._put(name, _generate(name))


def _generate(name: str) -> bytes:
    if name == "signing":
        return SigningKey.generate().to_bytes()
    if name == "sealing":
        return SealingKey.generate().to_bytes()
    return secrets.token_bytes(_KEY_BYTES)


def keys_from_bytes(values: Mapping[str, bytes]) -> NodeKeys:
    for name in KEY_NAMES:
        if len(values[name]) != _KEY_BYTES:
            raise ConfigError(f"node keys: the {name} key is {len(values[name])} bytes, not {_KEY_BYTES}")
    return NodeKeys(
        signing_key=SigningKey.from_bytes(values["signing"]),
        sealing_key=SealingKey.from_bytes(values["sealing"]),
        tag_key=values["tag"],
        totp=AESGCM(values["totp"]),
    )


class FileKeyStore(KeyStore):
    """Keys as hex files, 0600, in a folder, 0700."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.where = str(folder)

    def _file(self, name: str) -> Path:
        return self.folder / f"{name}.key"

    def present(self) -> frozenset[str]:
        return frozenset(name for name in KEY_NAMES if self._file(name).exists())

    def load(self) -> NodeKeys:
        return keys_from_bytes(self.raw())

    def raw(self) -> dict[str, bytes]:
        """Every key's bytes by name (to copy them, or move them into another store)."""
        if not self.folder.is_dir():
            raise ConfigError(
                f"node keys: no key folder at {self.folder}; it is made by `whoelse node init` (a database "
                "moved from elsewhere needs its key folder too: see docs/operations.md, key store)"
            )
        _refuse_exposed(self.folder, "folder")
        return {name: self._read(name) for name in KEY_NAMES}

    def _read(self, name: str) -> bytes:
        path = self._file(name)
        try:
            _refuse_exposed(path, "file")
            text = path.read_text(encoding="ascii").strip()
            return bytes.fromhex(text)
        except FileNotFoundError as exc:
            raise ConfigError(f"node keys: {path} is missing; restore it from the key backup") from exc
        except (OSError, ValueError) as exc:
            raise ConfigError(f"node keys: {path} is not readable as a hex key ({exc})") from exc

    def _matches(self, name: str, value: bytes) -> bool:
        return secrets.compare_digest(self._read(name), value)

    def _put(self, name: str, value: bytes) -> None:
        private_folder(self.folder)
        self.folder.chmod(0o700)
        path = self._file(name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        try:
            os.fchmod(fd, PRIVATE_FILE)  # os.open's mode is masked by the umask
            os.write(fd, (value.hex() + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        folder = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(folder)  # the new name is durable before anything relies on the key
        finally:
            os.close(folder)

    def copy_to(self, target: Path) -> FileKeyStore:
        """A copy of every key in a new folder `target` (a backup's, or a restored database's)."""
        if target.exists():
            raise ConfigError(f"node keys: {target} already exists; copy the keys into a new folder")
        copy = FileKeyStore(target)
        copy.ensure(self.raw())
        return copy


def _refuse_exposed(path: Path, what: str) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        wanted = "700" if what == "folder" else "600"
        raise ConfigError(
            f"node keys: key {what} {path} is readable by others (mode {mode:o}); `chmod {wanted} {path}` "
            "and consider the keys exposed (see docs/operations.md, key store)"
        )


class UnlocatedKeyStore(KeyStore):
    """The key store of a database that is not a local file, when none was named: every use says how to
    name one."""

    def __init__(self, database: str) -> None:
        self.where = f"(none named for {database})"
        self._database = database

    def _refuse(self) -> ConfigError:
        return ConfigError(
            f"node keys: database {self._database} is not a local file, so no key folder sits beside it; "
            f"name the key store with `keys:` in the node config or {KEYS_ENV} (a folder, or pkcs11:token=…)"
        )

    def present(self) -> frozenset[str]:
        raise self._refuse()

    def load(self) -> NodeKeys:
        raise self._refuse()

    def _put(self, name: str, value: bytes) -> None:
        raise self._refuse()

    def _matches(self, name: str, value: bytes) -> bool:
        raise self._refuse()


def open_key_store(spec: str) -> KeyStore:
    """The key store named by `spec`: a folder path, or a `pkcs11:` URI (RFC 7512) of a token."""
    if spec.startswith("pkcs11:"):
        from whoelse.node.keystore_pkcs11 import Pkcs11KeyStore

        return Pkcs11KeyStore.from_uri(spec)
    if not spec.strip():
        raise ConfigError(f"keys: must name a folder or a pkcs11: token, not {spec!r}")
    return FileKeyStore(Path(spec).expanduser().resolve())


def beside(database_file: Path) -> Path:
    """The key folder of a SQLite file: its name with KEY_FOLDER_SUFFIX, in the same folder."""
    return database_file.with_name(database_file.name + KEY_FOLDER_SUFFIX)


def locate(url: URL, configured: str | None = None) -> KeyStore:
    """The key store of the database at `url` (the order is in the module's docstring)."""
    spec = configured if configured is not None else os.environ.get(KEYS_ENV)
    if spec is not None:
        return open_key_store(spec)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return FileKeyStore(beside(Path(url.database)))
    return UnlocatedKeyStore(url.render_as_string(hide_password=True))
