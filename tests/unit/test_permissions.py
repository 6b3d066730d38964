"""The role and scope tables, rule by rule."""

from __future__ import annotations

from uuid import uuid4

import pytest

from crm.domain.model.permissions import (
    Action,
    ActorKind,
    MissingScope,
    PersonRequired,
    Principal,
    Role,
    RoleForbids,
    Scope,
)


def person(role: Role) -> Principal:
    return Principal(uuid4(), uuid4(), ActorKind.USER, role=role)


def key(*scopes: Scope) -> Principal:
    return Principal(uuid4(), uuid4(), ActorKind.API_KEY, scopes=frozenset(scopes))


ROLE_TABLE = {
    # action: (owner, admin, member)
    Action.READ_CONTACTS: (True, True, True),
    Action.WRITE_CONTACTS: (True, True, True),
    Action.READ_COMPANIES: (True, True, True),
    Action.WRITE_COMPANIES: (True, True, True),
    Action.READ_DEALS: (True, True, True),
    Action.WRITE_DEALS: (True, True, True),
    Action.READ_SCHEMA: (True, True, True),
    Action.READ_MEMBERS: (True, True, True),
    Action.DELETE_ANY_RECORD: (True, True, False),
    Action.MANAGE_MEMBERS: (True, True, False),
    Action.INVITE_MEMBERS: (True, True, False),
    Action.MANAGE_API_KEYS: (True, True, False),
    Action.MANAGE_CUSTOM_FIELDS: (True, True, False),
    Action.MANAGE_PIPELINES: (True, True, False),
    Action.MANAGE_TAGS: (True, True, False),
    Action.MANAGE_BILLING: (True, True, False),
    Action.READ_AUDIT: (True, True, False),
    Action.MANAGE_WEBHOOKS: (True, True, False),
    Action.MANAGE_CHANNELS: (True, True, False),
    Action.MANAGE_OWNERS: (True, False, False),
}


def test_the_table_covers_every_action() -> None:
    assert set(ROLE_TABLE) == set(Action)


@pytest.mark.parametrize("action", list(Action))
def test_each_role_may_do_exactly_what_the_table_says(action: Action) -> None:
    for role, allowed in zip(
        (Role.OWNER, Role.ADMIN, Role.MEMBER), ROLE_TABLE[action], strict=True
    ):
        assert person(role).may(action) is allowed, (role, action)
        if not allowed:
            with pytest.raises(RoleForbids) as denied:
                person(role).require(action)
            assert denied.value.code == "role_forbidden"


def test_members_delete_only_records_they_own() -> None:
    member = person(Role.MEMBER)
    member.require_delete(member.actor_id)
    with pytest.raises(RoleForbids, match="only records they own"):
        member.require_delete(uuid4())
    with pytest.raises(RoleForbids):
        member.require_delete(None)
    person(Role.ADMIN).require_delete(uuid4())
    person(Role.OWNER).require_delete(None)
    key(Scope.CONTACTS_WRITE).require_delete(uuid4())
    with pytest.raises(MissingScope):
        key(Scope.CONTACTS_READ).require_delete(uuid4())


def test_deleting_needs_the_write_permission_of_the_records_type() -> None:
    member = person(Role.MEMBER)
    member.require_delete(member.actor_id, Action.WRITE_DEALS)
    with pytest.raises(RoleForbids):
        member.require_delete(uuid4(), Action.WRITE_DEALS)
    key(Scope.DEALS_WRITE).require_delete(uuid4(), Action.WRITE_DEALS)
    with pytest.raises(MissingScope, match="`deals:write`"):
        key(Scope.CONTACTS_WRITE).require_delete(uuid4(), Action.WRITE_DEALS)


def test_every_key_reads_the_schema_whatever_its_scopes() -> None:
    assert key(Scope.CONTACTS_READ).may(Action.READ_SCHEMA)
    assert key(Scope.DEALS_WRITE).may(Action.READ_SCHEMA)
    with pytest.raises(MissingScope, match="`admin`"):
        key(Scope.DEALS_WRITE).require(Action.MANAGE_PIPELINES)
    with pytest.raises(MissingScope, match="`companies:write`"):
        key(Scope.COMPANIES_READ).require(Action.WRITE_COMPANIES)


def test_admins_manage_admins_and_members_but_never_owners() -> None:
    admin = person(Role.ADMIN)
    admin.require_manage(Role.MEMBER, Role.ADMIN)
    admin.require_manage(Role.ADMIN, Role.MEMBER)
    admin.require_manage(Role.MEMBER)
    for target, new_role in (
        (Role.OWNER, Role.MEMBER),
        (Role.MEMBER, Role.OWNER),
        (Role.OWNER, None),
    ):
        with pytest.raises(RoleForbids, match="Only an owner"):
            admin.require_manage(target, new_role)
    person(Role.OWNER).require_manage(Role.OWNER, Role.ADMIN)
    with pytest.raises(RoleForbids):
        person(Role.MEMBER).require_manage(Role.MEMBER, Role.ADMIN)


def test_keys_need_the_scope_of_each_action_and_the_error_names_it() -> None:
    reader = key(Scope.CONTACTS_READ)
    assert reader.may(Action.READ_CONTACTS)
    with pytest.raises(MissingScope) as denied:
        reader.require(Action.WRITE_CONTACTS)
    assert denied.value.code == "insufficient_scope"
    assert denied.value.scope is Scope.CONTACTS_WRITE
    assert "`contacts:write`" in denied.value.detail
    with pytest.raises(MissingScope, match="`admin`"):
        key(Scope.CONTACTS_WRITE, Scope.MEMBERS_READ).require(Action.MANAGE_API_KEYS)


def test_the_admin_scope_includes_every_other_but_never_owner_powers() -> None:
    admin = key(Scope.ADMIN)
    for action in Action:
        assert admin.may(action) is (action is not Action.MANAGE_OWNERS)
    with pytest.raises(MissingScope, match="signed-in person"):
        admin.require_manage(Role.OWNER, Role.MEMBER)


def test_some_things_only_people_do() -> None:
    person(Role.MEMBER).require_person()
    with pytest.raises(PersonRequired):
        key(Scope.ADMIN).require_person()
