"""ЛНЧ (Личен номер на чужденец), the personal number Bulgaria gives a foreign resident.

Ten digits with no date in them; the last is a check digit: the first nine digits weighted 21, 19, 17,
13, 11, 9, 7, 3, 1, summed, mod 10 (``stdnum.bg.pnf``). A ten-digit number can be a valid ЕГН and a
valid ЛНЧ at once, so the record's identifier type, not the number, says which it is.

The weights add up to 101, so ten copies of any digit pass the checksum: ``0000000000`` and
``1111111111`` are what people type when the number is unknown, and they are refused here as
placeholders (``InvalidComponent``) so that they never link different people.

>>> compact('7111 042 925')
'7111042925'
>>> validate('7111042925')
'7111042925'
>>> validate('7111042922')
Traceback (most recent call last):
    ...
stdnum.exceptions.InvalidChecksum: The number's checksum or check digit is invalid.
>>> validate('0000000000')
Traceback (most recent call last):
    ...
stdnum.exceptions.InvalidComponent: a single repeated digit is a placeholder, not a number
>>> is_valid('71110A2925')
False
"""

from __future__ import annotations

import unicodedata

from stdnum.bg import pnf as _stdnum
from stdnum.exceptions import InvalidComponent, ValidationError


def compact(number: str) -> str:
    """Return the number without spaces, dashes or dots (full-width digits made plain)."""
    return str(_stdnum.compact(unicodedata.normalize("NFKC", number)))


def validate(number: str) -> str:
    """Return the compact number if it is a valid ЛНЧ, else raise the ``stdnum`` error saying why."""
    number = str(_stdnum.validate(compact(number)))
    if len(set(number)) == 1:
        raise InvalidComponent("a single repeated digit is a placeholder, not a number")
    return number


def is_valid(number: str) -> bool:
    """Return whether the number is a valid ЛНЧ."""
    try:
        return bool(validate(number))
    except ValidationError:
        return False
