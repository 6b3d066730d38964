"""The body of a merge (the public contract; the merge rule lives in the domain)."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class MergeRequest(BaseModel):
    """Which record to merge into the one named by the path (the survivor)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"source_id": "0193a3b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b"}]},
    )

    source_id: UUID = Field(
        description="The duplicate: its fields, links, deals, notes and tasks move to the "
        "survivor, then it is deleted and its id answers 404 naming `merged_into`"
    )
