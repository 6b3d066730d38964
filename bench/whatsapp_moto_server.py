"""moto's server for bench/whatsapp_bench.py: bench/moto_server.py's, and with `--indexed`
also without DynamoDB's whole-table work per call.

    python bench/whatsapp_moto_server.py PORT [--indexed]

moto 5.2's DynamoDB is linear in the table's size where DynamoDB is not, so the chats table's
growth makes every call slower: `TransactWriteItems` deep-copies every table it touches, once
per item of the transaction, to roll back on failure (an append of three items to a table of
20,000 copies 60,000 items); a `Query` of one partition sorts every item of the table and then
keeps those of the partition. Its threaded server also runs requests concurrently against the
same dictionaries, so a copy can fail with "dictionary changed size during iteration" (a 500).
And its response serializer walks every attribute value of every item through the botocore
shape (80 % of a 52-item query's time).

`--indexed` applies bench/moto_server.py's SQS changes and replaces exactly those spots, with
the same results: a transaction saves the items it touches (their keys read as moto reads
them) and puts them back when it fails, instead of copies of the tables; a `Query` of the
table (not of an index) walks its partition only; plain attribute values (S, N, BOOL, NULL)
go into the JSON answer as they are; DynamoDB requests run one at a time (one
lock around moto's handler, which changes nothing on one core under the GIL). Everything else
is moto's own code. For measuring only.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import logging
import threading
import time
from typing import Any

from moto_server import index_moto_sqs

_local = threading.local()


def _saved(backend: Any, entry: dict[str, Any]) -> tuple[str, dict[str, Any], Any] | None:
    """(table, key, the item's attributes before or None) of one transaction entry."""
    kind, op = next(iter(entry.items()))
    table = backend.tables.get(op.get("TableName"))
    if table is None:
        return None
    try:
        if kind == "Put":
            key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
            if table.range_key_attr is not None:
                key[table.range_key_attr] = op["Item"][table.range_key_attr]
        else:
            key = op["Key"]
        found = backend.get_item(table.name, key)
    except Exception:
        return None
    before = None if found is None else copy.deepcopy(found.to_json()["Attributes"])
    return table.name, key, before


def _transactions_with_undo(models: Any, table_class: Any) -> None:
    transact = models.DynamoDBBackend.transact_write_items
    deepcopy_table = getattr(table_class, "__deepcopy__", None)

    def table_copy(table: Any, memo: dict[int, Any]) -> Any:
        if getattr(_local, "in_transaction", False):
            return table  # rolled back below, item by item
        if deepcopy_table is not None:
            return deepcopy_table(table, memo)
        made = table_class.__new__(table_class)
        memo[id(table)] = made
        made.__dict__.update(copy.deepcopy(table.__dict__, memo))
        return made

    def transact_write_items(backend: Any, items: list[dict[str, Any]]) -> None:
        saved = [s for s in (_saved(backend, entry) for entry in items) if s is not None]
        _local.in_transaction = True
        try:
            transact(backend, items)
        except Exception:
            for name, key, before in reversed(saved):
                if before is None:
                    backend.delete_item(name, key)
                else:
                    backend.put_item(name, before)
            raise
        finally:
            _local.in_transaction = False

    table_class.__deepcopy__ = table_copy
    models.DynamoDBBackend.transact_write_items = transact_write_items


def _partition_queries(table_class: Any) -> None:
    query, all_items = table_class.query, table_class.all_items

    def partition_query(table: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name or hash_key is None:
            return query(table, hash_key, *args, **kwargs)
        _local.partition = hash_key
        try:
            return query(table, hash_key, *args, **kwargs)
        finally:
            _local.partition = None

    def items_of_partition(table: Any) -> list[Any]:
        key = getattr(_local, "partition", None)
        if key is None:
            return list(all_items(table))
        found = table.items.get(key)
        if found is None:
            return []
        return list(found.values()) if table.range_key_attr else [found]

    table_class.query = partition_query
    table_class.all_items = items_of_partition


_PLAIN = frozenset({"S", "N", "BOOL", "NULL"})


def _plain_attribute_values() -> None:
    """An attribute value moto holds as `{"S": "..."}` (or N, BOOL, NULL) is already what
    the JSON protocol sends: written as it is instead of walked member by member."""
    serialize: Any = importlib.import_module("moto.core.serialize")
    structure = serialize.BaseJSONSerializer._serialize_type_structure

    def attribute_value(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if shape.name == "AttributeValue" and isinstance(value, dict) and value.keys() <= _PLAIN:
            self._default_serialize(serialized, value, shape, key)
            return
        structure(self, serialized, value, shape, key)

    serialize.BaseJSONSerializer._serialize_type_structure = attribute_value


def index_moto_dynamodb() -> None:
    """Patch moto's DynamoDB in this process (see the module's docstring)."""
    models: Any = importlib.import_module("moto.dynamodb.models")
    tables: Any = importlib.import_module("moto.dynamodb.models.table")
    responses: Any = importlib.import_module("moto.dynamodb.responses")
    _transactions_with_undo(models, tables.Table)
    _partition_queries(tables.Table)
    _plain_attribute_values()
    lock = threading.Lock()
    call_action = responses.DynamoHandler.call_action

    def one_at_a_time(handler: Any) -> Any:
        with lock:
            return call_action(handler)

    responses.DynamoHandler.call_action = one_at_a_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("port", type=int)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--indexed", action="store_true")
    args = parser.parse_args()
    if args.indexed:
        index_moto_sqs()
        index_moto_dynamodb()
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False).start()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
