"""Fixtures shared by every part of the suite."""

from __future__ import annotations

import os

# Qt must never look for a display in the test run unless a test asks for Xvfb.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")

from collections.abc import Iterator

import pytest

from tests.support.dynamodb_local import dynamodb_local


@pytest.fixture(scope="session")
def dynamodb_endpoint() -> Iterator[str]:
    """One DynamoDB Local for the whole run; tests isolate themselves by table prefix."""
    with dynamodb_local() as endpoint:
        yield endpoint
