"""Creating the chats table: idempotent, run by an operator (`crm aws create-resources`),
never by the service while it runs."""

from __future__ import annotations

from typing import Any

from crm.adapters.dynamodb.client import (
    DynamoDbEndpoint,
    TableMissing,
    dynamodb_errors,
    open_client,
)
from crm.adapters.dynamodb.items import BY_ACTIVITY, BY_CONTACT

_KEYS = ("PK", "SK", f"{BY_ACTIVITY}PK", f"{BY_ACTIVITY}SK", f"{BY_CONTACT}PK", f"{BY_CONTACT}SK")


def _index(name: str) -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": [
            {"AttributeName": f"{name}PK", "KeyType": "HASH"},
            {"AttributeName": f"{name}SK", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }


async def create_chats_table(table: str, endpoint: DynamoDbEndpoint) -> str:
    """The table named `table` with its two indexes (on demand capacity), created when
    missing and waited for until active. Its ARN."""
    async with open_client(endpoint) as db:
        try:
            with dynamodb_errors(f"find the table {table}"):
                answer = await db.describe_table(TableName=table)
        except TableMissing:
            with dynamodb_errors(f"create the table {table}"):
                answer = await db.create_table(
                    TableName=table,
                    BillingMode="PAY_PER_REQUEST",
                    AttributeDefinitions=[
                        {"AttributeName": k, "AttributeType": "S"} for k in _KEYS
                    ],
                    KeySchema=[
                        {"AttributeName": "PK", "KeyType": "HASH"},
                        {"AttributeName": "SK", "KeyType": "RANGE"},
                    ],
                    GlobalSecondaryIndexes=[_index(BY_ACTIVITY), _index(BY_CONTACT)],
                )
                await db.get_waiter("table_exists").wait(
                    TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
                )
            return str(answer["TableDescription"]["TableArn"])
    return str(answer["Table"]["TableArn"])
