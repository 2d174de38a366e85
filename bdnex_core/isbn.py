"""ISBN check digits: shared by the filename parser and the adapters that write ISBNs."""

from __future__ import annotations

import re


def _isbn13_check_digit(first12: str) -> int:
    total = sum(int(digit) * (1 if index % 2 == 0 else 3) for index, digit in enumerate(first12))
    return (10 - total % 10) % 10


def isbn_is_valid(digits: str) -> bool:
    """Whether ``digits`` (no separators) is an ISBN-13 or ISBN-10 with the right check digit."""
    if len(digits) == 13 and digits.isdigit():
        return _isbn13_check_digit(digits[:12]) == int(digits[12])
    if len(digits) == 10 and digits[:9].isdigit() and (digits[9].isdigit() or digits[9] in "xX"):
        total = sum(int(d) * (10 - i) for i, d in enumerate(digits[:9]))
        check = 10 if digits[9] in "xX" else int(digits[9])
        return (total + check) % 11 == 0
    return False


def to_isbn13(value: str | None) -> str | None:
    """A valid ISBN-13 (digits only) from an ISBN-13 or ISBN-10 written any way, else None."""
    if not value:
        return None
    digits = re.sub(r"[^0-9X]", "", value.upper())
    if not isbn_is_valid(digits):
        return None
    if len(digits) == 13:
        return digits if digits[:3] in ("978", "979") else None
    first12 = "978" + digits[:9]
    return first12 + str(_isbn13_check_digit(first12))
