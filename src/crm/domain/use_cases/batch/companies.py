"""Batch writes of companies: upsert by domain (normalized like stored domains)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from crm.domain.errors import CompanyDomainTaken, CompanyNotFound, DomainError
from crm.domain.model.changes import FieldChange
from crm.domain.model.company import Company, CompanyData, parse_fields
from crm.domain.model.custom_fields import ObjectType
from crm.domain.model.events import CompanyCreated, CompanyUpdated
from crm.domain.model.permissions import Action, Principal
from crm.domain.use_cases.batch import shapes
from crm.domain.use_cases.batch.engine import BatchEngine
from crm.domain.use_cases.batch.kind import Item, Kind
from crm.domain.use_cases.companies import changes_payload, snapshot
from crm.ports.batch import BatchStore
from crm.ports.system import Clock, IdGenerator, PhoneNumbers
from crm.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory


class CompanyKind(Kind[Company]):
    noun = "company"
    object_type = ObjectType.COMPANY
    action = Action.WRITE_COMPANIES
    shapes = shapes.COMPANY
    match_keys = ("domain",)
    unique_keys = ("domain",)
    key_attrs = {"domain": "domain"}
    created_event = CompanyCreated
    updated_event = CompanyUpdated

    def store(self, uow: UnitOfWork) -> BatchStore[Company]:
        return uow.batch.companies

    def parse_new(self, raw: Mapping[str, Any]) -> CompanyData:
        return CompanyData.parse(raw)

    def parse_changes(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        return parse_fields(raw)

    def new_record(
        self, id: UUID, who: Principal, item: Item, now: datetime, context: Any
    ) -> Company:
        return Company.create(id, who.workspace_id, item.new, now)

    def snapshot(self, record: Company) -> dict[str, Any]:
        return snapshot(record)

    def changes_payload(self, changed: Mapping[str, FieldChange]) -> dict[str, Any]:
        return changes_payload(changed)

    def not_found(self, record_id: UUID | None) -> DomainError:
        return CompanyNotFound(f"No company {record_id} in this workspace.")

    def taken(self, key: str, value: str, position: int, holder: UUID) -> DomainError:
        return CompanyDomainTaken.held_by(value, holder)


class BatchCompanies(BatchEngine[Company]):
    """Create, update or upsert up to 100 companies (any number through the use case), each
    item on its own: good items are written even when others fail, a failed item leaves
    nothing behind. Upserts match on `domain` (normalized); a match is updated like a PATCH."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator, phones: PhoneNumbers
    ) -> None:
        super().__init__(uow, clock, ids, phones)
        self.kind = CompanyKind()
