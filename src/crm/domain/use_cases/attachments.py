"""Attachments: files on a contact, company, deal or note of the caller's workspace.

The file never passes through the service: starting an attachment returns a form the
client POSTs the file with, straight to the blob store, whose signed policy holds the key,
the content type and the size limit; confirming checks what arrived. Attaching and deleting
need the record's write action, reading its read action (for a note, its record's). Every
lookup is scoped to the caller's workspace: another workspace's attachment is a 404, like
one that exists nowhere, and its file's key is never signed for the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from crm.domain.model.attachments import (
    AttachedTo,
    Attachment,
    AttachmentNotFound,
    AttachmentNotReady,
    UploadMismatch,
    check_upload_limit,
)
from crm.domain.model.blobs import (
    DEFAULT_MAX_UPLOAD_BYTES,
    DOWNLOAD_LINK_LIFETIME,
    UPLOAD_LINK_LIFETIME,
    UploadForm,
)
from crm.domain.model.delivery import PublishedEvent
from crm.domain.model.note import READ_ACTION, WRITE_ACTION
from crm.domain.model.permissions import Principal, Role, RoleForbids
from crm.domain.pagination import Page, PageRequest
from crm.domain.use_cases._shared import check_version
from crm.domain.use_cases.attachment_access import RecordReaders, governed, locking, missing
from crm.ports.blobs import BlobStore
from crm.ports.system import Clock, IdGenerator
from crm.ports.unit_of_work import UnitOfWorkFactory


def not_found(attachment_id: UUID) -> AttachmentNotFound:
    return AttachmentNotFound(f"No attachment {attachment_id} in this workspace.")


@dataclass(frozen=True, slots=True)
class StartAttachmentCommand:
    principal: Principal
    record_type: AttachedTo
    record_id: UUID
    filename: str
    content_type: str
    max_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class StartedAttachment:
    attachment: Attachment
    upload: UploadForm


@dataclass(frozen=True, slots=True)
class DownloadLink:
    url: str
    expires_at: datetime


class _Base:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, blobs: BlobStore, records: RecordReaders
    ) -> None:
        self._uow, self._clock, self._blobs, self._records = uow, clock, blobs, records

    async def _check(
        self, who: Principal, found: Attachment | None, attachment_id: UUID, *, write: bool
    ) -> Attachment:
        """`found` when the caller may read (or `write`) it; its record gone counts as gone."""
        if found is None:
            raise not_found(attachment_id)
        record = (found.record_type, found.record_id)
        actions = WRITE_ACTION if write else READ_ACTION
        if not await governed(who, record, actions, self._records.finder(who.workspace_id)):
            raise not_found(attachment_id)
        return found


class StartAttachment(_Base):
    """Start attaching a file to a record: answers the pending attachment and a form (valid
    15 minutes) that uploads exactly one file of this content type and size limit (15 MiB
    unless less is asked) straight to the file store; confirm it once uploaded."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
        blobs: BlobStore,
        records: RecordReaders,
        limit: int = DEFAULT_MAX_UPLOAD_BYTES,
    ) -> None:
        super().__init__(uow, clock, blobs, records)
        self._ids, self._limit = ids, limit

    async def execute(self, cmd: StartAttachmentCommand) -> StartedAttachment:
        who, record = cmd.principal, (cmd.record_type, cmd.record_id)
        attachment = Attachment.start(
            self._ids.new_id(),
            who.workspace_id,
            record,
            cmd.filename,
            cmd.content_type,
            check_upload_limit(cmd.max_bytes or self._limit, self._limit),
            who.actor_id,
            self._clock.now(),
        )
        async with self._uow() as uow:
            if not await governed(who, record, WRITE_ACTION, locking(uow, who.workspace_id)):
                raise missing(*record)
            await uow.attachments.add(attachment)
            await uow.commit()
        a = attachment
        form = await self._blobs.upload_form(
            who.workspace_id, a.key, a.content_type, a.max_bytes, UPLOAD_LINK_LIFETIME
        )
        return StartedAttachment(attachment, form)


class ConfirmAttachment(_Base):
    """Confirm an attachment's upload: the stored file must be there (409 upload_missing
    otherwise) and match what was started (409 upload_mismatch, and the file is removed);
    then the attachment is ready. Confirming a ready attachment changes nothing."""

    async def execute(self, principal: Principal, attachment_id: UUID) -> Attachment:
        ws = principal.workspace_id
        async with self._uow() as uow:
            found = await uow.attachments.get_for_update(ws, attachment_id)
            attachment = await self._check(principal, found, attachment_id, write=True)
            if attachment.ready:
                return attachment
            version = attachment.version
            try:
                attachment.confirm(await self._blobs.head(ws, attachment.key), self._clock.now())
            except UploadMismatch:
                await self._blobs.delete(ws, attachment.key)
                raise
            await uow.attachments.save(attachment, expected_version=version)
            await uow.commit()
        return attachment


class GetAttachment(_Base):
    """One attachment, pending or ready (needs read access to its record)."""

    async def execute(self, principal: Principal, attachment_id: UUID) -> Attachment:
        async with self._uow() as uow:
            found = await uow.attachments.get(principal.workspace_id, attachment_id)
        return await self._check(principal, found, attachment_id, write=False)


class ListAttachments(_Base):
    """A record's ready attachments, newest first (keyset pages)."""

    async def execute(
        self, principal: Principal, record_type: AttachedTo, record_id: UUID, page: PageRequest
    ) -> Page[Attachment]:
        ws, record = principal.workspace_id, (record_type, record_id)
        if not await governed(principal, record, READ_ACTION, self._records.finder(ws)):
            raise missing(*record)
        async with self._uow() as uow:
            return await uow.attachments.of_record(ws, record_type, record_id, page)


class DownloadAttachment(_Base):
    """A link that downloads a ready attachment's file (as an attachment of its name) for
    the next 5 minutes; ask again for a fresh one."""

    async def execute(self, principal: Principal, attachment_id: UUID) -> DownloadLink:
        ws = principal.workspace_id
        async with self._uow() as uow:
            found = await uow.attachments.get(ws, attachment_id)
        attachment = await self._check(principal, found, attachment_id, write=False)
        if not attachment.ready:
            raise AttachmentNotReady("Confirm the attachment's upload before downloading it.")
        expires_at = (self._clock.now() + DOWNLOAD_LINK_LIFETIME).replace(microsecond=0)
        url = await self._blobs.download_url(
            ws, attachment.key, DOWNLOAD_LINK_LIFETIME, attachment.filename
        )
        return DownloadLink(url, expires_at)


class DeleteAttachment(_Base):
    """Delete an attachment and its file (members: only attachments they added)."""

    async def execute(
        self, principal: Principal, attachment_id: UUID, if_match: int | None = None
    ) -> None:
        ws = principal.workspace_id
        async with self._uow() as uow:
            found = await uow.attachments.get_for_update(ws, attachment_id)
            attachment = await self._check(principal, found, attachment_id, write=True)
            if principal.role is Role.MEMBER and attachment.created_by != principal.actor_id:
                raise RoleForbids("A workspace member may delete only attachments they added.")
            check_version("attachment", if_match, attachment.version)
            # The file first: deleting it again is harmless, so a failure here or below
            # leaves a row the caller can delete again, never a file nothing points at.
            await self._blobs.delete(ws, attachment.key)
            await uow.attachments.remove(attachment)
            await uow.commit()


_DELETED = {
    "contact.deleted": AttachedTo.CONTACT,
    "company.deleted": AttachedTo.COMPANY,
    "deal.deleted": AttachedTo.DEAL,
    "note.deleted": AttachedTo.NOTE,
}
_MERGED = {"contact.merged": AttachedTo.CONTACT, "company.merged": AttachedTo.COMPANY}


class AttachmentsFollowTheirRecord:
    """A worker handler: a deleted record's attachments go with it (files first, then rows,
    a hundred at a time, so a retry finishes what a failure left); a merged-away record's
    attachments move to the survivor (their files stay where they are: keys name no record).
    At least once, and either twice changes nothing."""

    name = "attachments.follow_record"
    topics = (*_DELETED, *_MERGED)

    def __init__(self, uow: UnitOfWorkFactory, blobs: BlobStore) -> None:
        self._uow, self._blobs = uow, blobs

    async def handle(self, event: PublishedEvent) -> None:
        ws = event.workspace_id
        if event.type in _MERGED:
            try:
                source = UUID(str(event.payload["source_id"]))
            except (KeyError, ValueError):
                return
            async with self._uow() as tx:
                await tx.attachments.move(ws, _MERGED[event.type], source, event.aggregate_id)
                await tx.commit()
            return
        kind = _DELETED.get(event.type)
        if kind is None:
            return
        while True:
            async with self._uow() as tx:
                batch = await tx.attachments.any_of_record(ws, kind, event.aggregate_id, 100)
            if not batch:
                return
            for attachment in batch:
                await self._blobs.delete(ws, attachment.key)
            async with self._uow() as tx:
                for attachment in batch:
                    await tx.attachments.remove(attachment)
                await tx.commit()


@dataclass(frozen=True, slots=True)
class AttachmentUseCases:
    start: StartAttachment
    confirm: ConfirmAttachment
    get: GetAttachment
    list: ListAttachments
    download: DownloadAttachment
    delete: DeleteAttachment

    @classmethod
    def build(
        cls,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
        blobs: BlobStore,
        records: RecordReaders,
        max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    ) -> AttachmentUseCases:
        """`max_bytes`: the largest file a workspace may attach."""
        shared = (uow, clock, blobs, records)
        return cls(
            start=StartAttachment(uow, clock, ids, blobs, records, max_bytes),
            confirm=ConfirmAttachment(*shared),
            get=GetAttachment(*shared),
            list=ListAttachments(*shared),
            download=DownloadAttachment(*shared),
            delete=DeleteAttachment(*shared),
        )
