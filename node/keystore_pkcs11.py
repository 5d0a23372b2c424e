"""A node key store in a PKCS#11 token (an HSM in production, SoftHSM in tests), through python-pkcs11.

Named `pkcs11:token=LABEL?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/secrets/hsm-pin`
(RFC 7512; the PIN is read from its file, never given on a command line).

- The Ed25519 signing key is made in the token (or imported once, by migration 0006), sensitive and not
  extractable: it MUST NOT leave the token; every signature is made there (CKM_EDDSA, PKCS#11 v3.0 §2.3.14).
- The TOTP key is an AES-256 key made in the token (or imported once, from a key folder's backup), sensitive
  and not extractable: TOTP secrets are encrypted and decrypted there (CKM_AES_GCM), byte for byte as PyCA's
  AESGCM does with a key file, so stored secrets open under either.
- The sealing and tag keys are private data objects, readable only after logging in to the token, and held
  in memory while the node runs: federation/sealing.py and node/tags.py compute with the raw keys.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

import nacl.signing
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from whoelse.federation.errors import ConfigError, InvalidInput
from whoelse.federation.signing import SigningKey, signed_message
from whoelse.node.keystore import KEY_NAMES, KeyStore, NodeKeys, keys_from_bytes

_LABEL = "whoelse-{name}"
_ED25519_OID = "1.3.101.112"  # RFC 8410
_DATA_KEYS = tuple(name for name in KEY_NAMES if name not in ("signing", "totp"))
_PROBE = (bytes(12), b"whoelse/v1/key-check", b"")  # compares a token's TOTP key with one in a file

# One logged-in session per token in this process, shared by every store naming it: PKCS#11 logs an
# application in to a token once, and a session MUST NOT be used by two threads at a time (its lock).
_SESSIONS: dict[tuple[str, str], tuple[Any, threading.Lock]] = {}
_SESSIONS_LOCK = threading.Lock()


def _secret() -> dict[Any, bool]:
    """A key object that MUST NOT leave the token: sensitive, not extractable, used only after login."""
    a = _pkcs11().Attribute
    return {a.SENSITIVE: True, a.EXTRACTABLE: False, a.PRIVATE: True}


def _pkcs11() -> Any:
    try:
        import pkcs11
    except ImportError as exc:  # an optional dependency: pip install 'whoelse[hsm]'
        raise ConfigError(
            "keys: a pkcs11: key store needs python-pkcs11 (pip install 'whoelse[hsm]')"
        ) from exc
    return pkcs11


class TokenSigningKey(SigningKey):
    """An Ed25519 signing key that stays in a PKCS#11 token: signs there, and cannot be exported."""

    __slots__ = ("_lock", "_private", "_public")

    def __init__(self, private: Any, public: bytes, lock: threading.Lock) -> None:
        self._private = private
        self._public = public
        self._lock = lock  # one token session is shared; PKCS#11 sessions are not safe across threads

    def to_bytes(self) -> bytes:
        raise ConfigError("node keys: the signing key stays in the PKCS#11 token and cannot be exported")

    @property
    def verify_key_bytes(self) -> bytes:
        return self._public

    def sign(self, obj: Mapping[str, Any], context: str) -> bytes:
        mechanism = _pkcs11().Mechanism.EDDSA
        with self._lock:
            signature = self._private.sign(signed_message(obj, context), mechanism=mechanism)
        return bytes(signature)


class TokenAesGcm:
    """AES-256-GCM done by a PKCS#11 token with a key it will not give up (node/keystore.py `Aead`)."""

    __slots__ = ("_key", "_lock")

    def __init__(self, key: Any, lock: threading.Lock) -> None:
        self._key = key
        self._lock = lock

    def _params(self, nonce: bytes, associated_data: bytes | None) -> dict[str, Any]:
        from pkcs11.mechanisms import GCMParams

        return {
            "mechanism": _pkcs11().Mechanism.AES_GCM,
            "mechanism_param": GCMParams(nonce, associated_data, 128),
        }

    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        with self._lock:
            return bytes(self._key.encrypt(data, **self._params(nonce, associated_data)))

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        try:
            with self._lock:
                return bytes(self._key.decrypt(data, **self._params(nonce, associated_data)))
        except _pkcs11().exceptions.PKCS11Error as exc:
            raise InvalidTag() from exc


def _ec_point(public: bytes) -> bytes:
    """CKA_EC_POINT of an Ed25519 public key: the 32 bytes as a DER OCTET STRING."""
    return bytes([0x04, len(public)]) + public


def _public_of(point: bytes) -> bytes:
    if len(point) == 34 and point[:2] == b"\x04\x20":
        return point[2:]
    if len(point) == 32:  # some tokens give the raw point
        return point
    raise ConfigError(
        f"node keys: the token's signing public key is not an Ed25519 point ({len(point)} bytes)"
    )


class Pkcs11KeyStore(KeyStore):
    """The node's keys in one PKCS#11 token, found by label."""

    def __init__(self, module: Path, token_label: str, pin: str) -> None:
        self.where = f"PKCS#11 token {token_label!r} ({module})"
        self._module = module
        self._token_label = token_label
        self._pin = pin
        self._session: Any = None
        self._lock = threading.Lock()  # replaced by the shared session's lock when opened

    @classmethod
    def from_uri(cls, uri: str) -> Pkcs11KeyStore:
        """Parse `pkcs11:token=LABEL?module-path=PATH&pin-source=file:PIN_FILE` (RFC 7512)."""
        body = uri[len("pkcs11:") :]
        path_part, _, query_part = body.partition("?")
        attributes = dict(
            (unquote(k), unquote(v))
            for k, _, v in (item.partition("=") for item in path_part.split(";") if item)
        )
        query = {k: v[-1] for k, v in parse_qs(query_part, keep_blank_values=True).items()}
        token = attributes.get("token", "")
        module = query.get("module-path", "")
        pin_source = query.get("pin-source", "")
        for key, value in (("token", token), ("module-path", module), ("pin-source", pin_source)):
            if not value:
                raise ConfigError(f"keys: {uri!r} needs {key}= (pkcs11:token=…?module-path=…&pin-source=…)")
        pin_file = Path(pin_source.removeprefix("file:"))
        try:
            pin = pin_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"keys: pin-source {pin_file}: cannot read ({exc.strerror})") from exc
        if not Path(module).is_file():
            raise ConfigError(f"keys: module-path {module}: no such PKCS#11 library")
        return cls(Path(module), token, pin)

    # --- the token -------------------------------------------------------------------------------------

    def _open(self) -> Any:
        if self._session is None:
            key = (str(self._module), self._token_label)
            with _SESSIONS_LOCK:
                if key not in _SESSIONS:
                    pkcs11 = _pkcs11()
                    try:
                        token = pkcs11.lib(str(self._module)).get_token(token_label=self._token_label)
                        _SESSIONS[key] = (token.open(user_pin=self._pin, rw=True), threading.Lock())
                    except pkcs11.exceptions.PKCS11Error as exc:
                        raise ConfigError(
                            f"node keys: cannot open {self.where}: {type(exc).__name__}"
                        ) from exc
                self._session, self._lock = _SESSIONS[key]
        return self._session

    def _find(self, attrs: dict[Any, Any]) -> list[Any]:
        session = self._open()
        with self._lock:
            return list(session.get_objects(attrs))

    def _signing_objects(self) -> tuple[Any, Any] | None:
        pkcs11 = _pkcs11()
        label = _LABEL.format(name="signing")
        private = self._find(
            {pkcs11.Attribute.CLASS: pkcs11.ObjectClass.PRIVATE_KEY, pkcs11.Attribute.LABEL: label}
        )
        public = self._find(
            {pkcs11.Attribute.CLASS: pkcs11.ObjectClass.PUBLIC_KEY, pkcs11.Attribute.LABEL: label}
        )
        if not private or not public:
            return None
        return private[0], public[0]

    def _data(self, name: str) -> bytes | None:
        pkcs11 = _pkcs11()
        found = self._find(
            {
                pkcs11.Attribute.CLASS: pkcs11.ObjectClass.DATA,
                pkcs11.Attribute.LABEL: _LABEL.format(name=name),
            }
        )
        return bytes(found[0][pkcs11.Attribute.VALUE]) if found else None

    def _totp_key(self) -> Any:
        pkcs11 = _pkcs11()
        found = self._find(
            {
                pkcs11.Attribute.CLASS: pkcs11.ObjectClass.SECRET_KEY,
                pkcs11.Attribute.LABEL: _LABEL.format(name="totp"),
            }
        )
        return found[0] if found else None

    # --- KeyStore --------------------------------------------------------------------------------------

    def present(self) -> frozenset[str]:
        held = {name for name in _DATA_KEYS if self._data(name) is not None}
        if self._signing_objects() is not None:
            held.add("signing")
        if self._totp_key() is not None:
            held.add("totp")
        return frozenset(held)

    def load(self) -> NodeKeys:
        pkcs11 = _pkcs11()
        values: dict[str, bytes] = {}
        for name in _DATA_KEYS:
            value = self._data(name)
            if value is None:
                raise ConfigError(f"node keys: {self.where} holds no {name} key; run `whoelse node init`")
            values[name] = value
        signing = self._signing_objects()
        if signing is None:
            raise ConfigError(f"node keys: {self.where} holds no signing key; run `whoelse node init`")
        private, public = signing
        totp = self._totp_key()
        if totp is None:
            raise ConfigError(f"node keys: {self.where} holds no totp key; run `whoelse node init`")
        # The file store's checks on lengths, with stand-ins for the keys the token will not give up.
        keys = keys_from_bytes({**values, "signing": bytes(32), "totp": bytes(32)})
        public_bytes = _public_of(bytes(public[pkcs11.Attribute.EC_POINT]))
        return NodeKeys(
            signing_key=TokenSigningKey(private, public_bytes, self._lock),
            sealing_key=keys.sealing_key,
            tag_key=keys.tag_key,
            totp=TokenAesGcm(totp, self._lock),
        )

    def _matches(self, name: str, value: bytes) -> bool:
        if name == "signing":
            signing = self._signing_objects()
            if signing is None:
                return False
            point = bytes(signing[1][_pkcs11().Attribute.EC_POINT])
            return _public_of(point) == bytes(nacl.signing.SigningKey(value).verify_key)
        if name == "totp":
            key = self._totp_key()
            return key is not None and TokenAesGcm(key, self._lock).encrypt(*_PROBE) == AESGCM(value).encrypt(
                *_PROBE
            )
        return self._data(name) == value

    def _create(self, name: str) -> None:
        pkcs11 = _pkcs11()
        a = pkcs11.Attribute
        if name == "totp":
            session = self._open()
            with self._lock:
                session.generate_key(
                    pkcs11.KeyType.AES,
                    256,
                    store=True,
                    label=_LABEL.format(name="totp"),
                    template={**_secret(), a.ENCRYPT: True, a.DECRYPT: True},
                )
            return
        if name != "signing":
            super()._create(name)
            return
        from pkcs11.util.ec import encode_named_curve_parameters

        session = self._open()
        with self._lock:
            params = session.create_domain_parameters(
                pkcs11.KeyType.EC_EDWARDS,
                {a.EC_PARAMS: encode_named_curve_parameters(_ED25519_OID)},
                local=True,
            )
            params.generate_keypair(
                mechanism=pkcs11.Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
                store=True,
                label=_LABEL.format(name="signing"),
                private_template=_secret(),
            )

    def _put(self, name: str, value: bytes) -> None:
        pkcs11 = _pkcs11()
        a = pkcs11.Attribute
        label = _LABEL.format(name=name)
        session = self._open()
        with self._lock:
            if name == "totp":
                session.create_object(
                    {
                        **_secret(),
                        a.CLASS: pkcs11.ObjectClass.SECRET_KEY,
                        a.KEY_TYPE: pkcs11.KeyType.AES,
                        a.VALUE: value,
                        a.LABEL: label,
                        a.TOKEN: True,
                        a.ENCRYPT: True,
                        a.DECRYPT: True,
                    }
                )
                return
            if name != "signing":
                session.create_object(
                    {
                        a.CLASS: pkcs11.ObjectClass.DATA,
                        a.LABEL: label,
                        a.VALUE: value,
                        a.TOKEN: True,
                        a.PRIVATE: True,
                    }
                )
                return
            from pkcs11.util.ec import encode_named_curve_parameters

            params = encode_named_curve_parameters(_ED25519_OID)
            try:
                seed = nacl.signing.SigningKey(value)
            except Exception as exc:
                raise InvalidInput("node keys: not an Ed25519 seed") from exc
            common = {
                a.KEY_TYPE: pkcs11.KeyType.EC_EDWARDS,
                a.EC_PARAMS: params,
                a.LABEL: label,
                a.TOKEN: True,
            }
            session.create_object(
                {
                    **common,
                    a.CLASS: pkcs11.ObjectClass.PRIVATE_KEY,
                    a.VALUE: value,
                    **_secret(),
                    a.SIGN: True,
                }
            )
            session.create_object(
                {
                    **common,
                    a.CLASS: pkcs11.ObjectClass.PUBLIC_KEY,
                    a.EC_POINT: _ec_point(bytes(seed.verify_key)),
                    a.VERIFY: True,
                }
            )
