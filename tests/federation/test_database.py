"""Database URLs that name their password's file instead of holding it (Compose secrets)."""

from __future__ import annotations

from pathlib import Path

import pytest

from whoelse.federation.database import SqlDatabase
from whoelse.federation.errors import ConfigError


def test_the_password_is_read_from_the_file_the_url_names(tmp_path: Path) -> None:
    secret = tmp_path / "leeds-db-password"
    secret.write_text("s3cr:et/@pw\n", encoding="utf-8")  # a trailing newline, as editors leave one
    db = SqlDatabase(f"postgresql+psycopg://whoelse@leeds-db:5432/whoelse?password_file={secret}")
    assert db.url.password == "s3cr:et/@pw"
    assert "password_file" not in db.url.query  # not passed on to the driver
    assert "s3cr" not in db.where


@pytest.mark.parametrize(
    ("content", "message"), [(None, "cannot read"), ("\n", "is empty")], ids=["missing", "empty"]
)
def test_a_missing_or_empty_password_file_names_the_file(
    tmp_path: Path, content: str | None, message: str
) -> None:
    secret = tmp_path / "password"
    if content is not None:
        secret.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=f"database: password_file {secret}.*{message}"):
        SqlDatabase(f"postgresql://whoelse@db/whoelse?password_file={secret}")
