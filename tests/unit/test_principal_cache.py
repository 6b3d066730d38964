"""The gateway's caller cache: fresh errors from cached refusals, precise forgetting, bounded
memory for unknown keys, and the throttle of failed attempts per address."""

from __future__ import annotations

import asyncio
import secrets
import traceback
import tracemalloc
from uuid import UUID, uuid4

import pytest

from crm.adapters.memory.rate_limiter import InMemoryRateLimiter
from crm.domain.errors import ApiKeyRevoked, DomainError, FieldError, InvalidInput
from crm.domain.model.permissions import ActorKind, Caller, Principal
from crm.domain.use_cases.authenticate import UnknownApiKey
from crm.entrypoints.api.auth import PrincipalCache
from crm.entrypoints.api.auth_throttle import FailureThrottle, TooManyFailedAttempts
from crm.ports.credentials import CredentialChange

WORKSPACE = uuid4()


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class Credentials:
    """Stands in for the Authenticate use case: tokens `key-<n>` are API keys of WORKSPACE,
    anything else is unknown. Counts the lookups (each one a database trip in production)."""

    def __init__(self) -> None:
        self.lookups = 0
        self.actors: dict[str, UUID] = {}
        self.refuse_with: DomainError | None = None
        self.gate: asyncio.Event | None = None

    async def __call__(self, token: str, workspace: str | None) -> Caller:
        self.lookups += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.refuse_with is not None:
            raise self.refuse_with
        if not token.startswith("key-"):
            raise UnknownApiKey("The API key is unknown.")
        actor = self.actors.setdefault(token, uuid4())
        return Caller(Principal(WORKSPACE, actor, ActorKind.API_KEY), None)


def bearer(token: str) -> bytes:
    return f"Bearer {token}".encode()


async def test_a_cached_refusal_raises_a_fresh_error_whose_traceback_does_not_grow() -> None:
    credentials = Credentials()
    credentials.refuse_with = ApiKeyRevoked("The API key has been revoked; create a new one.")
    cache = PrincipalCache(credentials, ttl=30)
    depths: set[int] = set()
    raised_errors: list[BaseException] = []
    for _ in range(50):
        with pytest.raises(ApiKeyRevoked) as raised:
            await cache.caller(bearer("key-1"), None)
        depths.add(len(traceback.extract_tb(raised.value.__traceback__)))
        raised_errors.append(raised.value)
        assert (raised.value.code, raised.value.detail) == (
            "api_key_revoked",
            "The API key has been revoked; create a new one.",
        )
    assert credentials.lookups == 1
    assert len(depths) == 1
    assert len({id(e) for e in raised_errors}) == 50


async def test_a_refusal_keeps_its_class_detail_and_field_errors() -> None:
    credentials = Credentials()
    field = FieldError("X-Workspace-ID", "invalid_uuid", "must be a UUID")
    credentials.refuse_with = InvalidInput("Not a UUID.", errors=(field,))
    cache = PrincipalCache(credentials, ttl=30)
    for _ in range(2):
        with pytest.raises(InvalidInput) as raised:
            await cache.caller(bearer("key-1"), b"nope")
        assert (raised.value.code, raised.value.detail) == ("validation_failed", "Not a UUID.")
        assert raised.value.errors == (field,)
    assert credentials.lookups == 1


async def test_an_unknown_key_is_looked_up_once_whatever_the_workspace_header() -> None:
    credentials = Credentials()
    cache = PrincipalCache(credentials, ttl=0, unknown_key_ttl=60)
    for n in range(20):
        workspace = None if n % 2 else str(uuid4()).encode()
        with pytest.raises(UnknownApiKey):
            await cache.caller(bearer("crm_sk_wrong"), workspace)
    assert credentials.lookups == 1


async def test_unknown_keys_are_forgotten_after_their_ttl() -> None:
    credentials, clock = Credentials(), Clock()
    cache = PrincipalCache(credentials, ttl=0, unknown_key_ttl=60, clock=clock)
    for _ in range(2):
        with pytest.raises(UnknownApiKey):
            await cache.caller(bearer("crm_sk_wrong"), None)
        clock.now += 61
    assert credentials.lookups == 2


async def test_a_flood_of_random_keys_holds_bounded_memory() -> None:
    credentials = Credentials()
    cache = PrincipalCache(credentials, ttl=30, max_entries=500)
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for _ in range(20_000):
            with pytest.raises(UnknownApiKey):
                await cache.caller(bearer(secrets.token_urlsafe(32)), None)
        grown = tracemalloc.take_snapshot().compare_to(before, "filename")
    finally:
        tracemalloc.stop()
    growth = sum(stat.size_diff for stat in grown)
    # 500 entries are a few hundred kB at most; 20,000 kept would be several MB.
    assert growth < 600_000, growth
    # The oldest went first; the newest are still refused without a lookup.
    lookups = credentials.lookups
    last = secrets.token_urlsafe(32)
    for _ in range(2):
        with pytest.raises(UnknownApiKey):
            await cache.caller(bearer(last), None)
    assert credentials.lookups == lookups + 1


async def test_forget_drops_exactly_the_changed_actor() -> None:
    credentials = Credentials()
    cache = PrincipalCache(credentials, ttl=30)
    first = await cache.caller(bearer("key-1"), None)
    await cache.caller(bearer("key-1"), str(WORKSPACE).encode())
    await cache.caller(bearer("key-2"), None)
    assert first.principal is not None
    assert credentials.lookups == 3
    cache.forget(CredentialChange(WORKSPACE, first.principal.actor_id))
    await cache.caller(bearer("key-1"), None)
    await cache.caller(bearer("key-1"), str(WORKSPACE).encode())
    await cache.caller(bearer("key-2"), None)
    assert credentials.lookups == 5
    cache.forget(None)
    await cache.caller(bearer("key-2"), None)
    assert credentials.lookups == 6


async def test_a_lookup_overlapping_a_change_is_not_cached() -> None:
    credentials = Credentials()
    cache = PrincipalCache(credentials, ttl=30)
    credentials.gate = asyncio.Event()
    pending = asyncio.create_task(cache.caller(bearer("key-1"), None))
    await asyncio.sleep(0)
    # The change commits while the lookup is in flight: what it read may be stale.
    cache.forget(CredentialChange(WORKSPACE, uuid4()))
    credentials.gate.set()
    await pending
    await cache.caller(bearer("key-1"), None)
    assert credentials.lookups == 2


async def test_failed_attempts_are_throttled_per_address_until_the_window_resets() -> None:
    clock, wall = Clock(), Clock()
    limiter = InMemoryRateLimiter(3, 60, clock=wall)
    throttle = FailureThrottle(limiter, 3, clock=clock)
    credentials = Credentials()
    cache = PrincipalCache(credentials, ttl=30, throttle=throttle, clock=clock)
    here, there = ("198.51.100.7", 5000), ("198.51.100.8", 5000)
    known = await cache.caller(bearer("key-known"), None, here)
    for n in range(3):
        with pytest.raises(UnknownApiKey):
            await cache.caller(bearer(f"wrong-{n}"), None, here)
    with pytest.raises(TooManyFailedAttempts) as throttled:
        await cache.caller(bearer("wrong-3"), None, here)
    assert 0 < throttled.value.retry_after <= 60
    lookups = credentials.lookups
    for token in ("wrong-4", "key-new"):
        with pytest.raises(TooManyFailedAttempts):
            await cache.caller(bearer(token), None, here)
    assert credentials.lookups == lookups  # refused before any lookup
    # A credential verified recently is still served; other addresses are not affected.
    assert await cache.caller(bearer("key-known"), None, here) == known
    await cache.caller(bearer("key-new"), None, there)
    with pytest.raises(UnknownApiKey):
        await cache.caller(bearer("wrong-5"), None, there)
    clock.now += throttled.value.retry_after
    wall.now += throttled.value.retry_after
    await cache.caller(bearer("key-new-2"), None, here)


async def test_successful_requests_never_count_as_failures() -> None:
    throttle = FailureThrottle(InMemoryRateLimiter(2, 60), 2)
    cache = PrincipalCache(Credentials(), ttl=0, throttle=throttle)
    for n in range(10):
        await cache.caller(bearer(f"key-{n}"), None, ("203.0.113.9", 1))
    for n in range(2):
        with pytest.raises(UnknownApiKey):
            await cache.caller(bearer(f"wrong-{n}"), None, ("203.0.113.9", 1))
