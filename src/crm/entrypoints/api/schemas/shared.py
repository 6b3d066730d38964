"""Schemas several resources share, and named components the document declares by hand."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

Scalar = str | int | float | bool | None

# A named component rather than an inline `anyOf` in every map: SDK generators turn an
# inline union of primitives into an empty class; a named one can be mapped to `Any`.
CUSTOM_FIELD_VALUE = "CustomFieldValue"
COMPONENTS: dict[str, dict[str, Any]] = {
    CUSTOM_FIELD_VALUE: {
        "title": CUSTOM_FIELD_VALUE,
        "description": "A custom field's value: a JSON string, number, boolean or null",
        # A type array, not `anyOf`: openapi-generator warns on a named union of primitives.
        "type": ["string", "integer", "number", "boolean", "null"],
    }
}
_REF = WithJsonSchema({"$ref": f"#/components/schemas/{CUSTOM_FIELD_VALUE}"})


def _scalar(value: object) -> Scalar:
    # One precise error per bad value, instead of one per member of the union.
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise PydanticCustomError("not_a_scalar", "must be a string, number, boolean or null")


ScalarInput = Annotated[Scalar, PlainValidator(_scalar), _REF]
ScalarOutput = Annotated[Scalar, _REF]
