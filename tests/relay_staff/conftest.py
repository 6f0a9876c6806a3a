"""Fixtures of the staff-API tests: DynamoDB Local tables under a unique prefix."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest


def ddb_client(endpoint: str) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


@pytest.fixture
def ddb(dynamodb_endpoint: str) -> Any:
    return ddb_client(dynamodb_endpoint)


@pytest.fixture
def make_table(ddb: Any) -> Callable[[str, dict[str, Any]], str]:
    """Create a table `TEST<random>_<suffix>` from a spec; returns its name."""
    prefix = "TEST" + uuid.uuid4().hex[:10]

    def make(suffix: str, spec: dict[str, Any]) -> str:
        name = f"{prefix}_{suffix}"
        ddb.create_table(TableName=name, **spec)
        return name

    return make
