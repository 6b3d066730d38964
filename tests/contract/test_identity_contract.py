"""One contract for the IdentityVerifier port, against the in-memory and the Firebase adapters.

The Firebase flavour is the real firebase-admin path in emulator mode (unsigned tokens, and
check_revoked=True asking AuthEmulatorStub about the user), with our clock deciding expiry.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pytest
import pytest_asyncio
from firebase_admin.exceptions import FirebaseError

from crm.adapters.firebase.identity import EMULATOR_HOST_VARIABLE, FirebaseIdentityVerifier
from crm.adapters.memory.clock import ManualClock
from crm.adapters.memory.identity import InMemoryIdentityVerifier
from crm.domain.errors import ServiceUnavailable, Unauthenticated
from crm.domain.model.identity import (
    InvalidToken,
    TokenExpired,
    TokenRevoked,
    TokenWrongAudience,
    TokenWrongIssuer,
    UserDisabled,
    VerifiedIdentity,
)
from crm.ports.identity import IdentityVerifier
from tests.support.firebase import AuthEmulatorStub, mint_id_token, write_service_account

PROJECT = "crm-contract"
OTHER_PROJECT = "someone-elses-app"
OTHER_ISSUER = f"https://securetoken.google.com/{OTHER_PROJECT}"
ALICE = VerifiedIdentity("alice-uid", "alice@example.com", True, "Alice", "https://p.example/a")
BOB = VerifiedIdentity("bob-uid", None, False, None, None)
CAROL = VerifiedIdentity("carol-uid", "carol@example.com", False, None, None)
HOUR = timedelta(hours=1)
GARBAGE = ("", "not-a-token", "a.b.c", "eyJhbGciOiJub25lIn0.bm90IGpzb24.", "x" * 5000)


class Subject(Protocol):
    """An adapter under test, with the means to mint its tokens and change its users.

    `token` takes the claims to get wrong: expires_at, audience, issuer.
    """

    @property
    def clock(self) -> ManualClock: ...

    @property
    def verifier(self) -> IdentityVerifier: ...

    def token(self, identity: VerifiedIdentity, **claims: Any) -> str: ...

    def disable(self, uid: str) -> None: ...

    def revoke_tokens(self, uid: str) -> None: ...


async def rejection(subject: Subject, token: str, kind: type[Unauthenticated]) -> str:
    """The code of the error verifying `token` raises, checked to be `kind` without the token."""
    with pytest.raises(Unauthenticated) as caught:
        await subject.verifier.verify(token)
    assert type(caught.value) is kind
    assert not token or token not in str(caught.value)
    return caught.value.code


class IdentityVerifierContract:
    """Each subclass provides `subject` for its adapter, from the fixtures that adapter needs."""

    async def test_a_valid_token_proves_the_identity(self, subject: Subject) -> None:
        assert await subject.verifier.verify(subject.token(ALICE)) == ALICE
        assert await subject.verifier.verify(subject.token(BOB)) == BOB

    async def test_a_token_expires_by_the_clock(self, subject: Subject) -> None:
        token = subject.token(ALICE, expires_at=subject.clock.now() + timedelta(minutes=5))
        subject.clock.advance(minutes=5)
        assert await subject.verifier.verify(token) == ALICE
        subject.clock.advance(seconds=1)
        assert await rejection(subject, token, TokenExpired) == "token_expired"

    async def test_a_token_for_another_project_has_the_wrong_audience(
        self, subject: Subject
    ) -> None:
        token = subject.token(ALICE, audience=OTHER_PROJECT)
        assert await rejection(subject, token, TokenWrongAudience) == "token_wrong_audience"

    async def test_a_token_from_another_issuer_is_refused(self, subject: Subject) -> None:
        token = subject.token(ALICE, issuer=OTHER_ISSUER)
        assert await rejection(subject, token, TokenWrongIssuer) == "token_wrong_issuer"

    async def test_revocation_refuses_older_tokens_only(self, subject: Subject) -> None:
        before = subject.token(ALICE)
        subject.clock.advance(seconds=1)
        subject.revoke_tokens(ALICE.uid)
        assert await rejection(subject, before, TokenRevoked) == "token_revoked"
        assert await subject.verifier.verify(subject.token(ALICE)) == ALICE
        assert await subject.verifier.verify(subject.token(BOB)) == BOB

    async def test_a_disabled_user_is_refused(self, subject: Subject) -> None:
        token = subject.token(ALICE)
        subject.disable(ALICE.uid)
        assert await rejection(subject, token, UserDisabled) == "user_disabled"

    @pytest.mark.parametrize("garbage", GARBAGE)
    async def test_garbage_is_an_invalid_token(self, subject: Subject, garbage: str) -> None:
        assert await rejection(subject, garbage, InvalidToken) == "invalid_token"

    async def test_expiry_is_judged_before_revocation(self, subject: Subject) -> None:
        token = subject.token(ALICE, expires_at=subject.clock.now() + timedelta(seconds=1))
        subject.clock.advance(seconds=2)
        subject.revoke_tokens(ALICE.uid)
        await rejection(subject, token, TokenExpired)

    async def test_each_failure_has_its_own_code(self, subject: Subject) -> None:
        expired = subject.clock.now() - timedelta(seconds=1)
        failures = [
            ("not-a-token", InvalidToken),
            (subject.token(CAROL, expires_at=expired), TokenExpired),
            (subject.token(CAROL, audience=OTHER_PROJECT), TokenWrongAudience),
            (subject.token(CAROL, issuer=OTHER_ISSUER), TokenWrongIssuer),
            (subject.token(ALICE), TokenRevoked),
            (subject.token(BOB), UserDisabled),
        ]
        subject.clock.advance(seconds=1)
        subject.revoke_tokens(ALICE.uid)
        subject.disable(BOB.uid)
        codes = {await rejection(subject, token, kind) for token, kind in failures}
        assert len(codes) == len(failures)


@dataclass
class MemorySubject:
    clock: ManualClock
    verifier: InMemoryIdentityVerifier

    def token(self, identity: VerifiedIdentity, **claims: Any) -> str:
        return self.verifier.issue(identity, **claims)

    def disable(self, uid: str) -> None:
        self.verifier.disable(uid)

    def revoke_tokens(self, uid: str) -> None:
        self.verifier.revoke_tokens(uid)


class TestInMemoryIdentityVerifier(IdentityVerifierContract):
    @pytest_asyncio.fixture
    async def subject(self) -> AsyncIterator[Subject]:
        clock = ManualClock()
        yield MemorySubject(clock, InMemoryIdentityVerifier(clock, project_id=PROJECT))


@dataclass
class FirebaseSubject:
    clock: ManualClock
    verifier: FirebaseIdentityVerifier
    stub: AuthEmulatorStub

    def token(
        self, identity: VerifiedIdentity, *, expires_at: datetime | None = None, **claims: Any
    ) -> str:
        if not self.stub.has_user(identity.uid):
            self.stub.add_user(identity.uid, email=identity.email, name=identity.name)
        now = self.clock.now()
        return mint_id_token(
            PROJECT,
            identity.uid,
            email=identity.email,
            email_verified=identity.email_verified,
            name=identity.name,
            picture=identity.picture,
            issued_at=now,
            expires_at=expires_at or now + HOUR,
            **claims,
        )

    def disable(self, uid: str) -> None:
        self.stub.disable(uid)

    def revoke_tokens(self, uid: str) -> None:
        self.stub.revoke_tokens(uid, at=self.clock.now())


@pytest.fixture
def stub() -> Iterator[AuthEmulatorStub]:
    with AuthEmulatorStub(PROJECT) as running:
        yield running


class TestFirebaseIdentityVerifier(IdentityVerifierContract):
    @pytest_asyncio.fixture
    async def subject(self, stub: AuthEmulatorStub) -> AsyncIterator[Subject]:
        clock = ManualClock()
        async with firebase(clock, emulator_host=stub.host) as verifier:
            yield FirebaseSubject(clock, verifier, stub)


@asynccontextmanager
async def firebase(clock: ManualClock, **options: Any) -> AsyncIterator[FirebaseIdentityVerifier]:
    verifier = FirebaseIdentityVerifier(PROJECT, clock=clock, **options)
    try:
        yield verifier
    finally:
        await verifier.close()


def valid_token(clock: ManualClock, uid: str = ALICE.uid, **claims: Any) -> str:
    now = clock.now()
    return mint_id_token(PROJECT, uid, issued_at=now, expires_at=now + HOUR, **claims)


def stopped_emulator_host() -> str:
    """Where an emulator was a moment ago: connections are refused."""
    stub = AuthEmulatorStub(PROJECT).start()
    stub.stop()
    return stub.host


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A service-account key for production mode, which must not see an emulator host."""
    monkeypatch.delenv(EMULATOR_HOST_VARIABLE, raising=False)
    return str(write_service_account(tmp_path / "service-account.json", PROJECT))


class TestFirebaseIdentityVerifierBeyondTheContract:
    async def test_check_revoked_asks_the_emulator(self, stub: AuthEmulatorStub) -> None:
        clock = ManualClock()
        stub.add_user(ALICE.uid)
        async with firebase(clock, emulator_host=stub.host) as verifier:
            assert (await verifier.verify(valid_token(clock))).uid == ALICE.uid
            with pytest.raises(InvalidToken, match="no longer exists"):
                await verifier.verify(valid_token(clock, "gone"))
        assert stub.lookups == [[ALICE.uid], ["gone"]]

    async def test_an_unreachable_emulator_is_a_service_outage(self) -> None:
        clock = ManualClock()
        token = valid_token(clock)
        async with firebase(clock, emulator_host=stopped_emulator_host()) as verifier:
            with pytest.raises(ServiceUnavailable) as caught:
                await verifier.verify(token)
        assert isinstance(caught.value.__cause__, FirebaseError)
        assert token not in str(caught.value)

    async def test_production_mode_refuses_the_emulator_token_offline(self, key_file: str) -> None:
        # The emulated verifier needs no emulator without check_revoked. In production the SDK
        # refuses a token without a "kid" header before it fetches Google's certificates, so
        # this needs no network: the honest outcome is InvalidToken.
        clock = ManualClock()
        token = valid_token(clock)
        host = stopped_emulator_host()
        async with firebase(clock, emulator_host=host, check_revoked=False) as emulated:
            assert (await emulated.verify(token)).uid == ALICE.uid
        async with firebase(clock, credentials_file=key_file) as production:
            with pytest.raises(InvalidToken) as caught:
                await production.verify(token)
        assert type(caught.value) is InvalidToken
        assert isinstance(caught.value.__cause__, FirebaseError)

    @pytest.mark.parametrize(
        ("claims", "kind"),
        [
            ({"audience": OTHER_PROJECT}, TokenWrongAudience),
            ({"issuer": OTHER_ISSUER}, TokenWrongIssuer),
        ],
    )
    async def test_production_mode_names_the_wrong_claim_offline(
        self, key_file: str, claims: dict[str, str], kind: type[Unauthenticated]
    ) -> None:
        # A token shaped like Google's (RS256, a key id) has its aud and iss checked before
        # any certificate is fetched, so this too runs without the network.
        clock = ManualClock()
        header = base64.urlsafe_b64encode(b'{"alg":"RS256","kid":"k1","typ":"JWT"}').decode()
        token = f"{header.rstrip('=')}.{valid_token(clock, **claims).split('.')[1]}.c2ln"
        async with firebase(clock, credentials_file=key_file) as verifier:
            with pytest.raises(kind):
                await verifier.verify(token)

    async def test_production_mode_will_not_run_beside_an_emulated_verifier(
        self, key_file: str
    ) -> None:
        # firebase-admin skips signatures whenever the variable is set, process-wide.
        clock = ManualClock()
        async with firebase(clock, credentials_file=key_file) as production:
            async with firebase(clock, emulator_host="127.0.0.1:9", check_revoked=False):
                with pytest.raises(RuntimeError, match=EMULATOR_HOST_VARIABLE):
                    FirebaseIdentityVerifier(PROJECT, clock=clock, credentials_file=key_file)
                with pytest.raises(RuntimeError, match=EMULATOR_HOST_VARIABLE):
                    await production.verify(valid_token(clock))
            assert EMULATOR_HOST_VARIABLE not in os.environ
            with pytest.raises(InvalidToken):
                await production.verify(valid_token(clock))


LOOKUP = f"/identitytoolkit.googleapis.com/v1/projects/{PROJECT}/accounts:lookup"


@pytest.mark.parametrize(
    ("method", "path", "authorization", "body", "status"),
    [
        ("POST", LOOKUP, "Bearer owner", b'{"localId": ["alice-uid"]}', 200),
        ("POST", LOOKUP, "Bearer someone", b'{"localId": ["alice-uid"]}', 401),
        ("POST", LOOKUP, "", b'{"localId": ["alice-uid"]}', 403),
        ("POST", LOOKUP + "?key=k", "", b'{"localId": ["alice-uid"]}', 400),
        ("POST", LOOKUP, "Bearer owner", b'{"localId": "alice-uid"}', 400),
        ("POST", LOOKUP, "Bearer owner", b"{not json", 400),
        ("GET", LOOKUP, "Bearer owner", b"", 404),
        ("POST", "/v1/accounts:lookup", "Bearer owner", b"{}", 404),
    ],
)
def test_the_stub_answers_as_the_emulator_does(
    stub: AuthEmulatorStub, method: str, path: str, authorization: str, body: bytes, status: int
) -> None:
    stub.add_user(ALICE.uid)
    headers = {"Authorization": authorization} if authorization else {}
    request = urllib.request.Request(f"http://{stub.host}{path}", body or None, headers)
    request.method = method
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            answered, payload = response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        answered, payload = e.code, json.loads(e.read())
    assert answered == status
    if status == 200:
        assert [user["localId"] for user in payload["users"]] == [ALICE.uid]
    else:
        assert payload["error"]["code"] == status
