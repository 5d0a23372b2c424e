"""`whoelse bench records` runs the records API end to end and reports it beside its gRPC floor."""

from __future__ import annotations

import json

import pytest

from whoelse.federation.cli import main


def test_bench_records_reports_upserts_beside_the_echo_floor(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "records", "--upserts", "20", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["benchmark"] == "records" and result["upserts"] == 20
    for prefix in ("upserts", "echo"):
        assert all(result[f"{prefix}_{stat}"] > 0 for stat in ("per_s", "p50_ms", "p95_ms"))
    assert result["upserts_p95_ms"] >= result["upserts_p50_ms"]
