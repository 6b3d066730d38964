"""A local stand-in for the WhatsApp Business Cloud API (Meta's Graph API), answering as it does.

POST /{version}/{phone-number-id}/messages sends a text: the bearer token must be the one
registered for that phone number id (else 401 with Graph error 190), the body JSON with
messaging_product whatsapp, a recipient, type text and a body of 1 to 4,096 characters (else
400 with error 100); the answer is `{"messaging_product", "contacts": [{"input", "wa_id"}],
"messages": [{"id": "wamid..."}]}`. GET /{version}/{media-id} answers the media's metadata
with a `url` on this stub's own download path, which wants the bearer too and answers the
bytes with their Content-Type. Errors have Graph's shape: `{"error": {"message", "type",
"code", "error_subcode", "error_data", "fbtrace_id"}}`. Stricter than Meta in one place, what
our adapter always sends: no key the text endpoint does not know.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

DOWNLOAD_PATH = "/whatsapp_business/attachments/"
TITLES = {
    190: "Invalid OAuth access token - Cannot parse access token",
    131047: "(#131047) Re-engagement message",
    130429: "(#130429) Rate limit hit",
    131056: "(#131056) (Business Account, Consumer Account) pair rate limit hit",
    131026: "(#131026) Message undeliverable",
    131000: "(#131000) Something went wrong",
    100: "(#100) Invalid parameter",
}
MESSAGE_KEYS = frozenset({"messaging_product", "recipient_type", "to", "type", "text", "context"})
_NOT_DIGITS = re.compile(r"[^0-9]")


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
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
class Answer:
    status: int
    body: Any
    """JSON-serialisable; bytes are sent as they are, with `content_type`."""
    content_type: str = "application/json"
    sized: bool = True
    """False: no Content-Length, the body ends when the connection closes."""
    endless: bool = False
    """Repeat the body until the client hangs up (or the stub stops)."""


@dataclass(slots=True)
class _Media:
    data: bytes = field(repr=False)
    mime_type: str
    sha256: str | None
    announce_size: bool
    phone_number_id: str | None
    url: str | None
    endless: bool = False


def graph_error(status: int, code: int, message: str | None = None, **extra: Any) -> Answer:
    error: dict[str, Any] = {
        "message": message or TITLES.get(code, f"(#{code}) Error"),
        "type": "OAuthException",
        "code": code,
    }
    error |= {**extra, "fbtrace_id": f"A{uuid.uuid4().hex[:22]}"}
    return Answer(status, {"error": error})


def _invalid(details: str) -> Answer:
    return graph_error(400, 100, error_data={"messaging_product": "whatsapp", "details": details})


def _no_object(object_id: str, verb: str) -> Answer:
    text = (
        f"Unsupported {verb} request. Object with ID '{object_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation."
    )
    return graph_error(400, 100, text, error_subcode=33, type="GraphMethodException")


class GraphStub:
    """Start it, point the adapter at `url` and `version`, register numbers, read `requests`."""

    def __init__(self, version: str = "v21.0") -> None:
        self.version = version
        self.delay = 0.0
        """Seconds to wait before answering (to make clients time out)."""
        self.requests: list[RecordedRequest] = []
        self.accepted: list[dict[str, Any]] = []
        """The message bodies answered with a wamid, oldest first."""
        self._tokens: dict[str, str] = {}
        self._media: dict[str, _Media] = {}
        self._forced: list[tuple[str | None, Answer]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL, like https://graph.facebook.com."""
        if self._server is None:
            raise RuntimeError("the stub is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def start(self) -> GraphStub:
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping in `delay`
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> GraphStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_number(self, phone_number_id: str, access_token: str) -> None:
        """Accept `access_token` for this business number (replacing its old token)."""
        with self._lock:
            self._tokens[phone_number_id] = access_token

    def add_media(
        self,
        media_id: str,
        data: bytes,
        mime_type: str,
        *,
        sha256: str | None = "",
        announce_size: bool = True,
        phone_number_id: str | None = None,
        url: str | None = None,
        endless: bool = False,
    ) -> None:
        """Serve `data`. `sha256`: "" the true hex digest, None none, else that value;
        `announce_size=False` omits file_size and Content-Length; `url` replaces the url;
        `endless` repeats `data` until the client hangs up (a body without end)."""
        digest = hashlib.sha256(data).hexdigest() if sha256 == "" else sha256
        with self._lock:
            self._media[media_id] = _Media(
                data,
                mime_type,
                digest,
                announce_size and not endless,
                phone_number_id,
                url,
                endless,
            )

    def fail_next(
        self,
        code: int | None,
        status: int = 400,
        *,
        message: str | None = None,
        times: int = 1,
        path_contains: str | None = None,
    ) -> None:
        """Answer the next `times` requests (those whose path has `path_contains`) with Graph
        error `code`; `code=None` answers a text body, like a proxy in front of Graph."""
        answer = (
            Answer(status, message or "Bad Gateway", "text/html")
            if code is None
            else graph_error(status, code, message)
        )
        with self._lock:
            self._forced.extend([(path_contains, answer)] * times)

    def answer(self, request: RecordedRequest) -> Answer:
        with self._lock:
            self.requests.append(request)
            forced = self._take_forced(request.path)
        if self.delay:
            self._stopping.wait(self.delay)
        return forced or self._route(request)

    def _take_forced(self, path: str) -> Answer | None:
        for i, (where, answer) in enumerate(self._forced):
            if where is None or where in path:
                del self._forced[i]
                return answer
        return None

    def _route(self, request: RecordedRequest) -> Answer:
        if request.method == "GET" and request.path == DOWNLOAD_PATH:
            return self._download(request)
        prefix = f"/{self.version}/"
        parts = request.path.removeprefix(prefix).split("/")
        if not request.path.startswith(prefix) or not all(parts):
            return graph_error(400, 2500, "Unknown path components")
        if request.method == "POST" and len(parts) == 2 and parts[1] == "messages":
            return self._send(parts[0], request)
        if request.method == "GET" and len(parts) == 1:
            return self._media_info(parts[0], request)
        return graph_error(400, 2500, "Unknown path components")

    def _bearer(self, request: RecordedRequest) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return token if scheme == "Bearer" and token else None

    def _send(self, phone_number_id: str, request: RecordedRequest) -> Answer:
        token = self._bearer(request)
        with self._lock:
            known = set(self._tokens.values())
            own = self._tokens.get(phone_number_id)
        if token is None or token not in known:
            return graph_error(401, 190)
        if token != own:
            return _no_object(phone_number_id, "post")
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        body = request.json
        if content_type != "application/json" or not isinstance(body, dict):
            return _invalid("The request body must be a JSON object")
        if problem := text_message_problem(body):
            return _invalid(problem)
        wamid = f"wamid.HBgL{uuid.uuid4().hex.upper()}"
        with self._lock:
            self.accepted.append(body)
        contact = {"input": body["to"], "wa_id": _NOT_DIGITS.sub("", body["to"])}
        return Answer(
            200,
            {"messaging_product": "whatsapp", "contacts": [contact], "messages": [{"id": wamid}]},
        )

    def _media_info(self, media_id: str, request: RecordedRequest) -> Answer:
        with self._lock:
            known = set(self._tokens.values())
            media = self._media.get(media_id)
        if self._bearer(request) not in known:
            return graph_error(401, 190)
        owner = request.query.get("phone_number_id")
        if media is None or (owner and media.phone_number_id not in (None, owner)):
            return _no_object(media_id, "get")
        info: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "url": media.url or f"{self.url}{DOWNLOAD_PATH}?mid={media_id}&ext=1",
            "mime_type": media.mime_type,
            "id": media_id,
        }
        if media.sha256 is not None:
            info["sha256"] = media.sha256
        if media.announce_size:
            info["file_size"] = str(len(media.data))
        return Answer(200, info)

    def _download(self, request: RecordedRequest) -> Answer:
        with self._lock:
            known = set(self._tokens.values())
            media = self._media.get(request.query.get("mid", ""))
        if self._bearer(request) not in known:
            return graph_error(401, 190)
        if media is None:
            return Answer(404, b"", "text/plain")
        sized = media.announce_size
        return Answer(200, media.data, media.mime_type, sized=sized, endless=media.endless)


def text_message_problem(body: dict[str, Any]) -> str | None:
    """Why Meta would refuse this text message body (None: it would not)."""
    if unknown := sorted(set(body) - MESSAGE_KEYS):
        return f"Param {unknown[0]} is not a valid parameter"
    if body.get("messaging_product") != "whatsapp":
        return "The parameter messaging_product is required and must be whatsapp."
    if body.get("recipient_type", "individual") != "individual":
        return "recipient_type must be individual"
    if not isinstance(body.get("to"), str) or not _NOT_DIGITS.sub("", body["to"]):
        return "The parameter to is required."
    if body.get("type") != "text":
        return "This stub sends type text only"
    text = body.get("text")
    if not isinstance(text, dict) or not isinstance(text.get("body"), str) or not text["body"]:
        return "The parameter text['body'] is required."
    if len(text["body"]) > 4096:
        return "Param text['body'] must be at most 4096 characters long."
    if not isinstance(text.get("preview_url", False), bool):
        return "Param text['preview_url'] must be a boolean."
    context = body.get("context", {})
    if not isinstance(context, dict) or not isinstance(context.get("message_id", ""), str):
        return "Param context['message_id'] must be a string."
    return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, stub: GraphStub) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stub = stub


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = RecordedRequest(
            method=self.command,
            path=split.path,
            query={k: v[0] for k, v in parse_qs(split.query).items()},
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self.rfile.read(length),
        )
        self._reply(self.server.stub.answer(request))

    def _reply(self, answer: Answer) -> None:
        raw = isinstance(answer.body, bytes | str)
        payload = answer.body if raw else json.dumps(answer.body).encode()
        payload = payload.encode() if isinstance(payload, str) else payload
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            if answer.sized:
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self._write(payload)
            while answer.endless and not self.server.stub.stopping:
                self._write(payload)
        except ConnectionError:
            pass  # the client gave up (a timeout or a size cap): nobody is left to answer

    def _write(self, payload: bytes) -> None:
        for start in range(0, len(payload), 16384):
            self.wfile.write(payload[start : start + 16384])

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the tests read `requests` instead."""
