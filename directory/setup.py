"""Setting a directory up: `whoelse directory init` makes its signing key and first match-token key, and
records where the key files live so later commands (serve, rotate) find them from the database alone."""

from __future__ import annotations

from pathlib import Path

from whoelse.directory.keys import KeyDirectory
from whoelse.directory.storage import DirectoryDatabase, bump_council_list_version, get_setting, set_setting
from whoelse.directory.token_service import OprfKeyInfo, rotate
from whoelse.federation.errors import ConfigError
from whoelse.federation.signing import SigningKey

KEY_DIR_SETTING = "key_dir"


def initialise(db: DirectoryDatabase, key_dir: Path | str) -> tuple[SigningKey, OprfKeyInfo]:
    """Create the directory's Ed25519 signing key (DIR/directory-signing.key, its public half in
    DIR/directory.pub) and its first OPRF key (DIR/oprf-<id>.key), all secrets mode 0600."""
    keys = KeyDirectory(key_dir)
    with db.session() as session:
        if get_setting(session, KEY_DIR_SETTING) is not None:
            raise ConfigError("db: this directory database is already initialised")
    signing_key = keys.create_signing_key()
    first = rotate(db, keys)
    with db.session() as session:
        set_setting(session, KEY_DIR_SETTING, str(keys.path))
        bump_council_list_version(session)
    return signing_key, first


def key_directory(db: DirectoryDatabase, override: Path | str | None = None) -> KeyDirectory:
    """The key directory given on the command line, else the one recorded by `init`."""
    if override:
        return KeyDirectory(override)
    with db.session() as session:
        recorded = get_setting(session, KEY_DIR_SETTING)
    if recorded is None:
        raise ConfigError("db: the directory is not initialised; run `whoelse directory init --db … --dir …`")
    return KeyDirectory(recorded)
