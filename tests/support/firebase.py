"""Firebase Authentication without Google: emulator-mode ID tokens and a stand-in Auth emulator.

With FIREBASE_AUTH_EMULATOR_HOST set, firebase-admin accepts unsigned ID tokens and, for
`verify_id_token(check_revoked=True)`, asks the emulator about the user with one call:
POST /identitytoolkit.googleapis.com/v1/projects/<project>/accounts:lookup {"localId": [uid]}
as the admin ("Authorization: Bearer owner"). AuthEmulatorStub answers that call the way the
firebase-tools emulator does (src/emulator/auth/operations.ts `lookup`, errors.ts), from
users the tests add. Other paths get the emulator's 404; other projects have no users.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from datetime import datetime
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER_PREFIX = "https://securetoken.google.com/"
LOOKUP_PATH = re.compile(r"^/identitytoolkit\.googleapis\.com/v1/projects/([^/]+)/accounts:lookup$")
BAD_CREDENTIALS = {
    "message": "Invalid Credentials",
    "reason": "authError",
    "location": "Authorization",
    "locationType": "header",
}
UNAUTHENTICATED = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)

Response = tuple[int, dict[str, Any]]


def mint_id_token(
    project_id: str,
    uid: str,
    *,
    email: str | None = None,
    email_verified: bool = True,
    name: str | None = None,
    picture: str | None = None,
    issued_at: datetime,
    expires_at: datetime,
    audience: str | None = None,
    issuer: str | None = None,
) -> str:
    """An unsigned ID token (alg none) with the claims Firebase puts in one."""
    iat = int(issued_at.timestamp())
    claims: dict[str, Any] = {
        "iss": issuer if issuer is not None else ISSUER_PREFIX + project_id,
        "aud": audience if audience is not None else project_id,
        "auth_time": iat,
        "user_id": uid,
        "sub": uid,
        "iat": iat,
        "exp": int(expires_at.timestamp()),
        "firebase": {
            "identities": {"email": [email]} if email else {},
            "sign_in_provider": "password" if email else "custom",
        },
    }
    if email is not None:
        claims |= {"email": email, "email_verified": email_verified}
    if name is not None:
        claims["name"] = name
    if picture is not None:
        claims["picture"] = picture
    return f"{_b64(_json({'alg': 'none', 'typ': 'JWT'}))}.{_b64(_json(claims))}."


def write_service_account(path: Path, project_id: str) -> Path:
    """A service-account key file with a fresh RSA key: a credential that never goes online."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": "test-key",
        "private_key": pem,
        "client_email": f"crm-tests@{project_id}.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    path.write_text(json.dumps(info))
    return path


class AuthEmulatorStub:
    """The Auth emulator's accounts:lookup for one project, on 127.0.0.1 in a thread."""

    def __init__(self, project_id: str) -> None:
        self.project_id = project_id
        self.lookups: list[list[str]] = []
        self._users: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0

    @property
    def host(self) -> str:
        """The "host:port" for FirebaseIdentityVerifier(emulator_host=...)."""
        if not self._port:
            raise RuntimeError("start the stub first")
        return f"127.0.0.1:{self._port}"

    def start(self) -> AuthEmulatorStub:
        self._server = _Server(self)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening; the port then refuses connections, like an emulator that is down."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> AuthEmulatorStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_user(
        self,
        uid: str,
        *,
        email: str | None = None,
        email_verified: bool = False,
        name: str | None = None,
        picture: str | None = None,
    ) -> None:
        """Create (or replace) a user as the emulator stores it (its UserInfo)."""
        now_ms = str(int(time.time() * 1000))
        user: dict[str, Any] = {"localId": uid, "emailVerified": email_verified}
        user |= {"createdAt": now_ms, "lastLoginAt": now_ms}
        optional = {"email": email, "displayName": name, "photoUrl": picture}
        user |= {key: value for key, value in optional.items() if value is not None}
        with self._lock:
            self._users[uid] = user

    def has_user(self, uid: str) -> bool:
        with self._lock:
            return uid in self._users

    def disable(self, uid: str) -> None:
        """What accounts:update {disableUser: true} does."""
        with self._lock:
            self._users[uid]["disabled"] = True

    def revoke_tokens(self, uid: str, *, at: datetime) -> None:
        """What revoke_refresh_tokens does: validSince, in whole seconds as a string."""
        with self._lock:
            self._users[uid]["validSince"] = str(int(at.timestamp()))

    def answer(self, method: str, target: str, headers: Message, body: bytes) -> Response:
        """The emulator's status and JSON body for one request."""
        url = urlsplit(target)
        if method == "GET" and url.path == "/":
            return HTTPStatus.OK, {"authEmulator": {"ready": True}}
        match = LOOKUP_PATH.match(url.path)
        if method != "POST" or match is None:
            return _error(HTTPStatus.NOT_FOUND, "Not Found", "NOT_FOUND", reason="notFound")
        scheme, _, token = (headers.get("Authorization") or "").partition(" ")
        admin = scheme.lower() == "bearer"
        if admin and token.lower() != "owner" and not token.startswith("ya29."):
            return _error(
                HTTPStatus.UNAUTHORIZED, UNAUTHENTICATED, "UNAUTHENTICATED", **BAD_CREDENTIALS
            )
        has_key = "key" in parse_qs(url.query) or headers.get("X-Goog-Api-Key")
        if not admin and not has_key:
            message = "The request is missing a valid API key."
            return _error(HTTPStatus.FORBIDDEN, message, "PERMISSION_DENIED", reason="forbidden")
        try:
            request = json.loads(body or b"{}")
        except ValueError as e:
            message = f"Invalid JSON payload received. {e}"
            return _error(HTTPStatus.BAD_REQUEST, message, "INVALID_ARGUMENT", reason="parseError")
        if not admin:  # with only an API key, the emulator looks up the owner of an idToken
            return _error(HTTPStatus.BAD_REQUEST, "MISSING_ID_TOKEN", reason="invalid")
        return self._lookup(match.group(1), request)

    def _lookup(self, project_id: str, request: object) -> Response:
        local_ids = request.get("localId", []) if isinstance(request, dict) else None
        if not isinstance(local_ids, list) or not all(isinstance(i, str) for i in local_ids):
            message = "Invalid JSON payload received. /localId should be array of strings"
            return _error(HTTPStatus.BAD_REQUEST, message, "INVALID_ARGUMENT", reason="invalid")
        with self._lock:
            self.lookups.append(local_ids)
            known = self._users if project_id == self.project_id else {}
            users = [dict(known[i]) for i in dict.fromkeys(local_ids) if i in known]
        response: dict[str, Any] = {"kind": "identitytoolkit#GetAccountInfoResponse"}
        if users:  # the emulator drops the key when nothing matched
            response["users"] = users
        return HTTPStatus.OK, response


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._reply()

    def do_POST(self) -> None:
        self._reply()

    def _reply(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, payload = self.server.stub.answer(self.command, self.path, self.headers, body)
        content = _json(payload)
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, *args: Any) -> None:
        """Quiet: pytest shows failures, not every request."""


class _Server(ThreadingHTTPServer):
    def __init__(self, stub: AuthEmulatorStub) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stub = stub


def _error(status: int, text: str, grpc_status: str | None = None, **item: str) -> Response:
    """The emulator's error body (errors.ts ApiError.toJSON; a BadRequestError has no status)."""
    domain = {} if status == HTTPStatus.NOT_FOUND else {"domain": "global"}
    error: dict[str, Any] = {"code": status, "message": text}
    error["errors"] = [{"message": text} | domain | item]
    if grpc_status is not None:
        error["status"] = grpc_status
    return status, {"error": error}


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
