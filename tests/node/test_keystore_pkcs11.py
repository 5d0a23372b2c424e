"""The PKCS#11 key store against SoftHSM (Debian's softhsm2): the signing key is made in the token and never
leaves it, the node signs, seals and signs practitioners in as with a key folder, and migration 0006 moves an
old database's keys into the token."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.node.accounts import PASSWORD, FakeClock, light_passwords, make_service
from tests.node.test_keystore import SAM, forms
from tests.node.test_keystore_migration import OLD_KEYS, TOTP_SECRET, _old
from whoelse.federation.cli import main
from whoelse.federation.errors import ConfigError
from whoelse.federation.signing import verify
from whoelse.node.accounts.credentials import new_totp_secret, totp_code
from whoelse.node.accounts.service import AccountService
from whoelse.node.accounts.totp_storage import TotpSecrets
from whoelse.node.keystore import KEYS_ENV, FileKeyStore, beside
from whoelse.node.keystore_pkcs11 import Pkcs11KeyStore
from whoelse.node.settings import load
from whoelse.node.storage.database import Database

SOFTHSM = Path("/usr/lib/softhsm/libsofthsm2.so")


@pytest.fixture(scope="module")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A SoftHSM configuration of this module's own (it must be set before the library is first loaded)."""
    pytest.importorskip("pkcs11")
    if not SOFTHSM.is_file() or shutil.which("softhsm2-util") is None:
        pytest.skip("SoftHSM (Debian package softhsm2) is not installed")
    folder = tmp_path_factory.mktemp("softhsm")
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    yield conf
    if previous is None:
        del os.environ["SOFTHSM2_CONF"]
    else:
        os.environ["SOFTHSM2_CONF"] = previous


@pytest.fixture()
def token_uri(softhsm: Path, tmp_path: Path) -> str:
    """A new, empty token, and the pkcs11: URI that names it with its PIN in a file."""
    import pkcs11

    label = f"whoelse-{uuid.uuid4().hex[:8]}"
    pin = tmp_path / "hsm-pin"
    pin.write_text("246810\n")
    pin.chmod(0o600)
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", "246810", "--so-pin", "13579"],
        check=True,
        capture_output=True,
    )
    library = pkcs11.lib(str(SOFTHSM))
    library.reinitialize()  # SoftHSM lists tokens made after it was loaded only once re-initialised
    return f"pkcs11:token={label}?module-path={SOFTHSM}&pin-source=file:{pin}"


def test_init_on_a_token_keeps_the_signing_key_inside_it(
    token_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(KEYS_ENV, token_uri)
    path = tmp_path / "leeds.sqlite"
    assert main(["node", "init", "--db", str(path), "--council", "E08000035", "--name", "Leeds"]) == 0
    assert "keys kept in PKCS#11 token" in capsys.readouterr().out
    assert not beside(path).exists()  # no key folder: the token is the key store

    assert main(["node", "keys", "--db", str(path)]) == 0
    printed = json.loads(capsys.readouterr().out)
    db = Database.open_initialised(str(path))
    with db.session() as session:
        settings = load(session)
    assert printed["signing_key"] == settings.signing_key.verify_key_bytes.hex()
    signature = settings.signing_key.sign({"council": "E08000035"}, "whoelse/v1/test")
    verify(settings.signing_key.verify_key_bytes, {"council": "E08000035"}, "whoelse/v1/test", signature)
    with pytest.raises(ConfigError, match="stays in the PKCS#11 token"):
        settings.signing_key.to_bytes()

    import pkcs11

    store = Pkcs11KeyStore.from_uri(token_uri)
    [private] = store._find(
        {pkcs11.Attribute.CLASS: pkcs11.ObjectClass.PRIVATE_KEY, pkcs11.Attribute.LABEL: "whoelse-signing"}
    )
    assert private[pkcs11.Attribute.SENSITIVE] and not private[pkcs11.Attribute.EXTRACTABLE]

    # Practitioners sign in with the TOTP key from the token; the database holds none of the keys.
    assert main(["node", "practitioner", "add", "--db", str(path), *SAM]) == 0
    shown = json.loads(capsys.readouterr().out)
    accounts = AccountService(db, passwords=light_passwords())
    code = totp_code(shown["totp_secret"], accounts.now())
    assert accounts.login("sam.patel", shown["password"], code).username == "sam.patel"
    keys = db.key_store.load()
    content = b"".join(p.read_bytes() for p in tmp_path.glob("leeds.sqlite*"))
    for key in (keys.sealing_key.to_bytes(), keys.tag_key):
        assert not any(form in content for form in forms(key))
    [totp_key] = store._find(
        {pkcs11.Attribute.CLASS: pkcs11.ObjectClass.SECRET_KEY, pkcs11.Attribute.LABEL: "whoelse-totp"}
    )  # TOTP secrets are encrypted and opened in the token, under a key it will not give up
    assert totp_key[pkcs11.Attribute.SENSITIVE] and not totp_key[pkcs11.Attribute.EXTRACTABLE]
    db.dispose()


def test_migration_moves_an_old_databases_keys_into_the_token(token_uri: str, tmp_path: Path) -> None:
    old = _old(Database(str(tmp_path / "leeds.sqlite"), keys=token_uri))
    db = next(old)
    db.migrate()
    with db.session() as session:
        settings = load(session)
    old_signing = Database(str(tmp_path / "other.sqlite")).key_store  # a key folder, for comparison
    old_signing.ensure({**OLD_KEYS})
    assert settings.signing_key.verify_key_bytes == old_signing.load().signing_key.verify_key_bytes
    assert settings.tag_key == OLD_KEYS["tag"] and settings.sealing_key.to_bytes() == OLD_KEYS["sealing"]
    clock = FakeClock()
    assert make_service(db, clock).login("sam.patel", PASSWORD, totp_code(TOTP_SECRET, clock())).username
    with pytest.raises(StopIteration):
        next(old)


def test_a_bad_uri_names_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs pin-source="):
        Pkcs11KeyStore.from_uri(f"pkcs11:token=x?module-path={SOFTHSM}")
    with pytest.raises(ConfigError, match=r"pin-source .*: cannot read"):
        Pkcs11KeyStore.from_uri(f"pkcs11:token=x?module-path={SOFTHSM}&pin-source=file:{tmp_path}/nope")


def test_a_key_folder_moved_into_a_token_opens_the_same_totp_secrets(token_uri: str, tmp_path: Path) -> None:
    folder = FileKeyStore(tmp_path / "keys")
    folder.ensure()
    secret = new_totp_secret()
    stored = TotpSecrets(folder.load().totp).seal("sam.patel", secret)
    token = Pkcs11KeyStore.from_uri(token_uri)
    token.ensure(folder.raw())  # as a restore into a token does
    token.ensure(folder.raw())  # again: the token's keys are compared with the folder's, and kept
    assert TotpSecrets(token.load().totp).open("sam.patel", stored) == secret
    assert token.load().signing_key.verify_key_bytes == folder.load().signing_key.verify_key_bytes
    with pytest.raises(ConfigError, match="already holds a totp key that differs"):
        token.ensure({**folder.raw(), "totp": bytes(32)})
