"""A node's run-time configuration: a YAML file, overridable by WHOELSE_NODE_* environment variables.

Validated when loaded; every error names the bad key. Example (`whoelse demo` writes one per council):

    database: /var/lib/whoelse/leeds.sqlite      # or postgresql+psycopg://…
    listen_federation: 127.0.0.1:7101             # FederationNode, mutual TLS, called by the directory
    listen_practitioner: 127.0.0.1:7201           # Practitioner + CouncilNode, TLS, for practitioners
    advertise_federation: leeds:7101              # optional: the address the directory dials
    listen_records: 127.0.0.1:7301                # optional: the records API (mutual TLS) for case-management
                                                  # systems registered with `whoelse node system add`
    listen_metrics: 127.0.0.1:9101                # optional: Prometheus /metrics (an internal address)
    directory: 127.0.0.1:7000                     # the directory's address
    tls: {ca: ca.crt, cert: E08000035.crt, key: E08000035.key}
    directory_verify_key: directory.pub           # pins the directory's council-list signing key (hex file)
    state_dir: /var/lib/whoelse/leeds             # council-list cache and other local state
    alert_give_up_after_s: 86400                  # optional: how long an unanswered alert is retried
    keys: /var/lib/whoelse/leeds-keys             # optional: the key store (a folder 0700, or pkcs11:token=…
                                                  # ?module-path=…&pin-source=FILE); by default the folder
                                                  # beside a SQLite database (leeds.sqlite-keys)
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from whoelse.federation.errors import ConfigError
from whoelse.node.alerts.retry import RetryPolicy

ANSWER_FLOOR_MS = 20
"""Default: no answer to a delivered query leaves sooner than this after it arrived (docs/benchmarks.md)."""

_KEYS = {
    "database", "listen_federation", "listen_practitioner", "directory", "tls", "directory_verify_key",
    "state_dir", "search_deadline_ms", "upkeep_interval_ms", "alert_poll_ms", "advertise_federation",
    "alert_retry_first_ms", "alert_retry_max_ms", "alert_give_up_after_s", "password_cost", "listen_records",
    "answer_floor_ms", "listen_metrics", "keys",
}  # fmt: skip
_OPTIONAL = {
    "search_deadline_ms": (5000, 100, 30000),
    "upkeep_interval_ms": (2000, 200, 600000),
    "alert_poll_ms": (250, 50, 60000),
    "alert_retry_first_ms": (2000, 10, 600000),
    "alert_retry_max_ms": (600000, 10, 86400000),
    "alert_give_up_after_s": (86400, 0, 30 * 86400),
    "answer_floor_ms": (ANSWER_FLOOR_MS, 0, 1000),
}
_TLS_KEYS = {"ca", "cert", "key"}


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path


@dataclass(frozen=True)
class NodeConfig:
    database: str
    listen_federation: str
    listen_practitioner: str
    directory: str
    tls: TlsFiles
    directory_verify_key: Path
    state_dir: Path
    search_deadline_ms: int = 5000
    upkeep_interval_ms: int = 2000  # how often the node refreshes, tokenises, sends alerts, publishes heads
    alert_poll_ms: int = 250  # how often queued alerts are sent and received-entries written
    advertise_federation: str = ""  # the address the directory should dial, when not the listen address
    # An alert some council did not answer is retried after 2 s, 4 s, … (at most alert_retry_max_ms apart),
    # until alert_give_up_after_s after the change, then listed by `whoelse node alerts undelivered`.
    alert_retry_first_ms: int = 2000
    alert_retry_max_ms: int = 600000
    alert_give_up_after_s: int = 86400
    # argon2id cost of every password hash at this node: "standard", or "light" for benchmark federations.
    password_cost: str = "standard"
    listen_records: str = ""  # the records API (node/records_api), not served when empty
    # An answer leaves no sooner than this after its query arrived, holder or not, so that the directory
    # cannot tell holders by how long they take (docs/threat-model.md P3, "Timing").
    answer_floor_ms: int = ANSWER_FLOOR_MS
    listen_metrics: str = ""  # optional HOST:PORT for Prometheus /metrics: an internal address only
    keys: str = ""  # the key store (node/keystore.py); empty: the folder beside a SQLite database

    @property
    def alert_retry(self) -> RetryPolicy:
        return RetryPolicy(
            first_delay=dt.timedelta(milliseconds=self.alert_retry_first_ms),
            max_delay=dt.timedelta(milliseconds=self.alert_retry_max_ms),
            give_up_after=dt.timedelta(seconds=self.alert_give_up_after_s),
        )


def _address(value: Any, key: str) -> str:
    if not isinstance(value, str) or ":" not in value or not value.rsplit(":", 1)[1].isdigit():
        raise ConfigError(f"config key {key}: expected HOST:PORT, got {value!r}")
    return value


def _file(value: Any, key: str, base: Path) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"config key {key}: expected a file path")
    path = (base / value).resolve()
    if not path.is_file():
        raise ConfigError(f"config key {key}: no such file {path}")
    return path


def parse_config(raw: Mapping[str, Any], base: Path) -> NodeConfig:
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ConfigError(f"config key {unknown[0]}: unknown key")
    optional = {
        *_OPTIONAL,
        "advertise_federation",
        "password_cost",
        "listen_records",
        "listen_metrics",
        "keys",
    }
    missing = sorted(k for k in _KEYS - optional if raw.get(k) in (None, ""))
    if missing:
        raise ConfigError(f"config key {missing[0]}: required")
    tls = raw["tls"]
    if not isinstance(tls, Mapping):
        raise ConfigError("config key tls: expected a mapping with ca, cert and key")
    bad_tls = sorted(set(tls) ^ _TLS_KEYS)
    if bad_tls:
        raise ConfigError(f"config key tls.{bad_tls[0]}: {'unknown' if bad_tls[0] in tls else 'required'}")
    numbers: dict[str, int] = {}
    for key, (default, low, high) in _OPTIONAL.items():
        value = raw.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ConfigError(f"config key {key}: expected a whole number from {low} to {high}")
        numbers[key] = value
    password_cost = raw.get("password_cost", "standard")
    if password_cost not in ("standard", "light"):
        raise ConfigError("config key password_cost: expected standard or light")
    database = raw["database"]
    if not isinstance(database, str):
        raise ConfigError("config key database: expected a path or URL")
    if "://" not in database:
        database = str((base / database).resolve())
    keys = raw.get("keys") or ""
    if not isinstance(keys, str):
        raise ConfigError("config key keys: expected a folder path or a pkcs11: URI")
    if keys and not keys.startswith("pkcs11:"):
        keys = str((base / keys).resolve())
    return NodeConfig(
        database=database,
        listen_federation=_address(raw["listen_federation"], "listen_federation"),
        listen_practitioner=_address(raw["listen_practitioner"], "listen_practitioner"),
        directory=_address(raw["directory"], "directory"),
        tls=TlsFiles(*(_file(tls[k], f"tls.{k}", base) for k in ("ca", "cert", "key"))),
        directory_verify_key=_file(raw["directory_verify_key"], "directory_verify_key", base),
        state_dir=(base / str(raw["state_dir"])).resolve(),
        search_deadline_ms=numbers["search_deadline_ms"],
        upkeep_interval_ms=numbers["upkeep_interval_ms"],
        alert_poll_ms=numbers["alert_poll_ms"],
        alert_retry_first_ms=numbers["alert_retry_first_ms"],
        alert_retry_max_ms=numbers["alert_retry_max_ms"],
        alert_give_up_after_s=numbers["alert_give_up_after_s"],
        answer_floor_ms=numbers["answer_floor_ms"],
        password_cost=password_cost,
        listen_metrics=(
            _address(raw["listen_metrics"], "listen_metrics") if raw.get("listen_metrics") else ""
        ),
        advertise_federation=(
            _address(raw["advertise_federation"], "advertise_federation")
            if raw.get("advertise_federation")
            else ""
        ),
        listen_records=_address(raw["listen_records"], "listen_records") if raw.get("listen_records") else "",
        keys=keys,
    )


ENV_PREFIX = "WHOELSE_NODE_"


def load_config(path: Path | None, environ: Mapping[str, str] = os.environ) -> NodeConfig:
    """Read the YAML file (if given), then apply WHOELSE_NODE_<KEY> overrides (tls keys as TLS_CA etc.)."""
    raw: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"config file {path}: cannot read ({exc.strerror})") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path}: not valid YAML ({exc})") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {path}: expected a mapping of keys")
        raw = loaded
        base = path.resolve().parent
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key.startswith("tls_"):
            raw.setdefault("tls", {})[key[4:]] = value
        elif key in _OPTIONAL:
            raw[key] = int(value) if value.isdigit() else value
        else:
            raw[key] = value
    return parse_config(raw, base)
