"""Amounts: integer minor units in an ISO 4217 currency, both given or neither."""

from __future__ import annotations

from typing import Any

from crm.domain.errors import FieldError, InvalidInput
from crm.domain.model.contact_rules import MAX_SAFE_INTEGER

# ISO 4217 list one (current funds and currencies, as published by SIX, amendment 179),
# with each currency's minor unit. Codes without a minor unit (precious metals, XDR, XSU,
# XUA) and the testing/no-currency codes XTS and XXX are left out: an amount in minor units
# needs one. Withdrawn codes (ANG, HRK, SLL, ZWL, ...) are not accepted for new amounts.
_EXPONENTS: dict[int, str] = {
    0: "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF",
    3: "BHD IQD JOD KWD LYD OMR TND",
    4: "CLF UYW",
    2: (
        "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP "
        "BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR "
        "FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR "
        "KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV "
        "MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR "
        "SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TRY TTD TWD TZS UAH USD "
        "USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG"
    ),
}
MINOR_UNITS: dict[str, int] = {
    code: exponent for exponent, codes in _EXPONENTS.items() for code in codes.split()
}
"""Every accepted currency code and its number of decimal places."""


def currency(value: Any) -> str | None:
    """An ISO 4217 code (case-insensitive on input, upper case stored), or None."""
    if value is None:
        return None
    code = str(value).strip().upper()
    if code not in MINOR_UNITS:
        raise InvalidInput(
            f"{value!r} is not an ISO 4217 currency code.",
            errors=(FieldError("/currency", "invalid_currency", "an ISO 4217 code, e.g. EUR"),),
        )
    return code


def amount_minor(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SAFE_INTEGER:
        raise InvalidInput(
            "An amount is a whole number of minor units (cents), 0 or more.",
            errors=(
                FieldError(
                    "/amount_minor", "out_of_range", f"an integer from 0 to {MAX_SAFE_INTEGER}"
                ),
            ),
        )
    return value


def check_pair(amount: int | None, code: str | None) -> None:
    """An amount needs its currency and a currency needs an amount."""
    if (amount is None) == (code is None):
        return
    missing = "/currency" if code is None else "/amount_minor"
    raise InvalidInput(
        "amount_minor and currency go together: give both or neither.",
        errors=(FieldError(missing, "amount_needs_currency", "give amount_minor and currency"),),
    )
