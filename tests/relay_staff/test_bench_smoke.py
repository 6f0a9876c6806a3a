"""bench/relay still runs end to end (tiny phases; the figures are not judged here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.dynamodb
def test_relay_bench_runs(tmp_path: Path, dynamodb_endpoint: str) -> None:
    out = tmp_path / "figures.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.relay.run",
            "--seconds",
            "0.5",
            "--warmup",
            "0.5",
            "--concurrency",
            "2",
            "--conversations",
            "1",
            "--json",
            str(out),
            "--dynamodb-endpoint",
            dynamodb_endpoint,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert [f["name"].split(" ")[0] for f in figures] == ["baseline:", "lead", "webhooks"]
    for figure in figures:
        assert figure["done"] > 0 and figure["failed"] == 0, figure
    assert all(f["ratio"] is not None for f in figures[1:])
    assert all(f["cpu_ratio"] is not None for f in figures[1:])
    # the relay's own count of its DynamoDB calls, per request
    assert all(sum(f["ddb_calls_per_request"].values()) >= 1 for f in figures[1:])


@pytest.mark.slow
@pytest.mark.dynamodb
def test_bootstrap_bench_runs(tmp_path: Path, dynamodb_endpoint: str) -> None:
    out = tmp_path / "bootstrap.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench.relay.bootstrap", "--leads", "30", "--messages", "300",
         "--replay-cap", "60", "--json", str(out), "--dynamodb-endpoint", dynamodb_endpoint],
        cwd=ROOT, capture_output=True, text=True, timeout=280,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    figures = json.loads(out.read_text())
    assert figures["leads"] == 30 and figures["snapshot"]["usable_s"] is not None
    assert figures["replay"]["usable_s"] is not None
