"""Firebase Cloud Messaging without Google: a local stand-in for the HTTP v1 send endpoint.

FCM has no emulator. The real firebase-admin SDK sends to this stub when the app's messaging
service is pointed at it (CRM_FCM_URL): POST /v1/projects/<project>/messages:send with
{"message": {...}}. The stub checks each message's shape (one token, a notification with a
title and body, string data naming the kind, the workspace and the record, android and apns
as we set them) and answers like FCM: {"name": ...} on success; for tokens marked dead the
404 UNREGISTERED error with FCM's error details (the SDK raises UnregisteredError), for
tokens marked invalid the 400 INVALID_ARGUMENT, for throttled ones the 429 QUOTA_EXCEEDED.
A message of the wrong shape gets a 400 and is listed in `violations`.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SEND_PATH = re.compile(r"^/v1/projects/([^/]+)/messages:send$")
FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
MESSAGE_KEYS = {"token", "notification", "data", "android", "apns"}
RECORD_ID = {
    "task_due": "task_id",
    "task_assigned": "task_id",
    "deal_owner_changed": "deal_id",
    "chat_message": "chat_id",
}

Response = tuple[int, dict[str, Any]]


class FcmStub:
    """The FCM v1 send endpoint for one project, on 127.0.0.1 in a thread."""

    def __init__(self, project_id: str) -> None:
        self.project_id = project_id
        self.received: list[dict[str, Any]] = []
        self.violations: list[str] = []
        self.dead: set[str] = set()
        self.invalid: set[str] = set()
        self.throttled: set[str] = set()
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL for CRM_FCM_URL."""
        if self._server is None:
            raise RuntimeError("start the stub first")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FcmStub:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> FcmStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def to(self, token: str) -> list[dict[str, Any]]:
        """The messages delivered to `token`, oldest first."""
        with self._lock:
            return [m for m in self.received if m["token"] == token]

    def answer(self, path: str, authorization: str | None, body: bytes) -> Response:
        match = SEND_PATH.match(path)
        if match is None or match.group(1) != self.project_id:
            return _error(HTTPStatus.NOT_FOUND, "NOT_FOUND", "Requested entity was not found.")
        if not (authorization or "").startswith("Bearer ") or len(authorization or "") < 8:
            return _error(HTTPStatus.UNAUTHORIZED, "UNAUTHENTICATED", "Missing OAuth token.")
        try:
            message = json.loads(body)["message"]
        except (ValueError, KeyError, TypeError):
            return self._refuse('the body is not {"message": {...}}')
        wrong = shape_errors(message)
        if wrong:
            return self._refuse("; ".join(wrong))
        token = message["token"]
        if token in self.dead:
            return _error(
                HTTPStatus.NOT_FOUND, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED"
            )
        if token in self.invalid:
            text = "The registration token is not a valid FCM registration token"
            return _error(HTTPStatus.BAD_REQUEST, "INVALID_ARGUMENT", text, "INVALID_ARGUMENT")
        if token in self.throttled:
            text = "Quota exceeded for this device."
            return _error(
                HTTPStatus.TOO_MANY_REQUESTS, "RESOURCE_EXHAUSTED", text, "QUOTA_EXCEEDED"
            )
        with self._lock:
            self.received.append(message)
        return HTTPStatus.OK, {"name": f"projects/{self.project_id}/messages/{uuid.uuid4().hex}"}

    def _refuse(self, why: str) -> Response:
        with self._lock:
            self.violations.append(why)
        return _error(HTTPStatus.BAD_REQUEST, "INVALID_ARGUMENT", why)


def shape_errors(message: Any) -> list[str]:
    """What is wrong with a message we send (empty: nothing)."""
    if not isinstance(message, dict):
        return ["message is not an object"]
    out = [f"unexpected key {k!r}" for k in sorted(set(message) - MESSAGE_KEYS)]
    if not isinstance(message.get("token"), str) or not message["token"]:
        out.append("no token")
    note = message.get("notification")
    if not isinstance(note, dict) or not note.get("title") or not note.get("body"):
        out.append("notification needs a title and a body")
    out += _data_errors(message.get("data"))
    android = message.get("android", {})
    if android.get("priority") not in ("high", "normal"):
        out.append(f"android priority {android.get('priority')!r}")
    aps = message.get("apns", {}).get("payload", {}).get("aps", {})
    if aps.get("sound") != "default" or aps.get("thread-id") != (message.get("data") or {}).get(
        "kind"
    ):
        out.append(f"apns aps {aps!r}")
    return out


def _data_errors(data: Any) -> list[str]:
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        return ["data must map names to strings"]
    kind = data.get("kind")
    if kind not in RECORD_ID:
        return [f"data kind {kind!r}"]
    out = []
    for key in ("workspace_id", RECORD_ID[kind]):
        try:
            uuid.UUID(data.get(key, ""))
        except ValueError:
            out.append(f"data {key} is not a UUID")
    return out


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, payload = self.server.stub.answer(
            self.path, self.headers.get("Authorization"), body
        )
        content = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, *args: Any) -> None:
        """Quiet: pytest shows failures, not every request."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the SDK opens up to 100 connections at once

    def __init__(self, stub: FcmStub) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stub = stub


def _error(status: int, grpc: str, message: str, fcm_code: str | None = None) -> Response:
    """FCM's error body; an FCM-specific code travels in `details` as an FcmError."""
    error: dict[str, Any] = {"code": status, "message": message, "status": grpc}
    if fcm_code is not None:
        error["details"] = [{"@type": FCM_ERROR, "errorCode": fcm_code}]
    return status, {"error": error}
