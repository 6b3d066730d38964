"""Phone numbers parsed and formatted by Google's libphonenumber port."""

from __future__ import annotations

import phonenumbers


class LibPhoneNumbers:
    """Accepts international numbers (+...); national ones need a default region."""

    def __init__(self, default_region: str | None = None) -> None:
        self._region = default_region

    def to_e164(self, raw: str) -> str | None:
        try:
            number = phonenumbers.parse(raw, self._region)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(number):
            return None
        return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
