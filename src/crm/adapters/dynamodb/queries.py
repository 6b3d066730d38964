"""A DynamoDB query read newest first until it has enough items (a filter, or the 1 MB cap
on a response, can leave a response short)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from crm.adapters.dynamodb.items import typed

_FILTERED_READ = 100
"""Items one filtered request reads: a filter applies after DynamoDB's Limit."""


@dataclass(frozen=True, slots=True)
class Query:
    table: str
    pk_name: str
    pk: str
    index: str | None = None
    consistent: bool = False
    key_condition: str = "#pk = :pk"
    filter: str | None = None
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)

    def below(self, sk_name: str, upper: str) -> Query:
        """Only sort keys below `upper` (strictly)."""
        return self._key("#sk < :upper", sk_name, {":upper": upper})

    def between(self, sk_name: str, lower: str, upper: str) -> Query:
        """Only sort keys from `lower` to `upper`, both included."""
        return self._key(
            "#sk BETWEEN :lower AND :upper", sk_name, {":lower": lower, ":upper": upper}
        )

    def where(self, condition: str, names: dict[str, str], values: dict[str, Any]) -> Query:
        return dataclasses.replace(
            self,
            filter=condition,
            names={**self.names, **names},
            values={**self.values, **values},
        )

    def _key(self, condition: str, sk_name: str, values: dict[str, Any]) -> Query:
        return dataclasses.replace(
            self,
            key_condition=f"{self.key_condition} AND {condition}",
            names={**self.names, "#sk": sk_name},
            values={**self.values, **values},
        )

    def request(self) -> dict[str, Any]:
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": self.key_condition,
            "ExpressionAttributeNames": {"#pk": self.pk_name, **self.names},
            "ExpressionAttributeValues": typed({":pk": self.pk, **self.values}),
            "ScanIndexForward": False,
        }
        if self.index is not None:
            request["IndexName"] = self.index
        if self.consistent:
            request["ConsistentRead"] = True
        if self.filter is not None:
            request["FilterExpression"] = self.filter
        return request


async def run_query(client: Any, query: Query, want: int) -> list[dict[str, Any]]:
    """Up to `want` items (raw DynamoDB items), newest first."""
    request = query.request()
    found: list[dict[str, Any]] = []
    while len(found) < want:
        limit = want - len(found)
        if query.filter is not None:
            limit = max(limit, _FILTERED_READ)
        answer = await client.query(**request, Limit=limit)
        found += answer.get("Items", [])
        last = answer.get("LastEvaluatedKey")
        if last is None:
            break
        request["ExclusiveStartKey"] = last
    return found[:want]
