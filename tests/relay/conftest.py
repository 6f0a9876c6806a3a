"""Fixtures of the relay's own tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest

from tests.support.relay import RelayHandle, Seed, seed_dealer, start_relay


@pytest.fixture(scope="module")
def relay(dynamodb_endpoint: str) -> Iterator[RelayHandle]:
    """A relay without a Twilio simulator (lead service, auth, errors)."""
    handle = start_relay(dynamodb_endpoint, None, background=False)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def seed(relay: RelayHandle) -> Seed:
    return seed_dealer(relay)


@pytest.fixture(scope="module")
def table_name(dynamodb_endpoint: str) -> str:
    """A fresh table keyed Pk (S) / Sk (N), one per test module: the shape the
    DynamoDB transport tests (test_ddb_lean, test_ddb_parsing) read and write."""
    name = "TESTPKSK" + uuid.uuid4().hex[:8]
    boto3.client(
        "dynamodb",
        endpoint_url=dynamodb_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    ).create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "Pk", "AttributeType": "S"},
            {"AttributeName": "Sk", "AttributeType": "N"},
        ],
        KeySchema=[
            {"AttributeName": "Pk", "KeyType": "HASH"},
            {"AttributeName": "Sk", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name
