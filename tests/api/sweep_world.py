"""The workspace the input sweep runs in: one of every record a path or a body can name,
and the overrides that make each operation's generated body valid in it."""

from __future__ import annotations

import copy
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from crm.domain.model.chats import ChatRef, Direction, Message, MessageKind
from crm.domain.use_cases.whatsapp_inbound import media_key
from tests.support.api import Api
from tests.support.people import invitation_token, join, owner_of, sign_in
from tests.support.sweep import DAY, WHEN, Override, Schemas

EXAMPLE_HOOK_HOST = "hooks.example.com"
"""The host of the webhook URL in the documented examples; the sweep resolves it publicly."""
CUSTOM_VALUES = {"sweep_text": "hello", "sweep_when": WHEN, "sweep_day": DAY}
# A filter group on every kind of time a search compares: a built-in date-time, custom
# date-time and date fields, and a custom text field.
TIME_FILTERS = {
    "filters": [
        {"field": "created_at", "operator": "gte", "value": WHEN},
        {"field": "custom_fields.sweep_when", "operator": "lte", "value": WHEN},
        {"field": "custom_fields.sweep_day", "operator": "eq", "value": DAY},
        {"field": "custom_fields.sweep_text", "operator": "eq", "value": "hello"},
    ]
}
CREATE_BODY = {
    "batchContacts": "ContactCreate",
    "batchCompanies": "CompanyCreate",
    "batchDeals": "DealCreate",
}


def unique(prefix: str = "sweep") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class World:
    api: Api | None
    """None in a placeholder, which only plans bodies."""
    schemas: Schemas
    owner: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def running(self) -> Api:
        assert self.api is not None, "a placeholder world plans bodies, it writes nothing"
        return self.api

    @property
    def client(self) -> httpx.AsyncClient:
        return self.running.client

    async def post(self, url: str, body: Any, status: int = 201) -> dict[str, Any]:
        r = await self.client.post(url, json=body, headers=self.owner)
        assert r.status_code == status, f"{url}: {r.text}"
        return dict(r.json())

    async def build(self) -> None:
        self.owner, self.ids["workspace_id"] = await owner_of(self.client, "Sweep")
        members = await self.client.get("/v1/members", headers=self.owner)
        self.values["owner_user"] = members.json()["data"][0]["user_id"]
        pipelines = (await self.client.get("/v1/pipelines", headers=self.owner)).json()["data"]
        default = next(p for p in pipelines if p["is_default"])
        self.values["default_pipeline"] = default["id"]
        self.values["default_stages"] = [s["id"] for s in default["stages"]]
        stages = [{"name": "One"}, {"name": "Two"}]
        extra = await self.post("/v1/pipelines", {"name": "Extra", "stages": stages})
        self.ids["pipeline_id"], self.ids["stage_id"] = extra["id"], extra["stages"][0]["id"]
        await self._custom_fields()
        await self._records()
        await self._people()

    async def _custom_fields(self) -> None:
        for object_type in ("contact", "company", "deal"):
            for key, kind in (("text", "text"), ("when", "datetime"), ("day", "date")):
                body = {"object_type": object_type, "key": f"sweep_{key}", "label": key}
                await self.post("/v1/custom-fields", {**body, "field_type": kind})
        select = {"object_type": "contact", "key": "sweep_plan", "label": "Plan"}
        options = [{"value": "free"}, {"value": "enterprise"}]
        made = await self.post(
            "/v1/custom-fields", {**select, "field_type": "single_select", "options": options}
        )
        self.ids["field_id"] = made["id"]

    async def _records(self) -> None:
        contact = await self.post("/v1/contacts", {"first_name": "Sweep"})
        self.ids["contact_id"] = contact["id"]
        self.values["contact_source"] = (await self.post("/v1/contacts", {"last_name": "S"}))["id"]
        company = await self.post("/v1/companies", {"name": "Sweep Ltd"})
        self.ids["company_id"] = company["id"]
        source = await self.post("/v1/companies", {"name": "Source Ltd"})
        self.values["company_source"] = source["id"]
        self.ids["deal_id"] = (await self.post("/v1/deals", {"name": "Sweep deal"}))["id"]
        note = await self.post(f"/v1/contacts/{contact['id']}/notes", {"text": "A note"})
        self.ids["note_id"] = note["id"]
        self.ids["task_id"] = (await self.post("/v1/tasks", {"title": "A task"}))["id"]
        self.ids["tag_id"] = (await self.post("/v1/tags", {"name": unique()}))["id"]
        files = {"file": ("a.csv", b"Email\nsweep@example.com\n", "text/csv")}
        r = await self.client.post(
            "/v1/imports", data={"object_type": "contacts"}, files=files, headers=self.owner
        )
        assert r.status_code == 202, r.text
        self.ids["import_id"] = r.json()["id"]
        await self.running.container.imports.runner.wait(uuid.UUID(self.ids["import_id"]))
        hook = {"url": f"https://{EXAMPLE_HOOK_HOST}/crm", "event_types": ["*"]}
        self.ids["subscription_id"] = (await self.post("/v1/webhook-subscriptions", hook))["id"]
        ping = f"/v1/webhook-subscriptions/{self.ids['subscription_id']}/test"
        self.ids["delivery_id"] = (await self.post(ping, None, status=202))["id"]
        device = {"token": f"sweep-fcm-{unique()}", "platform": "android"}
        self.ids["device_id"] = (await self.post("/v1/devices", device))["id"]
        number = {
            "phone_number_id": str(uuid.uuid4().int % 10**15),
            "display_phone_number": "+15550783881",
            "access_token": f"EAAsweep{uuid.uuid4().hex}",
        }
        self.ids["channel_id"] = (await self.post("/v1/channels/whatsapp", number))["id"]
        ref = ChatRef(number["phone_number_id"], "+14155550123")
        at = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
        said = Message(f"wamid.{unique()}", Direction.INBOUND, MessageKind.TEXT, at, "Hi")
        chats = self.running.container.conversations.chats
        workspace_id = uuid.UUID(self.ids["workspace_id"])
        chat_id = (await chats.append(workspace_id, ref, said)).chat_id
        self.ids["chat_id"], self.ids["message_id"] = str(chat_id), said.provider_id
        blobs = self.running.container.blobs
        await blobs.put(workspace_id, media_key(chat_id, said.provider_id), b"jpeg", "image/jpeg")
        contact_id = self.ids["contact_id"]
        file = {"filename": "sweep.pdf", "content_type": "application/pdf"}
        started = await self.post(f"/v1/contacts/{contact_id}/attachments", file)
        attachment_id = started["attachment"]["id"]
        key = f"attachments/{attachment_id}"
        await blobs.put(workspace_id, key, b"%PDF-1.7", "application/pdf")
        await self.post(f"/v1/attachments/{attachment_id}/confirm", None, status=200)
        self.ids["attachment_id"] = attachment_id

    async def _people(self) -> None:
        _, self.ids["user_id"] = await join(self.client, self.owner, self.running.mailbox)
        invited = await self.post("/v1/invitations", {"email": f"{unique()}@example.com"})
        self.ids["invitation_id"] = invited["id"]
        key = await self.post("/v1/api-keys", {"name": "Key", "scopes": ["admin"]})
        self.ids["key_id"] = key["id"]
        # Someone invited, signed in as themselves, holding the emailed token.
        email = f"{unique()}@example.com"
        await self.post("/v1/invitations", {"email": email, "role": "member"})
        self.values["invitee"] = sign_in(email)
        self.values["token"] = invitation_token(self.running.mailbox.sent[-1].text)

    def headers_for(self, operation_id: str) -> dict[str, str]:
        if operation_id == "acceptInvitation":
            return dict(self.values["invitee"])
        return dict(self.owner)

    async def refresh(self, operation_id: str) -> None:
        """State an operation's body depends on that earlier operations change."""
        if operation_id == "reorderStages":
            r = await self.client.get(
                f"/v1/pipelines/{self.ids['pipeline_id']}", headers=self.owner
            )
            self.values["stage_ids"] = [s["id"] for s in reversed(r.json()["stages"])]

    def overrides(self, operation_id: str) -> dict[str, Override]:
        v = self.values
        found: dict[str, Override] = {
            "name": lambda: unique("Sweep"),
            "key": lambda: unique("sweep").replace("-", "_"),
            "email": lambda: f"{unique()}@example.com",
            "emails": lambda: [f"{unique()}@example.com"],
            "external_id": unique,
            "domain": lambda: f"{unique()}.example",
            "owner_id": lambda: v["owner_user"],
            "assignee_id": lambda: v["owner_user"],
            "pipeline_id": lambda: v["default_pipeline"],
            "stage_id": lambda: v["default_stages"][1],
            "record_type": lambda: "deal",
            "record_id": lambda: self.ids["deal_id"],
            "custom_fields": lambda: dict(CUSTOM_VALUES),
            "stage_ids": lambda: list(v.get("stage_ids", [])),
            "token": lambda: v["token"],
            "color": lambda: "#2ca02c",
        }
        if operation_id in ("mergeContacts", "mergeCompanies"):
            source = "contact_source" if operation_id == "mergeContacts" else "company_source"
            found["source_id"] = lambda: v[source]
        if operation_id in ("createWebhookSubscription", "updateWebhookSubscription"):
            found["fields"] = lambda: ["lifecycle_stage"]
            found["url"] = lambda: f"https://{EXAMPLE_HOOK_HOST}/crm"
        if operation_id == "setChatContact":
            found["contact_id"] = lambda: self.ids["contact_id"]
        if operation_id == "sendChatReply":
            found["reply_to"] = lambda: "wamid.sweep"
        if operation_id in ("connectWhatsAppChannel", "updateWhatsAppChannel"):
            found["phone_number_id"] = lambda: str(uuid.uuid4().int % 10**15)
            found["display_phone_number"] = lambda: "+15550783881"
        if operation_id in CREATE_BODY:
            create = {"$ref": f"#/components/schemas/{CREATE_BODY[operation_id]}"}
            found["items"] = lambda: [self.schemas.build(create, self.overrides("item"))]
        return found

    async def body(self, operation_id: str, schema: dict[str, Any]) -> Any:
        """A valid body for the operation, holding every field its schema declares."""
        await self.refresh(operation_id)
        return self.shape(operation_id, schema)

    def shape(self, operation_id: str, schema: dict[str, Any]) -> Any:
        body = self.schemas.build(schema, self.overrides(operation_id))
        if operation_id.startswith(("search", "export")):
            body["filter_groups"].append(copy.deepcopy(TIME_FILTERS))
        return body

    @classmethod
    def placeholder(cls, schemas: Schemas) -> World:
        """A world of made-up ids: bodies of the same shape, to plan the sweep with."""
        made = cls(None, schemas)
        made.ids = defaultdict(lambda: str(uuid.uuid4()))
        stages = [str(uuid.uuid4()), str(uuid.uuid4())]
        made.values = defaultdict(lambda: str(uuid.uuid4()), default_stages=stages)
        return made
