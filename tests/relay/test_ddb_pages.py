"""`all_items` follows LastEvaluatedKey through every page of a Query or Scan."""

from __future__ import annotations

import boto3
import pytest
from boto3.dynamodb.conditions import Key

from app.relay.ddb import all_items
from tests.support.dynamodb_local import create_pk_sk_table

pytestmark = pytest.mark.dynamodb


def test_all_items_reads_every_page(dynamodb_endpoint: str) -> None:
    ddb = boto3.resource(
        "dynamodb",
        endpoint_url=dynamodb_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    table = ddb.Table(create_pk_sk_table(dynamodb_endpoint, "TEST_pages_", "S"))
    with table.batch_writer() as batch:
        for i in range(7):
            batch.put_item(Item={"Pk": "P", "Sk": f"{i:02d}"})
        batch.put_item(Item={"Pk": "other", "Sk": "x"})
    # Limit=2 forces four pages for the query and several for the scan.
    queried = list(all_items(table.query, KeyConditionExpression=Key("Pk").eq("P"), Limit=2))
    assert [i["Sk"] for i in queried] == [f"{i:02d}" for i in range(7)]
    assert len(list(all_items(table.scan, Limit=3))) == 8
    assert list(all_items(table.query, KeyConditionExpression=Key("Pk").eq("none"))) == []
