"""Node configuration: validated on load, every error names the bad key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from whoelse.federation.errors import ConfigError
from whoelse.node.config import load_config


@pytest.fixture()
def files(tmp_path: Path) -> Path:
    for name in ("ca.crt", "node.crt", "node.key", "directory.pub"):
        (tmp_path / name).write_text("x")
    return tmp_path


def write(folder: Path, **changes: Any) -> Path:
    raw: dict[str, Any] = {
        "database": "leeds.sqlite",
        "listen_federation": "127.0.0.1:7101",
        "listen_practitioner": "127.0.0.1:7201",
        "directory": "localhost:7000",
        "tls": {"ca": "ca.crt", "cert": "node.crt", "key": "node.key"},
        "directory_verify_key": "directory.pub",
        "state_dir": "state",
    }
    raw.update(changes)
    raw = {k: v for k, v in raw.items() if v is not None}
    import yaml

    path = folder / "node.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_valid_file_resolves_paths_relative_to_itself(files: Path) -> None:
    config = load_config(write(files), environ={})
    assert config.database == str(files / "leeds.sqlite")
    assert config.tls.cert == files / "node.crt"
    assert (config.search_deadline_ms, config.upkeep_interval_ms, config.advertise_federation) == (
        5000,
        2000,
        "",
    )
    assert config.alert_retry.give_up_after == dt.timedelta(hours=24)  # an alert is retried for a day


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"colour": "blue"}, "config key colour: unknown key"),
        ({"directory": None}, "config key directory: required"),
        ({"listen_federation": "7101"}, "config key listen_federation: expected HOST:PORT"),
        ({"tls": {"ca": "ca.crt", "cert": "node.crt"}}, "config key tls.key: required"),
        (
            {"tls": {"ca": "missing.crt", "cert": "node.crt", "key": "node.key"}},
            "config key tls.ca: no such file",
        ),
        (
            {"search_deadline_ms": 50},
            "config key search_deadline_ms: expected a whole number from 100 to 30000",
        ),
        ({"advertise_federation": "leeds"}, "config key advertise_federation: expected HOST:PORT"),
        (
            {"alert_give_up_after_s": -1},
            "config key alert_give_up_after_s: expected a whole number from 0 to 2592000",
        ),
    ],
)
def test_bad_value_names_the_key(files: Path, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(files, **changes), environ={})


def test_environment_overrides_the_file_and_can_stand_alone(files: Path) -> None:
    env = {
        "WHOELSE_NODE_DIRECTORY": "directory:7000",
        "WHOELSE_NODE_ADVERTISE_FEDERATION": "leeds:7101",
        "WHOELSE_NODE_UPKEEP_INTERVAL_MS": "500",
    }
    config = load_config(write(files), environ=env)
    assert (config.directory, config.advertise_federation, config.upkeep_interval_ms) == (
        "directory:7000",
        "leeds:7101",
        500,
    )
    with pytest.raises(ConfigError, match="config key database: required"):
        load_config(None, environ={"WHOELSE_NODE_DIRECTORY": "directory:7000"})


def test_unreadable_or_non_mapping_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.yaml", environ={})
    bad = tmp_path / "list.yaml"
    bad.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping of keys"):
        load_config(bad, environ={})
