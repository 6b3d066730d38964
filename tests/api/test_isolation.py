"""Isolation, proven on the route table itself.

Every route of the application that takes an object id is called with the id of an object of
workspace A by three callers of workspace B: its owner, a plain member, and its admin API key.
Each answer must be exactly the answer for an id that exists nowhere (same status, same
problem code, same body once the id is swapped): a 404, or a 403 that depends on who calls,
never on what exists in A. Nothing of A may appear in any answer, A's objects must read back
unchanged afterwards, and no email may go out on A's behalf.

A new route with a path parameter this file has no factory for, or with a body it has no
example for, makes the test fail: covering it is part of adding it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from crm.domain.model.chats import ChatRef, Direction, Message, MessageKind
from crm.domain.use_cases.whatsapp_inbound import media_key
from crm.entrypoints.api import local_files
from tests.support.api import Api
from tests.support.people import in_workspace, join, owner_of


@dataclass(frozen=True)
class Made:
    """An object created in workspace A: its id, what would betray it (the id first: it may
    be echoed back to the caller who sent it, the rest never), and where A reads it."""

    id: str
    secrets: tuple[str, ...]
    read: str


NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class WorkspaceA:
    owner: dict[str, str]
    id: str
    name: str


Factory = Callable[[Api, WorkspaceA], Awaitable[Made]]


async def _contact(api: Api, a: WorkspaceA) -> Made:
    email = f"ada-{uuid.uuid4().hex[:8]}@alpha.example"
    r = await api.client.post(
        "/v1/contacts",
        json={"first_name": "Adalind", "emails": [email]},
        headers=a.owner,
    )
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    return Made(cid, (cid, email, "Adalind"), f"/v1/contacts/{cid}")


async def _workspace(api: Api, a: WorkspaceA) -> Made:
    return Made(a.id, (a.id, a.name), f"/v1/workspaces/{a.id}")


async def _member(api: Api, a: WorkspaceA) -> Made:
    email = f"member-{uuid.uuid4().hex[:8]}@alpha.example"
    _, user_id = await join(api.client, a.owner, api.mailbox, role="admin", email=email)
    return Made(user_id, (user_id, email), f"/v1/members/{user_id}")


async def _invitation(api: Api, a: WorkspaceA) -> Made:
    email = f"invitee-{uuid.uuid4().hex[:8]}@alpha.example"
    r = await api.client.post(
        "/v1/invitations", json={"email": email, "role": "member"}, headers=a.owner
    )
    assert r.status_code == 201, r.text
    iid = r.json()["id"]
    return Made(iid, (iid, email), f"/v1/invitations/{iid}")


async def _api_key(api: Api, a: WorkspaceA) -> Made:
    name = f"alpha-sync-{uuid.uuid4().hex[:6]}"
    r = await api.client.post(
        "/v1/api-keys", json={"name": name, "scopes": ["contacts:read"]}, headers=a.owner
    )
    assert r.status_code == 201, r.text
    body = r.json()
    return Made(body["id"], (body["id"], name, body["prefix"]), f"/v1/api-keys/{body['id']}")


async def _company(api: Api, a: WorkspaceA) -> Made:
    name = f"Alpha Works {uuid.uuid4().hex[:8]}"
    domain = f"alpha-{uuid.uuid4().hex[:8]}.example"
    r = await api.client.post(
        "/v1/companies", json={"name": name, "domain": domain}, headers=a.owner
    )
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    return Made(cid, (cid, name, domain), f"/v1/companies/{cid}")


async def _pipeline(api: Api, a: WorkspaceA) -> Made:
    name, stage = f"Alpha Funnel {uuid.uuid4().hex[:8]}", f"Alpha Step {uuid.uuid4().hex[:8]}"
    r = await api.client.post(
        "/v1/pipelines", json={"name": name, "stages": [{"name": stage}]}, headers=a.owner
    )
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    return Made(pid, (pid, name, stage), f"/v1/pipelines/{pid}")


async def _stage(api: Api, a: WorkspaceA) -> Made:
    made = await _pipeline(api, a)
    r = await api.client.get(made.read, headers=a.owner)
    sid = r.json()["stages"][0]["id"]
    return Made(sid, (sid, *made.secrets), made.read)


async def _deal(api: Api, a: WorkspaceA) -> Made:
    name = f"Alpha Deal {uuid.uuid4().hex[:8]}"
    body = {"name": name, "amount_minor": 987654321, "currency": "CHF"}
    r = await api.client.post("/v1/deals", json=body, headers=a.owner)
    assert r.status_code == 201, r.text
    did = r.json()["id"]
    return Made(did, (did, name, "987654321"), f"/v1/deals/{did}")


async def _custom_field(api: Api, a: WorkspaceA) -> Made:
    key, label = f"alpha_{uuid.uuid4().hex[:8]}", f"Alpha Label {uuid.uuid4().hex[:8]}"
    body = {"object_type": "contact", "key": key, "label": label, "field_type": "text"}
    r = await api.client.post("/v1/custom-fields", json=body, headers=a.owner)
    assert r.status_code == 201, r.text
    fid = r.json()["id"]
    return Made(fid, (fid, key, label), f"/v1/custom-fields/{fid}")


async def _tag(api: Api, a: WorkspaceA) -> Made:
    name = f"alpha tag {uuid.uuid4().hex[:8]}"
    r = await api.client.post("/v1/tags", json={"name": name}, headers=a.owner)
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    return Made(tid, (tid, name), f"/v1/tags/{tid}")


async def _note(api: Api, a: WorkspaceA) -> Made:
    made = await _contact(api, a)
    text = f"Alpha note {uuid.uuid4().hex[:8]}"
    r = await api.client.post(f"/v1/contacts/{made.id}/notes", json={"text": text}, headers=a.owner)
    assert r.status_code == 201, r.text
    nid = r.json()["id"]
    return Made(nid, (nid, text), f"/v1/notes/{nid}")


async def _task(api: Api, a: WorkspaceA) -> Made:
    made = await _deal(api, a)
    title = f"Alpha task {uuid.uuid4().hex[:8]}"
    body = {"title": title, "record_type": "deal", "record_id": made.id}
    r = await api.client.post("/v1/tasks", json=body, headers=a.owner)
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    return Made(tid, (tid, title), f"/v1/tasks/{tid}")


async def _import(api: Api, a: WorkspaceA) -> Made:
    name, bad = f"alpha-{uuid.uuid4().hex[:8]}.csv", f"alpha-not-an-email-{uuid.uuid4().hex[:8]}"
    data = f"Email,First\nalpha-{uuid.uuid4().hex[:8]}@alpha.example,Alpha\n{bad},Bad\n"
    files = {"file": (name, data.encode(), "text/csv")}
    r = await api.client.post(
        "/v1/imports", data={"object_type": "contacts"}, files=files, headers=a.owner
    )
    assert r.status_code == 202, r.text
    iid = r.json()["id"]
    await api.container.imports.runner.wait(uuid.UUID(iid))  # A's reads must not move on
    return Made(iid, (iid, name, bad), f"/v1/imports/{iid}")


async def _device(api: Api, a: WorkspaceA) -> Made:
    """A's owner's phone: devices belong to a person, so B's people and keys never reach it."""
    token = f"alpha-fcm-{uuid.uuid4().hex}"
    r = await api.client.post(
        "/v1/devices", json={"token": token, "platform": "ios"}, headers=a.owner
    )
    assert r.status_code == 201, r.text
    did = r.json()["id"]
    return Made(did, (did, token), f"/v1/devices/{did}")


async def _webhook_subscription(api: Api, a: WorkspaceA) -> Made:
    url = f"https://93.184.216.34/alpha-{uuid.uuid4().hex[:8]}"
    about = f"Alpha hook {uuid.uuid4().hex[:8]}"
    body = {"url": url, "event_types": ["*"], "description": about}
    r = await api.client.post("/v1/webhook-subscriptions", json=body, headers=a.owner)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    return Made(sid, (sid, url, about, r.json()["secret"]), f"/v1/webhook-subscriptions/{sid}")


async def _channel(api: Api, a: WorkspaceA) -> Made:
    number, token = str(uuid.uuid4().int % 10**15), f"EAAalpha{uuid.uuid4().hex}"
    body = {
        "phone_number_id": number,
        "display_phone_number": "+15550783881",
        "access_token": token,
    }
    r = await api.client.post("/v1/channels/whatsapp", json=body, headers=a.owner)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    return Made(cid, (cid, number, token), f"/v1/channels/whatsapp/{cid}")


async def _chat(api: Api, a: WorkspaceA) -> Made:
    """A chat of A's, as WhatsApp's webhook makes them (straight into the chat store: the
    webhook's own tests cover the way in)."""
    phone, text = f"+1415{uuid.uuid4().int % 10**7:07d}", f"alpha secret {uuid.uuid4().hex}"
    ref = ChatRef(str(uuid.uuid4().int % 10**15), phone)
    message = Message(f"wamid.{uuid.uuid4().hex}", Direction.INBOUND, MessageKind.TEXT, NOW, text)
    appended = await api.container.conversations.chats.append(uuid.UUID(a.id), ref, message)
    cid = str(appended.chat_id)
    return Made(cid, (cid, phone, text), f"/v1/chats/{cid}/messages")


async def _chat_message(api: Api, a: WorkspaceA) -> Made:
    """A message of A's with a stored file (the media link route's other id)."""
    made = await _chat(api, a)
    page = await api.container.conversations.chats.list_messages(
        uuid.UUID(a.id), uuid.UUID(made.id), 1, None
    )
    provider_id = page.items[0].provider_id
    key = media_key(uuid.UUID(made.id), provider_id)
    await api.container.blobs.put(uuid.UUID(a.id), key, b"alpha file", "image/jpeg")
    return Made(provider_id, (provider_id, *made.secrets[1:]), made.read)


async def _attachment(api: Api, a: WorkspaceA) -> Made:
    """A confirmed file on a contact of A's."""
    made = await _contact(api, a)
    filename = f"alpha-{uuid.uuid4().hex[:8]}.pdf"
    body = {"filename": filename, "content_type": "application/pdf"}
    r = await api.client.post(f"/v1/contacts/{made.id}/attachments", json=body, headers=a.owner)
    assert r.status_code == 201, r.text
    aid = r.json()["attachment"]["id"]
    key = f"attachments/{aid}"
    await api.container.blobs.put(uuid.UUID(a.id), key, b"alpha file", "application/pdf")
    confirmed = await api.client.post(f"/v1/attachments/{aid}/confirm", headers=a.owner)
    assert confirmed.status_code == 200, confirmed.text
    return Made(aid, (aid, filename, *made.secrets[1:]), f"/v1/attachments/{aid}")


async def _webhook_delivery(api: Api, a: WorkspaceA) -> Made:
    """A test ping of a subscription of A's, waiting in its log (no delivery loop runs here)."""
    made = await _webhook_subscription(api, a)
    r = await api.client.post(f"/v1/webhook-subscriptions/{made.id}/test", headers=a.owner)
    assert r.status_code == 202, r.text
    did = r.json()["id"]
    return Made(did, (did, r.json()["event_id"], *made.secrets[1:]), f"{made.read}/deliveries")


FACTORIES: dict[str, Factory] = {
    "contact_id": _contact,
    "workspace_id": _workspace,
    "user_id": _member,
    "invitation_id": _invitation,
    "key_id": _api_key,
    "company_id": _company,
    "pipeline_id": _pipeline,
    "stage_id": _stage,
    "deal_id": _deal,
    "field_id": _custom_field,
    "tag_id": _tag,
    "note_id": _note,
    "task_id": _task,
    "import_id": _import,
    "device_id": _device,
    "subscription_id": _webhook_subscription,
    "channel_id": _channel,
    "delivery_id": _webhook_delivery,
    "chat_id": _chat,
    "message_id": _chat_message,
    "attachment_id": _attachment,
}

ATTACHMENT = {"filename": "mallory.pdf", "content_type": "application/pdf"}
# A valid body for each route that takes one, so that the answer is about the object and
# not about the body (a 422 would prove nothing).
BODIES: dict[str, object] = {
    "PATCH /v1/contacts/{contact_id}": {"first_name": "Mallory"},
    "PATCH /v1/custom-fields/{field_id}": {"label": "Mallory label", "archived": True},
    "PATCH /v1/tags/{tag_id}": {"name": "mallory", "color": "#000000"},
    "PATCH /v1/members/{user_id}": {"role": "member"},
    "PATCH /v1/pipelines/{pipeline_id}": {"name": "Mallory funnel"},
    "POST /v1/pipelines/{pipeline_id}/stages": {"name": "Mallory step"},
    "PUT /v1/pipelines/{pipeline_id}/stages/order": {"stage_ids": [str(uuid.uuid4())]},
    "PATCH /v1/pipelines/{pipeline_id}/stages/{stage_id}": {"name": "Mallory step"},
    "PATCH /v1/deals/{deal_id}": {"name": "Mallory deal"},
    "POST /v1/deals/{deal_id}/move": {"stage_id": str(uuid.uuid4())},
    "PATCH /v1/companies/{company_id}": {"name": "Mallory Inc", "domain": "mallory.example"},
    "PUT /v1/contacts/{contact_id}/companies/{company_id}": {"is_primary": True},
    "POST /v1/contacts/{contact_id}/notes": {"text": "Mallory note"},
    "POST /v1/companies/{company_id}/notes": {"text": "Mallory note"},
    "POST /v1/deals/{deal_id}/notes": {"text": "Mallory note"},
    "PATCH /v1/notes/{note_id}": {"text": "Mallory note", "pinned": True},
    "PATCH /v1/tasks/{task_id}": {"title": "Mallory task", "priority": "high"},
    "PATCH /v1/webhook-subscriptions/{subscription_id}": {"description": "Mallory hook"},
    "PATCH /v1/me/notification-settings": {"reminder_lead_minutes": 30},
    "PATCH /v1/channels/whatsapp/{channel_id}": {"name": "Mallory line"},
    "POST /v1/contacts/{contact_id}/attachments": ATTACHMENT,
    "POST /v1/companies/{company_id}/attachments": ATTACHMENT,
    "POST /v1/deals/{deal_id}/attachments": ATTACHMENT,
    "POST /v1/notes/{note_id}/attachments": ATTACHMENT,
    "PUT /v1/chats/{chat_id}/assignee": {"assignee_id": None},
    "PUT /v1/chats/{chat_id}/contact": {"contact_id": None},
    "POST /v1/chats/{chat_id}/messages": {"text": "Mallory reply"},
    # The path's record is the survivor: B must not reach A's through it. A source of A's named
    # by B (the other way in) is tested in tests/api/test_merges.py.
    "POST /v1/contacts/{contact_id}/merge": {"source_id": str(uuid.uuid4())},
    "POST /v1/companies/{company_id}/merge": {"source_id": str(uuid.uuid4())},
}


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    params: tuple[str, ...]
    body: object | None

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    def url(self, ids: dict[str, str]) -> str:
        url = self.path
        for param in self.params:
            url = url.replace("{" + param + "}", ids[param])
        return url


def calls_on_object_routes(routes: list[BaseRoute]) -> list[Call]:
    calls: list[Call] = []
    for route in routes:
        if isinstance(route, Mount):
            # Swagger UI's own files are the only mounted app; anything else escapes this test.
            assert isinstance(route.app, StaticFiles), f"{route.path} escapes this test"
            continue
        path = getattr(route, "path", "")
        if "{" not in path:
            continue
        if path == local_files.PATH:
            # The local store's links: the signed token is the only credential; a token for
            # another workspace's file cannot be made without the secret
            # (tests/contract/test_blob_store_contract.py forges and alters them).
            continue
        assert isinstance(route, APIRoute), f"{path} is not an API route this test can call"
        params = tuple(route.param_convertors)
        for param in params:
            assert param in FACTORIES, f"{path}: no factory makes a {param!r} in workspace A"
        for method in sorted((route.methods or set()) - {"HEAD", "OPTIONS"}):
            key = f"{method} {route.path}"
            body = BODIES.get(key)
            if route.body_field is not None:
                assert body is not None, f"{key}: give this test a valid body for it"
            calls.append(Call(method, route.path, params, body))
    return calls


async def _send(
    client: httpx.AsyncClient, call: Call, ids: dict[str, str], headers: dict[str, str]
) -> httpx.Response:
    return await client.request(call.method, call.url(ids), headers=headers, json=call.body)


def _normalized(response: httpx.Response, ids: dict[str, str]) -> object:
    body = response.json() if response.content else None
    if isinstance(body, dict):
        text = json.dumps({k: v for k, v in body.items() if k != "request_id"})
        for param, object_id in ids.items():
            text = text.replace(object_id, "{" + param + "}")
        body = json.loads(text)
    return body


async def test_no_route_lets_workspace_b_reach_an_object_of_workspace_a(api: Api) -> None:
    calls = calls_on_object_routes(api.app.routes)
    assert {p for c in calls for p in c.params} == set(FACTORIES), "a factory no route uses"

    a_name = f"Alpha-{uuid.uuid4().hex[:8]}"
    a_owner, a_id = await owner_of(api.client, a_name)
    a = WorkspaceA(a_owner, a_id, a_name)
    b_owner, b_id = await owner_of(api.client, "Beta")
    b_member, _ = await join(api.client, b_owner, api.mailbox, role="member")
    b_key_made = await api.client.post(
        "/v1/api-keys", json={"name": "beta admin", "scopes": ["admin"]}, headers=b_owner
    )
    assert b_key_made.status_code == 201, b_key_made.text
    b_key = in_workspace({"Authorization": f"Bearer {b_key_made.json()['secret']}"}, b_id)
    callers = {"owner of B": b_owner, "member of B": b_member, "admin key of B": b_key}

    made = {param: await factory(api, a) for param, factory in FACTORIES.items()}
    before = {p: (await api.client.get(m.read, headers=a.owner)).json() for p, m in made.items()}
    emails_before = len(api.mailbox.sent)

    checked = 0
    for call in calls:
        ids = {p: made[p].id for p in call.params}
        nowhere = {p: str(uuid.uuid4()) for p in call.params}
        for who, headers in callers.items():
            answer = await _send(api.client, call, ids, headers)
            control = await _send(api.client, call, nowhere, headers)
            where = f"{call.key} as {who}: {answer.status_code} {answer.text}"
            assert answer.status_code in (403, 404), where
            assert answer.headers["content-type"] == "application/problem+json", where
            assert (answer.status_code, _normalized(answer, ids)) == (
                control.status_code,
                _normalized(control, nowhere),
            ), f"{where} differs from the answer for ids that exist nowhere"
            # The ids themselves may be echoed (the caller sent them); nothing else of A may.
            echoed = answer.text
            for object_id in ids.values():
                echoed = echoed.replace(object_id, "{id}")
            for param in call.params:
                for secret in made[param].secrets[1:]:
                    assert secret not in echoed, f"{where} leaks {secret!r}"
            checked += 1

    assert checked == 3 * len(calls)
    after = {p: (await api.client.get(m.read, headers=a.owner)).json() for p, m in made.items()}
    assert after == before
    assert len(api.mailbox.sent) == emails_before


def _is_stream(route: APIRoute) -> bool:
    """An event stream never ends, so it cannot be read whole: what it shows of another
    workspace (nothing, and no resume from its events) is tested in test_event_stream.py."""
    return "text/event-stream" in route.responses.get(200, {}).get("content", {})


async def test_lists_in_workspace_b_show_nothing_of_workspace_a(api: Api) -> None:
    a_name = f"Alpha-{uuid.uuid4().hex[:8]}"
    a_owner, a_id = await owner_of(api.client, a_name)
    a = WorkspaceA(a_owner, a_id, a_name)
    made = [await factory(api, a) for factory in FACTORIES.values()]
    b_owner, b_id = await owner_of(api.client, "Beta")
    b_key_made = await api.client.post(
        "/v1/api-keys", json={"name": "beta admin", "scopes": ["admin"]}, headers=b_owner
    )
    b_key = in_workspace({"Authorization": f"Bearer {b_key_made.json()['secret']}"}, b_id)

    lists = [
        r.path
        for r in api.app.routes
        if isinstance(r, APIRoute)
        and "GET" in (r.methods or set())
        and "{" not in r.path
        and not _is_stream(r)
    ]
    assert {"/v1/contacts", "/v1/members", "/v1/invitations", "/v1/api-keys"} <= set(lists)
    assert "/v1/audit-events" in lists
    for path in lists:
        for who, headers in {"owner of B": b_owner, "admin key of B": b_key}.items():
            r = await api.client.get(path, headers=headers)
            for m in made:
                for secret in m.secrets:
                    assert secret not in r.text, f"GET {path} as {who} leaks {secret!r}"
