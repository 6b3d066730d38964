"""The composition root: settings in, adapters built and wired into the use cases."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from crm.adapters.memory.idempotency import InMemoryIdempotencyStore
from crm.adapters.memory.rate_limiter import InMemoryRateLimiter
from crm.adapters.memory.readers import InMemoryApiKeyReader, InMemoryContactReader
from crm.adapters.memory.store import InMemoryUnitOfWork, MemoryStore
from crm.adapters.phonenumbers.parser import LibPhoneNumbers
from crm.adapters.postgres.engine import asyncpg_dsn, create_engine
from crm.adapters.postgres.health import PostgresHealthCheck
from crm.adapters.postgres.idempotency import PostgresIdempotencyStore
from crm.adapters.postgres.readers import AsyncpgApiKeyReader, AsyncpgContactReader, ReadPool
from crm.adapters.postgres.uow import SqlAlchemyUnitOfWork
from crm.adapters.redis.client import build_redis_client
from crm.adapters.redis.health import RedisHealthCheck
from crm.adapters.redis.rate_limiter import RedisRateLimiter
from crm.adapters.system.clock import SystemClock
from crm.adapters.system.ids import Uuid7Generator
from crm.domain.model.workspace import ApiKeySecrets
from crm.domain.use_cases.authenticate import AuthenticateApiKey
from crm.domain.use_cases.create_contact import CreateContact
from crm.domain.use_cases.create_workspace import CreateWorkspace
from crm.domain.use_cases.delete_contact import DeleteContact
from crm.domain.use_cases.get_contact import GetContact
from crm.domain.use_cases.list_contacts import ListContacts
from crm.domain.use_cases.manage_api_keys import CreateApiKey, RevokeApiKey
from crm.domain.use_cases.update_contact import UpdateContact
from crm.ports.health import HealthCheck
from crm.ports.idempotency import IdempotencyStore
from crm.ports.rate_limiter import RateLimiter
from crm.ports.repositories import ApiKeyReader, ContactReader
from crm.ports.system import Clock, IdGenerator
from crm.ports.unit_of_work import UnitOfWorkFactory
from crm.settings import Settings

Hook = Callable[[], Awaitable[None]]
IdempotencyFactory = Callable[[Clock, timedelta], IdempotencyStore]


@dataclass
class Container:
    """Every use case the entrypoints may call, plus the lifecycle of the resources behind them."""

    settings: Settings
    create_workspace: CreateWorkspace
    create_api_key: CreateApiKey
    revoke_api_key: RevokeApiKey
    authenticate: AuthenticateApiKey
    create_contact: CreateContact
    get_contact: GetContact
    list_contacts: ListContacts
    update_contact: UpdateContact
    delete_contact: DeleteContact
    rate_limiter: RateLimiter
    idempotency: IdempotencyStore
    health_checks: list[HealthCheck]
    on_start: list[Hook] = field(default_factory=list)
    on_stop: list[Hook] = field(default_factory=list)

    async def start(self) -> None:
        for hook in self.on_start:
            await hook()

    async def stop(self) -> None:
        for hook in reversed(self.on_stop):
            await hook()


@dataclass
class Storage:
    uow: UnitOfWorkFactory
    contacts: ContactReader
    api_keys: ApiKeyReader
    idempotency: IdempotencyFactory
    health_checks: list[HealthCheck]
    on_start: list[Hook]
    on_stop: list[Hook]


def postgres_storage(url: str, pool_size: int) -> Storage:
    engine = create_engine(url, pool_size=pool_size)
    pool = ReadPool(asyncpg_dsn(url), max_size=pool_size)
    turns = asyncio.Semaphore(pool_size)
    return Storage(
        uow=lambda: SqlAlchemyUnitOfWork(engine, turns),
        contacts=AsyncpgContactReader(pool),
        api_keys=AsyncpgApiKeyReader(pool),
        idempotency=lambda clock, kept: PostgresIdempotencyStore(engine, turns, clock, kept),
        health_checks=[PostgresHealthCheck(pool)],
        on_start=[pool.open],
        on_stop=[pool.close, engine.dispose],
    )


def memory_storage(store: MemoryStore | None = None) -> Storage:
    store = store or MemoryStore()
    return Storage(
        uow=lambda: InMemoryUnitOfWork(store),
        contacts=InMemoryContactReader(store),
        api_keys=InMemoryApiKeyReader(store),
        idempotency=InMemoryIdempotencyStore,
        health_checks=[],
        on_start=[],
        on_stop=[],
    )


def build_rate_limiter(settings: Settings) -> tuple[RateLimiter, list[HealthCheck]]:
    limit, window = settings.rate_limit_requests, settings.rate_limit_window_seconds
    if settings.redis_url is None:
        return InMemoryRateLimiter(limit, window), []
    client = build_redis_client(settings.redis_url)
    return RedisRateLimiter(client, limit, window), [RedisHealthCheck(client)]


def build(
    settings: Settings,
    *,
    storage: Storage | None = None,
    clock: Clock | None = None,
    ids: IdGenerator | None = None,
) -> Container:
    """Wire the real adapters named by `settings`; tests may pass storage, clock or ids."""
    if storage is None:
        if settings.database_url is None:
            raise ValueError("CRM_DATABASE_URL is not set; `crm dev` starts an embedded database.")
        storage = postgres_storage(settings.database_url, settings.database_pool_size)
    clock, ids = clock or SystemClock(), ids or Uuid7Generator()
    secrets = ApiKeySecrets(settings.secret_key.get_secret_value().encode())
    phones = LibPhoneNumbers(settings.default_phone_region)
    limiter, limiter_checks = build_rate_limiter(settings)
    uow = storage.uow
    return Container(
        settings=settings,
        create_workspace=CreateWorkspace(uow, clock, ids, secrets),
        create_api_key=CreateApiKey(uow, clock, ids, secrets),
        revoke_api_key=RevokeApiKey(uow, clock),
        authenticate=AuthenticateApiKey(storage.api_keys, secrets),
        create_contact=CreateContact(uow, clock, ids, phones),
        get_contact=GetContact(storage.contacts),
        list_contacts=ListContacts(storage.contacts),
        update_contact=UpdateContact(uow, clock, ids, phones),
        delete_contact=DeleteContact(uow, clock, ids),
        rate_limiter=limiter,
        idempotency=storage.idempotency(
            clock, timedelta(hours=settings.idempotency_retention_hours)
        ),
        health_checks=storage.health_checks + limiter_checks,
        on_start=list(storage.on_start),
        on_stop=[*storage.on_stop, limiter.close],
    )


def database_url(settings: Settings) -> str:
    """The configured database, else an embedded one started now in the data directory."""
    if settings.database_url is not None:
        return settings.database_url
    from crm.adapters.postgres.embedded import start_embedded_postgres

    return start_embedded_postgres(settings.data_dir.resolve())


def migrate(url: str, revision: str = "head", *, down: bool = False) -> None:
    """Apply (or with `down`, revert to `revision`) the Alembic migrations; blocking."""
    from crm.adapters.postgres import migrations

    if down:
        migrations.downgrade(url, revision)
    else:
        migrations.upgrade(url, revision)
