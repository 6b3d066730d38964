"""What the search contract expects of the world in `search_world.py`: the records each
filter finds and the order of each sort."""

from __future__ import annotations

from typing import Any


def f(field: str, operator: str, value: Any = None) -> dict[str, Any]:
    return {"field": field, "operator": operator, "value": value}


def one(*filters: dict[str, Any]) -> dict[str, Any]:
    return {"filter_groups": [{"filters": list(filters)}]}


# (filter, the contacts it finds) on the world of tests/support/search_world.py.
CONTACT_CASES = [
    (f("first_name", "eq", "Ada"), {"ada"}),
    (f("first_name", "eq", "ada"), set()),
    (f("first_name", "neq", "Ada"), {"alan", "grace", "alexandra"}),
    (f("first_name", "in", ["Ada", "Alan"]), {"ada", "alan"}),
    (f("first_name", "not_in", ["Ada"]), {"alan", "grace", "alexandra"}),
    (f("first_name", "contains", "AL"), {"alan", "alexandra"}),
    (f("first_name", "starts_with", "al"), {"alan", "alexandra"}),
    (f("last_name", "ends_with", "ING"), {"alan"}),
    (f("first_name", "contains", "%"), set()),
    (f("first_name", "is_null", True), {"grace"}),
    (f("first_name", "is_null", False), {"ada", "alan", "alexandra"}),
    (f("created_at", "lt", "2026-03-01T09:30:03Z"), {"ada", "alan"}),
    (f("created_at", "gte", "2026-03-01T10:30:03+01:00"), {"grace", "alexandra"}),
    (f("updated_at", "eq", "2026-03-01T09:30:05Z"), {"alan", "grace"}),
    (f("email", "eq", "GRACE@navy.mil"), {"grace"}),
    (f("email", "in", ["alan@bletchley.org", "nobody@x.com"]), {"alan"}),
    (f("email", "ends_with", "@acme.com"), {"ada", "grace"}),
    (f("email", "neq", "ada@acme.com"), {"alan", "grace", "alexandra"}),
    (f("email", "not_in", ["ada@acme.com", "grace@acme.com"]), {"alan", "alexandra"}),
    (f("email", "is_null", True), {"alexandra"}),
    (f("phone", "eq", "+1 415 555 2671"), {"ada"}),
    (f("phone", "contains", "4155"), {"ada", "alexandra"}),
    (f("tags", "eq", "VIP"), {"ada", "grace"}),
    (f("tags", "in", ["navy", "none"]), {"grace"}),
    (f("tags", "not_in", ["vip"]), {"alan", "alexandra"}),
    (f("tags", "contains", ["vip", "navy"]), {"grace"}),
    (f("tags", "is_null", True), {"alan", "alexandra"}),
    (f("lifecycle_stage", "in", ["lead", "customer"]), {"ada", "alan", "alexandra"}),
    (f("external_id", "eq", "crm-1"), {"ada"}),
    (f("external_id", "is_null", True), {"alan", "grace", "alexandra"}),
    (f("custom_fields.score", "gt", 5), {"ada", "alexandra"}),
    (f("custom_fields.score", "lte", 7), {"ada", "alan"}),
    (f("custom_fields.score", "eq", 3.5), {"alan"}),
    (f("custom_fields.plan", "eq", "gold"), {"ada"}),
    (f("custom_fields.plan", "neq", "gold"), {"alan", "grace", "alexandra"}),
    (f("custom_fields.renewal", "lt", "2026-06-01"), {"ada"}),
    (f("custom_fields.seen", "gte", "2026-01-02T11:00:00+01:00"), {"ada"}),
    (f("custom_fields.vip", "eq", True), {"ada"}),
    (f("custom_fields.vip", "is_null", True), {"alan", "grace", "alexandra"}),
    (f("custom_fields.langs", "eq", "fr"), {"ada"}),
    (f("custom_fields.langs", "in", ["de", "fr"]), {"ada", "alan"}),
    (f("custom_fields.langs", "contains", ["en", "fr"]), {"ada"}),
    (f("custom_fields.langs", "not_in", ["de"]), {"ada", "grace", "alexandra"}),
    (f("company.industry", "eq", "Software"), {"ada", "grace"}),
    (f("company.domain", "eq", "https://www.NAVY.mil/"), {"grace"}),
    (f("company.country", "in", ["us"]), {"grace"}),
    (f("company.tags", "is_null", False), set()),
]
DEAL_CASES = [
    (f("contact.email", "ends_with", "@acme.com"), {"renewal", "navy_deal"}),
    (f("company.name", "contains", "navy"), {"navy_deal"}),
    (f("amount_minor", "gte", 1000), {"renewal"}),
    (f("amount_minor", "is_null", True), {"navy_deal"}),
    (f("amount_minor", "neq", 100), {"renewal", "navy_deal"}),
    (f("expected_close_date", "lt", "2026-03-01"), {"small"}),
    (f("status", "eq", "won"), {"navy_deal"}),
    (f("currency", "eq", "eur"), {"renewal"}),
]
COMPANY_CASES = [
    (f("contact.first_name", "eq", "Ada"), {"acme"}),
    (f("contact.tags", "eq", "navy"), {"acme", "navy"}),
    (f("name", "contains", "corp"), {"acme"}),
    (f("domain", "eq", "ACME.com"), {"acme"}),
    (f("size_band", "eq", "51-200"), {"acme", "navy"}),
]


# Text sorts are in code point order ("Lovelace" < "Turing" < "grey"); empty values last;
# alan and grace share updated_at: ties by id (creation order), reversed when descending.
EXPECTED_ORDER = {
    "created_at": ["ada", "alan", "grace", "alexandra"],
    "-created_at": ["alexandra", "grace", "alan", "ada"],
    "updated_at": ["alexandra", "alan", "grace", "ada"],
    "-updated_at": ["ada", "grace", "alan", "alexandra"],
    "last_name": ["ada", "alan", "alexandra", "grace"],
    "-last_name": ["alexandra", "alan", "ada", "grace"],
    "first_name": ["ada", "alan", "alexandra", "grace"],
    "-first_name": ["alexandra", "alan", "ada", "grace"],
}
