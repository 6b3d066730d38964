"""WhatsApp channels: request and response schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from crm.domain.model.channels import MAX_NAME

_CURSOR = "Pass as `cursor` for the next page; null at the end"
_PHONE_NUMBER_ID = (
    "The number's phone number id in the WhatsApp Business Cloud API (digits, from Meta's "
    "WhatsApp Manager). One workspace per phone number id: `409 whatsapp_number_connected` "
    "when it is connected anywhere already."
)
_DISPLAY = (
    "The number as people dial it, international form (`+15550783881`; spaces, dashes, dots "
    "and parentheses are accepted and dropped)."
)
_ACCESS_DOC = (
    "An access token allowed to send messages from this number (a system user's token). "
    "Stored encrypted, never returned: answers show its last four characters."
)
_LAST4 = "The last four characters of the stored access token"
_CREATE_CONTACTS = (
    "Whether a message from a number that no contact of the workspace has creates a contact "
    "(named after the sender's WhatsApp profile). Off: the chat stays unlinked until a "
    "contact gets the number or someone links one."
)
CreateContacts = Annotated[bool, Field(description=_CREATE_CONTACTS)]


def _input(example: JsonDict) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})


PhoneNumberId = Annotated[
    str, Field(min_length=1, max_length=32, pattern=r"^[0-9]+$", description=_PHONE_NUMBER_ID)
]
DisplayNumber = Annotated[
    str, Field(min_length=1, max_length=64, description=_DISPLAY, examples=["+15550783881"])
]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME, description="A label for people")]
Token = Annotated[
    str, Field(min_length=16, max_length=4096, pattern=r"^[!-~]+$", description=_ACCESS_DOC)
]


class WhatsAppChannelCreate(BaseModel):
    """A WhatsApp Business phone number to connect."""

    model_config = _input(
        {
            "phone_number_id": "106540352242922",
            "display_phone_number": "+1 555-078-3881",
            "name": "Sales line",
            "access_token": "EAAGm0PX4ZCpsBAKZC2E0example0token0ZDZD",
        }
    )
    phone_number_id: PhoneNumberId
    display_phone_number: DisplayNumber
    name: Name | None = None
    access_token: Token
    create_contacts: CreateContacts = False


class WhatsAppChannelUpdate(BaseModel):
    """Partial update; `name: null` removes the label. The phone number id cannot change."""

    model_config = _input({"access_token": "EAAGm0PX4ZCpsBAKZC2E0new0token0ZDZD"})
    display_phone_number: DisplayNumber | None = None
    name: Name | None = None
    access_token: Token | None = None
    create_contacts: CreateContacts | None = None


class WhatsAppChannel(BaseModel):
    id: UUID
    phone_number_id: str = Field(description=_PHONE_NUMBER_ID)
    display_phone_number: str = Field(description="E.164, e.g. `+15550783881`")
    name: str | None
    access_token_last4: str = Field(description=_LAST4)
    create_contacts: CreateContacts
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Increases on every change; send it back in If-Match")


class WhatsAppChannelPage(BaseModel):
    data: list[WhatsAppChannel]
    next_cursor: str | None = Field(description=_CURSOR)
