"""The baseline of the relay figures: a bare FastAPI endpoint doing one PutItem.

Same stack as the relay (FastAPI, uvicorn, boto3 low-level client with the same
timeouts, a sync route served from the thread pool), nothing else: no auth, no
validation, no logging.

    W2T_DYNAMODB_ENDPOINT=http://127.0.0.1:8000 BENCH_TABLE=T \
        python -m uvicorn bench.relay.bare_app:app --port 8099
"""

from __future__ import annotations

import os
import time
from typing import Any

import boto3
from botocore.config import Config
from fastapi import FastAPI

_client: Any = boto3.session.Session().client(
    "dynamodb",
    endpoint_url=os.environ.get("W2T_DYNAMODB_ENDPOINT"),
    region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    config=Config(
        connect_timeout=5,
        read_timeout=5,
        retries={"max_attempts": 4, "mode": "standard"},
        max_pool_connections=50,
    ),
)
_TABLE = os.environ.get("BENCH_TABLE", "BENCH_Bare")

app = FastAPI()


@app.post("/put/{item_id}")
def put(item_id: str) -> dict[str, str]:
    _client.put_item(
        TableName=_TABLE,
        Item={"Id": {"S": item_id}, "At": {"N": str(time.time())}, "Body": {"S": "x" * 200}},
    )
    return {"id": item_id}


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
