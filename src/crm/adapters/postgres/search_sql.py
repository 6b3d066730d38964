"""The search query tree as one parameterized SQL statement.

Identifiers come only from the tables below (the field catalogue's names); every value, and
every custom field key, is a bound parameter. Predicates follow `memory/search_match.py`:
`neq` and `not_in` also match records without a value; lists (emails, phones, tags,
multi_select) match when any element does (`neq` / `not_in`: when none does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crm.domain.model.custom_fields import ObjectType
from crm.domain.model.search import Condition, FieldRef, SearchQuery
from crm.domain.model.search_fields import RELEVANCE, Kind, Operator
from crm.domain.search_paging import SearchPosition

_SQL_TYPE = {
    Kind.TEXT: "text",
    Kind.ENUM: "text",
    Kind.UUID: "uuid",
    Kind.NUMBER: "numeric",
    Kind.DATE: "date",
    Kind.DATETIME: "timestamptz",
    Kind.BOOLEAN: "boolean",
    Kind.TEXT_LIST: "text",
    Kind.SET: "text",
}
_JSON_TYPE = {
    Kind.TEXT: "string",
    Kind.ENUM: "string",
    Kind.NUMBER: "number",
    Kind.BOOLEAN: "boolean",
    Kind.DATE: "string",
    Kind.DATETIME: "string",
}
_COMPARE = {Operator.LT: "<", Operator.LTE: "<=", Operator.GT: ">", Operator.GTE: ">="}
_PATTERN = {
    Operator.CONTAINS: "%{}%",
    Operator.STARTS_WITH: "{}%",
    Operator.ENDS_WITH: "%{}",
}
# Email conditions the contact_email table answers (emails are stored lower case, and
# partial values are lower-cased by the parser, so LIKE is as good as ILIKE there).
_INDEXED = (
    Operator.EQ,
    Operator.IN,
    Operator.CONTAINS,
    Operator.STARTS_WITH,
    Operator.ENDS_WITH,
)
# Sort columns that are NOT NULL besides created_at and updated_at.
_NOT_NULL = {(ObjectType.COMPANY, "name"), (ObjectType.DEAL, "name")}
_COLUMNS = {"email": "emails", "phone": "phones", "amount_minor": "amount"}
TABLES = {ObjectType.CONTACT: "contact", ObjectType.COMPANY: "company", ObjectType.DEAL: "deal"}
# (record, linked object) -> link table, the record's column, the linked record's column.
_LINKS = {
    (ObjectType.CONTACT, ObjectType.COMPANY): ("contact_company", "contact_id", "company_id"),
    (ObjectType.COMPANY, ObjectType.CONTACT): ("contact_company", "company_id", "contact_id"),
    (ObjectType.DEAL, ObjectType.CONTACT): ("deal_contact", "deal_id", "contact_id"),
    (ObjectType.DEAL, ObjectType.COMPANY): ("deal_company", "deal_id", "company_id"),
}
# The text `q` looks in: the expressions the trigram indexes of migration 0007 are built on.
_SEARCH_TEXT = {
    ObjectType.CONTACT: "crm_contact_search_text({a}.display_name, {a}.first_name,"
    " {a}.last_name, {a}.emails, {a}.phones)",
    ObjectType.COMPANY: "crm_company_search_text({a}.name, {a}.domain)",
    ObjectType.DEAL: "{a}.name",
}


def like_pattern(operator: Operator, value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return _PATTERN[operator].format(escaped)


@dataclass
class Statement:
    """Builds the WHERE clause while collecting the bound values ($1 workspace, $2 limit)."""

    args: list[Any]

    def bind(self, value: Any, sql_type: str) -> str:
        self.args.append(value)
        return f"${len(self.args)}::{sql_type}"

    def where(self, query: SearchQuery, alias: str, after: SearchPosition | None) -> str:
        parts = [f"{alias}.workspace_id = $1"]
        if query.q is not None:
            parts.append(self._q(query.object_type, alias, query.q))
        if query.groups:
            ors = [self._group(query.object_type, alias, g) for g in query.groups]
            parts.append("(" + " OR ".join(ors) + ")")
        if after is not None:
            parts.append(self._keyset(query, alias, after))
        return " AND ".join(parts)

    def _q(self, object_type: ObjectType, alias: str, q: str) -> str:
        """A substring (ILIKE) or a close word (`<%`, word similarity ≥ 0.6): both are
        answered by the trigram index on the searched text."""
        text = _SEARCH_TEXT[object_type].format(a=alias)
        pattern = self.bind(like_pattern(Operator.CONTAINS, q), "text")
        return f"({text} ILIKE {pattern} OR {self.bind(q, 'text')} <% {text})"

    def _group(self, object_type: ObjectType, alias: str, group: tuple[Condition, ...]) -> str:
        if not group:
            return "TRUE"
        return "(" + " AND ".join(self._condition(object_type, alias, c) for c in group) + ")"

    def _condition(self, object_type: ObjectType, alias: str, c: Condition) -> str:
        ref = c.field
        if ref.relation is None:
            return self._predicate(object_type, alias, c)
        table, mine, theirs = _LINKS[(object_type, ref.relation)]
        other = TABLES[ref.relation]
        inner = self._predicate(ref.relation, "o", c)
        return (
            f"EXISTS (SELECT 1 FROM {table} l JOIN {other} o ON o.workspace_id = l.workspace_id"  # noqa: S608
            f" AND o.id = l.{theirs} WHERE l.workspace_id = {alias}.workspace_id"
            f" AND l.{mine} = {alias}.id AND {inner})"
        )

    def _predicate(self, object_type: ObjectType, alias: str, c: Condition) -> str:
        if c.field.kind in (Kind.TEXT_LIST, Kind.SET):
            return self._list(object_type, alias, c)
        column = self.column(alias, c.field)
        if c.operator is Operator.IS_NULL:
            return f"{column} IS {'' if c.value else 'NOT '}NULL"
        sql_type = _SQL_TYPE[c.field.kind]
        match c.operator:
            case Operator.EQ:
                return f"{column} = {self.bind(c.value, sql_type)}"
            case Operator.NEQ:
                return f"{column} IS DISTINCT FROM {self.bind(c.value, sql_type)}"
            case Operator.IN:
                return f"{column} = ANY({self.bind(list(c.value), sql_type + '[]')})"
            case Operator.NOT_IN:
                values = self.bind(list(c.value), sql_type + "[]")
                return f"({column} IS NULL OR {column} <> ALL({values}))"
            case Operator.LT | Operator.LTE | Operator.GT | Operator.GTE:
                return f"{column} {_COMPARE[c.operator]} {self.bind(c.value, sql_type)}"
        return f"{column} ILIKE {self.bind(like_pattern(c.operator, c.value), 'text')}"

    def _list(self, object_type: ObjectType, alias: str, c: Condition) -> str:
        array = self.column(alias, c.field)
        if object_type is ObjectType.CONTACT and _is_email(c.field) and c.operator in _INDEXED:
            return self._by_email(alias, c)
        match c.operator:
            case Operator.IS_NULL:
                return f"cardinality({array}) {'=' if c.value else '>'} 0"
            case Operator.EQ | Operator.NEQ:
                held = f"{array} @> {self.bind([c.value], 'text[]')}"
                return held if c.operator is Operator.EQ else f"NOT ({held})"
            case Operator.IN | Operator.NOT_IN:
                held = f"{array} && {self.bind(list(c.value), 'text[]')}"
                return held if c.operator is Operator.IN else f"NOT ({held})"
            case Operator.CONTAINS if c.field.kind is Kind.SET:
                return f"{array} @> {self.bind(list(c.value), 'text[]')}"
        pattern = self.bind(like_pattern(c.operator, c.value), "text")
        return f"EXISTS (SELECT 1 FROM unnest({array}) AS e(v) WHERE e.v ILIKE {pattern})"  # noqa: S608

    def _by_email(self, alias: str, c: Condition) -> str:
        """The contact_email table is the index of emails (its key is workspace, email); not
        correlated, so the planner can start from it. Partial matches scan its narrow rows
        (a trigram index there is not chosen: every email shares `com`-like trigrams)."""
        if c.operator in _PATTERN:
            match = f"ce.email LIKE {self.bind(like_pattern(c.operator, c.value), 'text')}"
        else:
            values = [c.value] if c.operator is Operator.EQ else list(c.value)
            match = f"ce.email = ANY({self.bind(values, 'text[]')})"
        return (
            f"{alias}.id IN (SELECT ce.contact_id FROM contact_email ce"  # noqa: S608
            f" WHERE ce.workspace_id = $1 AND {match})"
        )

    def column(self, alias: str, ref: FieldRef) -> str:
        """The SQL expression of a field; custom values of another JSON type count as none."""
        if not ref.custom:
            return f"{alias}.{_COLUMNS.get(ref.name, ref.name)}"
        key = self.bind(ref.name, "text")
        value = f"{alias}.custom_fields -> {key}"
        if ref.kind is Kind.SET:
            return (
                f"ARRAY(SELECT jsonb_array_elements_text(CASE WHEN jsonb_typeof({value})"
                f" = 'array' THEN {value} ELSE '[]'::jsonb END))"
            )
        cast = "" if ref.kind in (Kind.TEXT, Kind.ENUM) else f"::{_SQL_TYPE[ref.kind]}"
        return (
            f"(CASE WHEN jsonb_typeof({value}) = '{_JSON_TYPE[ref.kind]}'"
            f" THEN ({alias}.custom_fields ->> {key}){cast} END)"
        )

    def order_by(self, query: SearchQuery, alias: str) -> str:
        column, direction = self.sort_column(query, alias), _direction(query)
        # A column that is never null is ordered plainly, so that the (workspace_id,
        # created_at, id) index gives the order (the planner does not know NULLS LAST is moot).
        nulls = "" if _never_null(query) else " NULLS LAST"
        return f"{column} {direction}{nulls}, {alias}.id {direction}"

    def sort_column(self, query: SearchQuery, alias: str) -> str:
        """The sort's SQL expression (with `q` and no sort asked: the similarity to `q`)."""
        sort = query.sort
        if sort.field == RELEVANCE and query.q is not None:
            text = _SEARCH_TEXT[query.object_type].format(a=alias)
            return f"word_similarity({self.bind(query.q, 'text')}, {text})"
        column = f"{alias}.{_COLUMNS.get(sort.field, sort.field)}"
        # Byte order, like the memory adapter's string order, whatever the database's locale.
        return f'{column} COLLATE "C"' if sort.kind is Kind.TEXT else column

    def _keyset(self, query: SearchQuery, alias: str, after: SearchPosition) -> str:
        """Rows after (value, id) in the sort, those without a value coming last."""
        column = self.sort_column(query, alias)
        beyond = "<" if query.sort.descending else ">"
        last_id = self.bind(after.id, "uuid")
        if after.value is None:
            return f"({column} IS NULL AND {alias}.id {beyond} {last_id})"
        # A similarity is a 4-byte float: compared as one, exactly as the cursor carries it.
        sql_type = "real" if query.sort.field == RELEVANCE else _SQL_TYPE[query.sort.kind]
        value = self.bind(after.value, sql_type)
        if query.sort.kind is Kind.TEXT:
            value += ' COLLATE "C"'
        after_value = f"({column}, {alias}.id) {beyond} ({value}, {last_id})"
        return after_value if _never_null(query) else f"({after_value} OR {column} IS NULL)"


def _never_null(query: SearchQuery) -> bool:
    return (query.object_type, query.sort.field) in _NOT_NULL or query.sort.field in (
        "created_at",
        "updated_at",
        RELEVANCE,
    )


def _is_email(ref: FieldRef) -> bool:
    return ref.name == "email" and not ref.custom


def _direction(query: SearchQuery) -> str:
    return "DESC" if query.sort.descending else "ASC"
