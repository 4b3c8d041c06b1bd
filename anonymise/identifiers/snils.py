"""СНИЛС (страховой номер индивидуального лицевого счёта), the Russian personal insurance number.

Eleven digits written ``XXX-XXX-XXX YY``: a nine-digit account number and a two-digit check number.
The check number is the sum of the nine digits weighted 9, 8, …, 1 (the first digit times 9): a sum
below 100 is the check number itself, 100 and 101 give ``00``, a larger sum is taken mod 101 and a
remainder of 100 again gives ``00``. python-stdnum has no СНИЛС, so it is written here.

Ten copies of one digit in the account number (``000-000-000 00``) pass the checksum too; they are
placeholders and refused (``InvalidComponent``) so that they never link different people.

>>> compact('112-233-445 95')
'11223344595'
>>> validate('112-233-445 95')
'11223344595'
>>> format('11223344595')
'112-233-445 95'
>>> validate('112-233-445 96')
Traceback (most recent call last):
    ...
stdnum.exceptions.InvalidChecksum: The number's checksum or check digit is invalid.
>>> validate('112-233-445')
Traceback (most recent call last):
    ...
stdnum.exceptions.InvalidLength: The number has an invalid length.
>>> is_valid('000-000-000 00')
False
"""

from __future__ import annotations

import unicodedata

from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength, ValidationError
from stdnum.util import clean, isdigits


def compact(number: str) -> str:
    """Return the number without spaces, dashes or dots (full-width digits made plain)."""
    return str(clean(unicodedata.normalize("NFKC", number), " -.")).strip()


def calc_check_digits(number: str) -> str:
    """Return the two-digit check number of a nine-digit account number.

    >>> calc_check_digits('112233445')
    '95'
    """
    total = sum(int(digit) * weight for digit, weight in zip(number, range(9, 0, -1), strict=True))
    check = total if total < 100 else 0 if total <= 101 else total % 101
    return f"{check % 100:02d}"  # a remainder of 100 is written 00


def validate(number: str) -> str:
    """Return the compact number if it is a valid СНИЛС, else raise the error saying why."""
    number = compact(number)
    if not isdigits(number):
        raise InvalidFormat()
    if len(number) != 11:
        raise InvalidLength()
    if len(set(number[:9])) == 1:
        raise InvalidComponent("a single repeated digit is a placeholder, not a number")
    if calc_check_digits(number[:9]) != number[9:]:
        raise InvalidChecksum()
    return number


def is_valid(number: str) -> bool:
    """Return whether the number is a valid СНИЛС."""
    try:
        return bool(validate(number))
    except ValidationError:
        return False


def format(number: str) -> str:  # python-stdnum's name for this verb, though it shadows the builtin
    """Return the number written the usual way, ``XXX-XXX-XXX YY``."""
    number = compact(number)
    return f"{number[:3]}-{number[3:6]}-{number[6:9]} {number[9:]}"
