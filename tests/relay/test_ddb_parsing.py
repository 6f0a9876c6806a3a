"""`app.relay.ddb.install_plain_json_parsing` against DynamoDB Local: every data-plane
answer reads exactly as botocore's own parser reads it (values, pages, batches,
errors), and binary values still take botocore's path."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from app.relay.ddb import install_plain_json_parsing

pytestmark = pytest.mark.dynamodb


def _resource(endpoint: str, fast: bool) -> Any:
    res = boto3.session.Session().resource(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    if fast:
        install_plain_json_parsing(res.meta.client)
    return res


ITEM: dict[str, Any] = {
    "Pk": "p",
    "Sk": 1,
    "Text": 'ünïcødé "quoted" \\ {"B": 1}',
    "Int": 42,
    "Dec": Decimal("3.25"),
    "Flag": True,
    "Nothing": None,
    "Tags": {"a", "b"},
    "Nums": {1, 2},
    "Activity": [{"at": "2026-01-01T00:00:00Z", "kind": "inbound", "text": "hi"}] * 30,
    "Nested": {"Deep": {"List": [1, "two", {"x": [Decimal("0.5")]}], "Empty": {}}},
}


def test_answers_read_the_same_as_botocore_reads_them(
    dynamodb_endpoint: str, table_name: str
) -> None:
    slow = _resource(dynamodb_endpoint, False).Table(table_name)
    fast = _resource(dynamodb_endpoint, True).Table(table_name)
    fast.put_item(Item=ITEM)
    for i in range(2, 6):
        fast.put_item(Item={"Pk": "p", "Sk": i, "Text": f"row {i}"})
    key = {"Pk": "p", "Sk": 1}

    def strip(answer: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in answer.items() if k != "ResponseMetadata"}

    assert strip(fast.get_item(Key=key)) == strip(slow.get_item(Key=key)) == {"Item": ITEM}
    assert strip(fast.get_item(Key={"Pk": "p", "Sk": 99})) == {}
    page = {"KeyConditionExpression": "Pk = :p", "ExpressionAttributeValues": {":p": "p"}}
    assert strip(fast.query(Limit=2, **page)) == strip(slow.query(Limit=2, **page))
    assert "LastEvaluatedKey" in fast.query(Limit=2, **page)
    assert strip(fast.scan()) == strip(slow.scan())
    update = {
        "Key": key,
        "UpdateExpression": "ADD #n :one",
        "ExpressionAttributeNames": {"#n": "Int"},
        "ExpressionAttributeValues": {":one": 1},
        "ReturnValues": "ALL_NEW",
    }
    assert fast.update_item(**update)["Attributes"] == {**ITEM, "Int": 43}
    assert slow.update_item(**update)["Attributes"] == {**ITEM, "Int": 44}
    batch = {table_name: {"Keys": [key, {"Pk": "p", "Sk": 2}]}}
    fast_batch = fast.meta.client.batch_get_item(RequestItems=batch)
    slow_batch = slow.meta.client.batch_get_item(RequestItems=batch)
    assert sorted(map(repr, fast_batch["Responses"][table_name])) == sorted(
        map(repr, slow_batch["Responses"][table_name])
    )
    assert fast_batch["UnprocessedKeys"] == slow_batch["UnprocessedKeys"] == {}
    assert fast.get_item(Key=key)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_errors_and_binary_values_take_botocore_s_path(
    dynamodb_endpoint: str, table_name: str
) -> None:
    fast = _resource(dynamodb_endpoint, True).Table(table_name)
    fast.put_item(Item={"Pk": "bin", "Sk": 1, "Blob": b"\x00\xffraw", "Set": {b"a", b"b"}})
    item = fast.get_item(Key={"Pk": "bin", "Sk": 1})["Item"]
    assert item["Blob"].value == b"\x00\xffraw"
    assert {b.value for b in item["Set"]} == {b"a", b"b"}
    with pytest.raises(ClientError) as err:
        fast.put_item(Item={"Pk": "bin", "Sk": 1}, ConditionExpression="attribute_not_exists(Pk)")
    assert err.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    with pytest.raises(ClientError) as bad:
        fast.get_item(Key={"Nope": "x"})
    assert bad.value.response["Error"]["Code"] == "ValidationException"


def test_the_plain_json_path_is_the_one_taken(
    dynamodb_endpoint: str, table_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.relay import ddb

    taken: list[bool] = []
    real = ddb._parse_plain_json

    def spy(
        response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **kw: Any
    ) -> None:
        real(response_dict, customized_response_dict, **kw)
        taken.append(response_dict["body"] == b"{}")

    monkeypatch.setattr(ddb, "_parse_plain_json", spy)
    fast = _resource(dynamodb_endpoint, True).Table(table_name)
    fast.put_item(Item={"Pk": "spy", "Sk": 1, "Text": "x"})
    assert fast.get_item(Key={"Pk": "spy", "Sk": 1})["Item"]["Text"] == "x"
    assert taken == [True, True]  # PutItem's and GetItem's answers
