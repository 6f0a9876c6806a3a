import uuid

import pytest
from botocore.exceptions import ClientError

from tests.support.dynamodb_local import client

pytestmark = pytest.mark.dynamodb


def test_dynamodb_local_rejects_failed_conditional_put(dynamodb_endpoint: str) -> None:
    ddb = client(dynamodb_endpoint)
    table = f"SMOKE_{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "Id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "Id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName=table, Item={"Id": {"S": "a"}, "V": {"N": "1"}})
    with pytest.raises(ClientError) as err:
        ddb.put_item(
            TableName=table,
            Item={"Id": {"S": "a"}, "V": {"N": "2"}},
            ConditionExpression="attribute_not_exists(Id)",
        )
    assert err.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    item = ddb.get_item(TableName=table, Key={"Id": {"S": "a"}})["Item"]
    assert item["V"] == {"N": "1"}
