"""The records in a batch's item results, typed: an item that failed has none."""

from __future__ import annotations

from typing import TypeVar

from crm.domain.model.company import Company
from crm.domain.model.contact import Contact
from crm.domain.model.deal import Deal
from crm.domain.use_cases.batch import ItemResult

R = TypeVar("R", Contact, Company, Deal)


def written(result: ItemResult, kind: type[R]) -> R:
    """The record the item wrote (or matched), which must be there and of `kind`."""
    assert isinstance(result.record, kind), result
    return result.record


def contact(result: ItemResult) -> Contact:
    return written(result, Contact)


def company(result: ItemResult) -> Company:
    return written(result, Company)


def deal(result: ItemResult) -> Deal:
    return written(result, Deal)
