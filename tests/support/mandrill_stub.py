"""A local stand-in for Mailchimp Transactional's `messages/send`, answering as the real API.

Success is a 200 JSON array with one `{email, status, reject_reason, queued_reason, _id}` per
recipient; errors are `{"status": "error", "code", "name", "message"}` with the statuses the
API uses since 2023 (401 Invalid_Key, 400 ValidationError, 500 GeneralError). It is stricter
than the real API in two places, both things our adapter always sends: the Content-Type
must be application/json and every recipient must carry a `type`.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SEND_PATHS = frozenset({"/api/1.0/messages/send", "/api/1.0/messages/send.json"})
RECIPIENT_TYPES = frozenset({"to", "cc", "bcc"})
GENERAL_ERROR = "An unexpected error occurred processing the request. Developers will be notified."


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    """Header names lower-cased."""
    body: bytes

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: Any
    """JSON-serialisable, or a str sent as text/plain."""


def _error(status: int, name: str, message: str, code: int = -1) -> _Answer:
    return _Answer(status, {"status": "error", "code": code, "name": name, "message": message})


class MandrillStub:
    """Start it, point the mailer at `url`, configure what it answers, read `requests`."""

    def __init__(self, api_key: str = "stub-api-key") -> None:
        self.api_key = api_key
        self.delay = 0.0
        """Seconds to wait before answering (to make clients time out)."""
        self.requests: list[RecordedRequest] = []
        self._statuses: dict[str, tuple[str, str | None]] = {}
        self._forced: list[_Answer] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL, like https://mandrillapp.com/api/1.0."""
        if self._server is None:
            raise RuntimeError("the stub is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/api/1.0"

    @property
    def last_json(self) -> Any:
        return self.requests[-1].json

    def start(self) -> MandrillStub:
        self._stopping.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        # A short poll keeps stop() (which waits for the next poll) quick: one stub per test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        # Wakes handlers sleeping in `delay`, so stopping never waits for them.
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> MandrillStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reject(self, email: str, reason: str = "hard-bounce") -> None:
        """Answer `rejected` with `reason` for this recipient from now on."""
        self.set_status(email, "rejected", reason)

    def set_status(self, email: str, status: str, reject_reason: str | None = None) -> None:
        """Answer `status` (sent, queued, scheduled, rejected, invalid) for this recipient."""
        with self._lock:
            self._statuses[email.casefold()] = (status, reject_reason)

    def fail_next(
        self,
        status: int = 500,
        name: str | None = "GeneralError",
        message: str = GENERAL_ERROR,
        times: int = 1,
    ) -> None:
        """Answer the next `times` requests with this error (`name=None`: a text body)."""
        answer = _error(status, name, message) if name else _Answer(status, message)
        with self._lock:
            self._forced.extend([answer] * times)

    def _answer(self, request: RecordedRequest) -> _Answer:
        with self._lock:
            self.requests.append(request)
            forced = self._forced.pop(0) if self._forced else None
        if self.delay:
            self._stopping.wait(self.delay)
        if request.path not in SEND_PATHS:
            return _Answer(404, "Not Found")
        return forced or self._verdict(request)

    def _verdict(self, request: RecordedRequest) -> _Answer:
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        body = request.json
        if content_type != "application/json" or not isinstance(body, dict):
            return _error(400, "ValidationError", "Expected a JSON object body")
        if not isinstance(body.get("key"), str) or not body["key"]:
            return _error(400, "ValidationError", "You must specify a key value")
        if body["key"] != self.api_key:
            return _error(401, "Invalid_Key", "Invalid API key")
        if problem := _message_problem(body.get("message")):
            return _error(400, "ValidationError", problem)
        return _Answer(200, [self._result(r["email"]) for r in body["message"]["to"]])

    def _result(self, email: str) -> dict[str, Any]:
        with self._lock:
            configured = self._statuses.get(email.casefold())
        status, reason = configured or (("sent" if _looks_like_email(email) else "invalid"), None)
        return {
            "email": email,
            "status": status,
            "reject_reason": reason,
            "queued_reason": None,
            "_id": uuid.uuid4().hex,
        }


def _message_problem(message: Any) -> str | None:
    if not isinstance(message, dict):
        return "message must be a struct"
    for field in ("from_email", "subject"):
        if not isinstance(message.get(field), str) or not message[field]:
            return f"message.{field} is required"
    if not any(isinstance(message.get(part), str) for part in ("text", "html")):
        return "message needs text or html content"
    return _recipients_problem(message.get("to")) or _tags_problem(message.get("tags", []))


def _recipients_problem(to: Any) -> str | None:
    if not isinstance(to, list) or not to:
        return "message.to must be a non-empty array"
    for i, recipient in enumerate(to):
        if not isinstance(recipient, dict) or not isinstance(recipient.get("email"), str):
            return f"message.to[{i}].email is required"
        if recipient.get("type") not in RECIPIENT_TYPES:
            return f"message.to[{i}].type must be one of to, cc, bcc"
    return None


def _tags_problem(tags: Any) -> str | None:
    # Documented: tags are strings of at most 50 characters; a leading underscore is reserved.
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        return "message.tags must be an array of strings"
    if any(t.startswith("_") or len(t) > 50 for t in tags):
        return "Tags must be at most 50 characters and must not start with an underscore"
    return None


def _looks_like_email(email: str) -> bool:
    local, _, domain = email.rpartition("@")
    return bool(local) and "." in domain and ".." not in domain


def _handler_for(stub: MandrillStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = RecordedRequest(
                method=self.command,
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length),
            )
            self._reply(stub._answer(request))

        def _reply(self, answer: _Answer) -> None:
            is_text = isinstance(answer.body, str)
            payload = (answer.body if is_text else json.dumps(answer.body)).encode()
            kind = "text/plain" if is_text else "application/json"
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except ConnectionError:
                pass  # the client gave up (a timeout test): nobody is left to answer

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: the tests read `requests` instead."""

    return Handler
