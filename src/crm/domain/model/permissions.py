"""Who may do what: one table for the roles people hold, one for the scopes API keys carry.

People act with their role in the workspace (owner, admin, member); API keys act with their
scopes. Both answer the same question: may this principal take this action? Rules that
depend on the record (a member deletes only records they own; an admin never touches an
owner) are checked by `may_delete_record` and `may_manage_member`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final, Literal
from uuid import UUID

from crm.domain.errors import PermissionDenied


class Role(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


class ActorKind(enum.StrEnum):
    USER = "user"
    API_KEY = "api_key"


class Scope(enum.StrEnum):
    """What an API key may reach. `admin` includes every other scope."""

    CONTACTS_READ = "contacts:read"
    CONTACTS_WRITE = "contacts:write"
    COMPANIES_READ = "companies:read"
    COMPANIES_WRITE = "companies:write"
    DEALS_READ = "deals:read"
    DEALS_WRITE = "deals:write"
    MEMBERS_READ = "members:read"
    ADMIN = "admin"


class Action(enum.StrEnum):
    READ_CONTACTS = "read_contacts"
    WRITE_CONTACTS = "write_contacts"
    READ_COMPANIES = "read_companies"
    WRITE_COMPANIES = "write_companies"
    READ_DEALS = "read_deals"
    WRITE_DEALS = "write_deals"
    READ_SCHEMA = "read_schema"
    """Pipelines and stages, custom field definitions, the tag catalogue."""
    DELETE_ANY_RECORD = "delete_any_record"
    READ_MEMBERS = "read_members"
    MANAGE_MEMBERS = "manage_members"
    MANAGE_OWNERS = "manage_owners"
    INVITE_MEMBERS = "invite_members"
    MANAGE_API_KEYS = "manage_api_keys"
    MANAGE_CUSTOM_FIELDS = "manage_custom_fields"
    MANAGE_PIPELINES = "manage_pipelines"
    MANAGE_TAGS = "manage_tags"
    MANAGE_BILLING = "manage_billing"
    READ_AUDIT = "read_audit"
    """The workspace's audit log (who did what)."""
    MANAGE_WEBHOOKS = "manage_webhooks"
    """Webhook subscriptions, their secrets and their delivery logs."""
    MANAGE_CHANNELS = "manage_channels"
    """Messaging channels (connected WhatsApp numbers) and their access tokens."""


_EVERYONE = frozenset(
    {
        Action.READ_CONTACTS,
        Action.WRITE_CONTACTS,
        Action.READ_COMPANIES,
        Action.WRITE_COMPANIES,
        Action.READ_DEALS,
        Action.WRITE_DEALS,
        Action.READ_SCHEMA,
        Action.READ_MEMBERS,
    }
)
_ADMINS = _EVERYONE | {
    Action.DELETE_ANY_RECORD,
    Action.MANAGE_PIPELINES,
    Action.MANAGE_TAGS,
    Action.MANAGE_MEMBERS,
    Action.INVITE_MEMBERS,
    Action.MANAGE_API_KEYS,
    Action.MANAGE_CUSTOM_FIELDS,
    Action.MANAGE_BILLING,
    Action.READ_AUDIT,
    Action.MANAGE_WEBHOOKS,
    Action.MANAGE_CHANNELS,
}
ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.OWNER: frozenset(Action),
    Role.ADMIN: _ADMINS,
    Role.MEMBER: _EVERYONE,
}
"""The role table: everything else a role may not do."""

EVERY_KEY: Final = "every key"
"""In the scope table: any key may, whatever its scopes (a key must be able to learn the
pipelines, fields and tags of what it writes)."""

SCOPE_FOR: dict[Action, Scope | Literal["every key"] | None] = {
    Action.READ_CONTACTS: Scope.CONTACTS_READ,
    Action.WRITE_CONTACTS: Scope.CONTACTS_WRITE,
    Action.READ_COMPANIES: Scope.COMPANIES_READ,
    Action.WRITE_COMPANIES: Scope.COMPANIES_WRITE,
    Action.READ_DEALS: Scope.DEALS_READ,
    Action.WRITE_DEALS: Scope.DEALS_WRITE,
    Action.READ_SCHEMA: EVERY_KEY,
    # Keys delete whatever their write scope covers (see `require_delete`); this row
    # answers the bare question for a key, asked by nothing else.
    Action.DELETE_ANY_RECORD: Scope.ADMIN,
    Action.READ_MEMBERS: Scope.MEMBERS_READ,
    Action.MANAGE_MEMBERS: Scope.ADMIN,
    Action.MANAGE_OWNERS: None,
    Action.INVITE_MEMBERS: Scope.ADMIN,
    Action.MANAGE_API_KEYS: Scope.ADMIN,
    Action.MANAGE_CUSTOM_FIELDS: Scope.ADMIN,
    Action.MANAGE_PIPELINES: Scope.ADMIN,
    Action.MANAGE_TAGS: Scope.ADMIN,
    Action.MANAGE_BILLING: Scope.ADMIN,
    Action.READ_AUDIT: Scope.ADMIN,
    Action.MANAGE_WEBHOOKS: Scope.ADMIN,
    Action.MANAGE_CHANNELS: Scope.ADMIN,
}
"""The scope table: the scope a key needs for each action (None: only people, never keys)."""


class RoleForbids(PermissionDenied):
    code = "role_forbidden"
    title = "Your role does not allow this"


class MissingScope(PermissionDenied):
    code = "insufficient_scope"
    title = "The API key lacks a scope this needs"

    def __init__(self, scope: Scope | None, action: Action) -> None:
        needed = "a signed-in person" if scope is None else f"the `{scope}` scope"
        super().__init__(f"{action.value.replace('_', ' ').capitalize()} needs {needed}.")
        self.scope = scope


class PersonRequired(PermissionDenied):
    code = "person_required"
    title = "Only a signed-in person can do this"


@dataclass(frozen=True, slots=True)
class Person:
    """A signed-in person, whatever workspace (if any) the request names."""

    user_id: UUID
    email: str | None
    email_verified: bool


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the workspace every query is scoped to, the actor, and what it may do:
    a role for people, scopes for API keys."""

    workspace_id: UUID
    actor_id: UUID
    actor_kind: ActorKind
    role: Role | None = None
    scopes: frozenset[Scope] = frozenset()

    @property
    def is_person(self) -> bool:
        return self.actor_kind is ActorKind.USER

    def may(self, action: Action) -> bool:
        if self.role is not None:
            return action in ROLE_ACTIONS[self.role]
        needed = SCOPE_FOR[action]
        if needed == EVERY_KEY:
            return True
        return needed is not None and (needed in self.scopes or Scope.ADMIN in self.scopes)

    def require(self, action: Action) -> None:
        """Raise the 403 problem that says what is missing unless `action` is allowed."""
        if self.may(action):
            return
        if self.role is None:
            needed = SCOPE_FOR[action]
            raise MissingScope(None if needed == EVERY_KEY else needed, action)
        raise RoleForbids(
            f"A workspace {self.role.value} may not {action.value.replace('_', ' ')}."
        )

    def require_delete(self, owner_id: UUID | None, write: Action = Action.WRITE_CONTACTS) -> None:
        """Deleting a record that `write` covers: members delete only records they own;
        admins and owners delete any, and so does a key with the write scope."""
        self.require(write)
        if self.role is None or (owner_id is not None and owner_id == self.actor_id):
            return
        if self.role is Role.MEMBER:
            raise RoleForbids("A workspace member may delete only records they own.")
        self.require(Action.DELETE_ANY_RECORD)

    def require_manage(self, target: Role, new_role: Role | None = None) -> None:
        """Changing or removing a member: admins manage admins and members; only owners
        touch owners (or make someone an owner)."""
        self.require(Action.MANAGE_MEMBERS)
        if Role.OWNER in (target, new_role) and not self.may(Action.MANAGE_OWNERS):
            if self.role is None:
                raise MissingScope(None, Action.MANAGE_OWNERS)
            raise RoleForbids("Only an owner may change, remove or appoint an owner.")

    def require_person(self) -> None:
        if not self.is_person:
            raise PersonRequired("API keys cannot do this; sign in as a person.")


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated request: `principal` when it acts in a workspace (always, for API
    keys), `person` when a person signed in (never, for API keys)."""

    principal: Principal | None
    person: Person | None

    @property
    def actor_id(self) -> UUID:
        """The API key or person that rate limits and idempotency keys belong to."""
        if self.principal is not None:
            return self.principal.actor_id
        if self.person is None:
            raise ValueError("A caller is a principal, a person or both.")
        return self.person.user_id
