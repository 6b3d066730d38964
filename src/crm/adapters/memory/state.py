"""The plain data the memory adapters hold: the bottom layer, importing no other adapter.

Repositories, readers and the unit of work sit above it and import it, never the other way
round (an import-linter contract and tests/integration/test_architecture.py check it).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from crm.domain.model.attachments import Attachment
from crm.domain.model.channels import WhatsAppChannel
from crm.domain.model.company import Company, CompanyLink
from crm.domain.model.contact import Contact
from crm.domain.model.custom_fields import CustomField
from crm.domain.model.deal import Deal, StageChange
from crm.domain.model.events import DomainEvent
from crm.domain.model.invitation import Invitation
from crm.domain.model.merging import Tombstone
from crm.domain.model.note import Note
from crm.domain.model.pipeline import Pipeline
from crm.domain.model.push import Device, NotificationSettings, TaskReminder
from crm.domain.model.tags import Tag
from crm.domain.model.task import Task
from crm.domain.model.webhook_deliveries import WebhookDelivery
from crm.domain.model.webhooks import WebhookSubscription
from crm.domain.model.workspace import ApiKey, Member, User, Workspace


@dataclass
class MemoryState:
    workspaces: dict[UUID, Workspace] = field(default_factory=dict)
    users: dict[UUID, User] = field(default_factory=dict)
    members: dict[tuple[UUID, UUID], Member] = field(default_factory=dict)
    api_keys: dict[UUID, ApiKey] = field(default_factory=dict)
    invitations: dict[UUID, Invitation] = field(default_factory=dict)
    contacts: dict[UUID, Contact] = field(default_factory=dict)
    contact_emails: dict[tuple[UUID, str], UUID] = field(default_factory=dict)
    outbox: list[DomainEvent] = field(default_factory=list)
    custom_fields: dict[UUID, CustomField] = field(default_factory=dict)
    tags: dict[UUID, Tag] = field(default_factory=dict)
    companies: dict[UUID, Company] = field(default_factory=dict)
    company_domains: dict[tuple[UUID, str], UUID] = field(default_factory=dict)
    # (workspace_id, contact_id, company_id) -> link
    company_links: dict[tuple[UUID, UUID, UUID], CompanyLink] = field(default_factory=dict)
    pipelines: dict[UUID, Pipeline] = field(default_factory=dict)
    deals: dict[UUID, Deal] = field(default_factory=dict)
    deal_history: list[StageChange] = field(default_factory=list)
    # (kind, workspace_id, deal_id, contact or company id) -> linked at
    deal_links: dict[tuple[str, UUID, UUID, UUID], datetime] = field(default_factory=dict)
    notes: dict[UUID, Note] = field(default_factory=dict)
    tasks: dict[UUID, Task] = field(default_factory=dict)
    # (workspace_id, record type, merged id) -> tombstone
    tombstones: dict[tuple[UUID, str, UUID], Tombstone] = field(default_factory=dict)
    # Events out (#14): when each outbox event was published; (handler, event id) -> handled at.
    published: dict[UUID, datetime] = field(default_factory=dict)
    processed_events: dict[tuple[str, UUID], datetime] = field(default_factory=dict)
    # Webhooks (#14): subscriptions and deliveries by id.
    webhook_subscriptions: dict[UUID, WebhookSubscription] = field(default_factory=dict)
    webhook_deliveries: dict[UUID, WebhookDelivery] = field(default_factory=dict)
    whatsapp_channels: dict[UUID, WhatsAppChannel] = field(default_factory=dict)
    # Push notifications (#14): devices by id, settings by user id, reminders by
    # (task id, due time, user id).
    devices: dict[UUID, Device] = field(default_factory=dict)
    notification_settings: dict[UUID, NotificationSettings] = field(default_factory=dict)
    task_reminders: dict[tuple[UUID, datetime, UUID], TaskReminder] = field(default_factory=dict)
    attachments: dict[UUID, Attachment] = field(default_factory=dict)


class MemoryStore:
    """Committed state; one unit of work at a time holds the lock, like a serializable DB."""

    def __init__(self) -> None:
        self.state = MemoryState()
        self.lock = asyncio.Lock()
