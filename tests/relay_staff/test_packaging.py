"""packaging/relay: the image's dependency list, the IAM policy, the manifests."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "packaging" / "relay"


def test_image_installs_the_relay_lock_only() -> None:
    """The image's packages are requirements/relay.lock: the `relay` extra, with no
    desktop stack (tests/packaging/test_lock.py checks the lock against pyproject)."""
    lock = (ROOT / "requirements" / "relay.lock").read_text()
    pinned = {
        line.split("==", 1)[0].split("[", 1)[0].lower()
        for line in lock.splitlines()
        if line[:1].isalnum() and "==" in line
    }
    assert {"fastapi", "boto3", "twilio", "uvicorn"} <= pinned
    assert not {"pyside6-essentials", "qasync", "sqlalchemy", "keyring", "moto"} & pinned


def test_relay_runs_without_the_desktop_dependencies(tmp_path: Path) -> None:
    """What `pip install --no-deps` + relay.lock gives the container must be enough."""
    script = textwrap.dedent(
        """
        import importlib.abc, sys
        BLOCKED = ("PySide6", "shiboken6", "qasync", "sqlalchemy", "alembic", "keyring",
                   "moto", "platformdirs", "httpx_sse")
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError(f"{name} is not in the relay image")
                return None
        sys.meta_path.insert(0, Block())
        from app.relay.app import create_app
        from app.relay.config import Settings
        import app.relay.cli
        app = create_app(Settings(table_prefix="TESTPKG", dynamodb_endpoint="http://127.0.0.1:9"))
        paths = set(app.openapi()["paths"])
        assert {"/v1/me", "/v1/changes", "/v1/stream", "/healthz"} <= paths, paths
        assert app.state.ctx.metrics is not None
        print("ok")
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().endswith("ok")


def test_dockerfile_is_slim_and_non_root() -> None:
    text = (PKG / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in text
    assert "--require-hashes --no-deps -r /src/requirements/relay.lock" in text
    assert "pip install --no-deps '/src[relay]'" in text
    user_lines = [x for x in text.splitlines() if x.startswith("USER ")]
    assert user_lines and user_lines[-1].split()[1].split(":")[0] not in ("0", "root")
    assert 'ENTRYPOINT ["web2text-relay"]' in text


def test_iam_policy_matches_the_table_specs() -> None:
    sys.path.insert(0, str(PKG))
    try:
        import iam_policy  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(PKG))
    from app.relay import tables

    runtime = json.loads((PKG / "iam-policy.json").read_text())
    admin = json.loads((PKG / "iam-policy-admin.json").read_text())
    assert runtime == iam_policy.runtime_policy("PROD", "${AWS_REGION}", "${AWS_ACCOUNT_ID}")
    assert admin == iam_policy.admin_policy("PROD", "${AWS_REGION}", "${AWS_ACCOUNT_ID}")
    items = next(s for s in runtime["Statement"] if s["Sid"] == "RelayItems")
    named = {r.rsplit("/", 1)[1] for r in items["Resource"]}
    assert named == {tables.table_name("PROD", s.suffix) for s in tables.SPECS}
    actions = {a for s in runtime["Statement"] for a in s["Action"]}
    # the running relay never manages tables nor touches anything but DynamoDB
    assert not {"dynamodb:CreateTable", "dynamodb:DeleteTable", "dynamodb:UpdateTable"} & actions
    assert all(a.startswith("dynamodb:") for a in actions)
    assert all(s["Resource"] != "*" for s in runtime["Statement"])


def test_manifests_reference_the_image_settings() -> None:
    task = json.loads((PKG / "ecs-task-definition.json").read_text())
    (container,) = task["containerDefinitions"]
    assert container["portMappings"][0]["containerPort"] == 8080
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert env["W2T_TABLE_PREFIX"] == "PROD" and env["W2T_ENVIRONMENT"] == "production"
    secrets = {s["name"] for s in container["secrets"]}
    assert {"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"} <= secrets
    assert "TWILIO_AUTH_TOKEN" not in env  # never in plain text
    assert container["user"].split(":")[0] != "0" and container["readonlyRootFilesystem"]
    service = json.loads((PKG / "ecs-service.json").read_text())
    assert service["taskDefinition"] == task["family"] and service["desiredCount"] >= 2
