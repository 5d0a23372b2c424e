"""`whoelse ca …`: the federation's certificate authority (federation/ca.py) from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from whoelse.federation import ca
from whoelse.federation.errors import ConfigError


def cmd_ca_init(args: argparse.Namespace) -> int:
    folder = Path(args.dir)
    if (folder / "ca.key").exists():
        raise ConfigError(f"dir: {folder / 'ca.key'} already exists; refusing to replace the federation CA")
    key_pem, cert_pem = ca.init_ca(args.name, days=args.days)
    _, cert_path = ca.write_ca(folder, key_pem, cert_pem)
    print(f"federation CA created: {cert_path} (give this to every node), {folder / 'ca.key'} (keep secret)")
    return 0


def cmd_ca_issue(args: argparse.Namespace) -> int:
    folder = Path(args.dir)
    try:
        ca_key, ca_cert = (folder / "ca.key").read_bytes(), (folder / "ca.crt").read_bytes()
    except OSError as exc:
        raise ConfigError(f"dir: no federation CA in {folder}; run `whoelse ca init --dir {folder}`") from exc
    key_pem, cert_pem = ca.issue(
        ca_key,
        ca_cert,
        args.name,
        dns_names=args.dns or ["localhost"],
        ips=args.ip or ["127.0.0.1"],
        days=args.days,
    )
    key_path, cert_path = ca.write_credentials(Path(args.out or folder), args.name, key_pem, cert_pem)
    print(f"issued {cert_path} and {key_path} for {args.name} (fingerprint {ca.fingerprint(cert_pem)})")
    return 0


def register(commands: Any, benchmarks: Any) -> None:
    group = commands.add_parser("ca", help="the federation's certificate authority for mutual TLS")
    sub = group.add_subparsers(dest="ca_command", required=True, metavar="ACTION")

    p = sub.add_parser("init", help="create the federation CA (DIR/ca.key, DIR/ca.crt)")
    p.add_argument("--dir", required=True)
    p.add_argument("--name", default="WhoElse federation CA", help="the CA's common name")
    p.add_argument("--days", type=int, default=3650)
    p.set_defaults(handler=cmd_ca_init)

    p = sub.add_parser("issue", help="issue a certificate (writes NAME.key and NAME.crt)")
    p.add_argument("--dir", required=True, help="the CA's folder")
    p.add_argument(
        "--name", required=True, help="common name: a council's ONS code, 'directory' or 'auditor'"
    )
    p.add_argument("--dns", action="append", help="a DNS name the holder is reached by (repeatable)")
    p.add_argument("--ip", action="append", help="an IP address the holder is reached by (repeatable)")
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--out", help="where to write the files (default: the CA's folder)")
    p.set_defaults(handler=cmd_ca_issue)
