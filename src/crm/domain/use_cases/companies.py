"""Company use cases: create, read, list, change and delete within the caller's workspace."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any
from uuid import UUID

from crm.domain.errors import (
    FieldError,
    InvalidQuery,
)
from crm.domain.model.changes import FieldChange
from crm.domain.model.company import Company, CompanyData, parse_fields
from crm.domain.model.company_rules import Address, normalize_domain
from crm.domain.model.custom_fields import FieldSchema, ObjectType
from crm.domain.model.events import CompanyCreated, CompanyDeleted, CompanyUpdated, DomainEvent
from crm.domain.model.merging import not_found
from crm.domain.model.note import RecordType
from crm.domain.model.permissions import Action, Principal
from crm.domain.model.snapshot import jsonable
from crm.domain.model.tags import parse_tag_filter
from crm.domain.pagination import Page, PageRequest
from crm.domain.use_cases._shared import check_owner, check_version, merged_away, new_event
from crm.ports.companies import CompanyFilter, CompanyReader
from crm.ports.merges import TombstoneReader
from crm.ports.system import Clock, IdGenerator, PhoneNumbers
from crm.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class CreateCompanyCommand:
    principal: Principal
    fields: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class UpdateCompanyCommand:
    principal: Principal
    company_id: UUID
    changes: Mapping[str, Any]
    if_match: int | None = None


@dataclass(frozen=True, slots=True)
class DeleteCompanyCommand:
    principal: Principal
    company_id: UUID
    if_match: int | None = None


class CreateCompany:
    """Create a company in the caller's workspace; its domain must be free in that workspace."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator, phones: PhoneNumbers
    ) -> None:
        self._uow, self._clock, self._ids, self._phones = uow, clock, ids, phones

    async def execute(self, cmd: CreateCompanyCommand) -> Company:
        who = cmd.principal
        who.require(Action.WRITE_COMPANIES)
        raw = dict(cmd.fields)
        data = CompanyData.parse(raw)
        now = self._clock.now()
        async with self._uow() as uow:
            values = await _custom_fields(uow, who, raw.get("custom_fields"), self._phones)
            data = replace(data, custom_fields={k: v for k, v in values.items() if v is not None})
            company = Company.create(self._ids.new_id(), who.workspace_id, data, now)
            await check_owner(uow, who, company.owner_id)
            await uow.tags.ensure(who.workspace_id, company.tags, now)
            await uow.companies.add(company)
            payload = snapshot(company)
            event = company_event(self._ids, self._clock, CompanyCreated, who, company, payload)
            await uow.outbox.add([event])
            await uow.commit()
        return company


class UpdateCompany:
    """Partially update a company; fields left out stay, null clears (not the name), custom
    fields merge by key, a stale If-Match fails, a domain another company has is a 409."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator, phones: PhoneNumbers
    ) -> None:
        self._uow, self._clock, self._ids, self._phones = uow, clock, ids, phones

    async def execute(self, cmd: UpdateCompanyCommand) -> Company:
        who = cmd.principal
        who.require(Action.WRITE_COMPANIES)
        changes = parse_fields(cmd.changes)
        async with self._uow() as uow:
            company = await load_for_change(uow, who, cmd.company_id, cmd.if_match)
            schema = FieldSchema(ObjectType.COMPANY, ())
            if company.custom_fields or "custom_fields" in changes:
                # The answer hides archived values as every read does.
                schema = await uow.custom_fields.schema(who.workspace_id, ObjectType.COMPANY)
            if "custom_fields" in changes:
                raw = cmd.changes.get("custom_fields")
                changes["custom_fields"] = dict(schema.validate(raw, self._phones.to_e164))
            version, now = company.version, self._clock.now()
            changed = company.apply(changes, now)
            if not changed:
                return replace(company, custom_fields=schema.visible(company.custom_fields))
            if "owner_id" in changed:
                await check_owner(uow, who, company.owner_id)
            if "tags" in changed:
                await uow.tags.ensure(who.workspace_id, company.tags, now)
            await uow.companies.save(company, expected_version=version)
            payload = changes_payload(changed)
            event = company_event(self._ids, self._clock, CompanyUpdated, who, company, payload)
            await uow.outbox.add([event])
            await uow.commit()
        return replace(company, custom_fields=schema.visible(company.custom_fields))


class DeleteCompany:
    """Delete a company of the caller's workspace (members: only companies they own); its
    links to contacts and its notes go with it, the contacts stay, its tasks stay about no
    record; its domain becomes free again."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids

    async def execute(self, cmd: DeleteCompanyCommand) -> None:
        who = cmd.principal
        who.require(Action.WRITE_COMPANIES)
        async with self._uow() as uow:
            company = await load_for_change(uow, who, cmd.company_id, cmd.if_match)
            who.require_delete(company.owner_id, Action.WRITE_COMPANIES)
            # Named in the event, so each contact's timeline shows the company going away.
            contact_ids = await uow.company_links.contact_ids_of(company.workspace_id, company.id)
            await uow.companies.remove(company)
            await uow.notes.remove_of_record(company.workspace_id, RecordType.COMPANY, company.id)
            await uow.tasks.detach_record(
                company.workspace_id, RecordType.COMPANY, company.id, self._clock.now()
            )
            payload = snapshot(company) | {"contact_ids": [str(c) for c in contact_ids]}
            event = company_event(self._ids, self._clock, CompanyDeleted, who, company, payload)
            await uow.outbox.add([event])
            await uow.commit()


class GetCompany:
    """Read one company of the caller's workspace; any other workspace's company is not found,
    and a company merged into another is a 404 `company_merged` naming it (`merged_into`)."""

    def __init__(self, companies: CompanyReader, tombstones: TombstoneReader) -> None:
        self._companies, self._tombstones = companies, tombstones

    async def execute(self, principal: Principal, company_id: UUID) -> Company:
        principal.require(Action.READ_COMPANIES)
        company = await self._companies.get(principal.workspace_id, company_id)
        if company is None:
            # Only a miss pays for the tombstone read: the hot path stays one statement.
            kind = RecordType.COMPANY
            into = await self._tombstones.merged_into(principal.workspace_id, kind, company_id)
            raise not_found(kind, company_id, into)
        return company


class ListCompanies:
    """List the caller's workspace companies a page at a time, by creation time (keyset);
    `domain` (in any form, normalized like stored domains) finds the one company that has it,
    `tags` (repeatable `?tag=`) keeps companies carrying every tag named."""

    def __init__(self, companies: CompanyReader) -> None:
        self._companies = companies

    async def execute(
        self,
        principal: Principal,
        page: PageRequest,
        domain: str | None = None,
        tags: Sequence[str] = (),
    ) -> Page[Company]:
        principal.require(Action.READ_COMPANIES)
        where = CompanyFilter(_domain_filter(domain), parse_tag_filter(tags))
        return await self._companies.list(principal.workspace_id, page, where)


def _domain_filter(domain: str | None) -> str | None:
    if domain is None:
        return None
    normalized = normalize_domain(domain)
    if normalized is None:
        raise InvalidQuery(
            "The domain filter is not a domain name.",
            errors=(FieldError("domain", "invalid_domain", "a domain name, e.g. acme.com"),),
        )
    return normalized


async def load_for_change(
    uow: UnitOfWork, principal: Principal, company_id: UUID, if_match: int | None
) -> Company:
    company = await uow.companies.get_for_update(principal.workspace_id, company_id)
    if company is None:
        raise await merged_away(uow, RecordType.COMPANY, principal.workspace_id, company_id)
    check_version("company", if_match, company.version)
    return company


async def _custom_fields(
    uow: UnitOfWork, who: Principal, raw: Any, phones: PhoneNumbers
) -> dict[str, Any]:
    schema = await uow.custom_fields.schema(who.workspace_id, ObjectType.COMPANY)
    return dict(schema.validate(raw, phones.to_e164))


def snapshot(company: Company) -> dict[str, Any]:
    return {f.name: _json(getattr(company, f.name)) for f in fields(company)}


def changes_payload(changes: Mapping[str, FieldChange]) -> dict[str, Any]:
    return {
        "changes": {name: {"old": _json(c.old), "new": _json(c.new)} for name, c in changes.items()}
    }


def _json(value: Any) -> Any:
    return asdict(value) if isinstance(value, Address) else jsonable(value)


def company_event(
    ids: IdGenerator,
    clock: Clock,
    kind: type[DomainEvent],
    who: Principal,
    company: Company,
    payload: dict[str, Any],
) -> DomainEvent:
    return new_event(ids, clock, kind, who, company.id, payload)
