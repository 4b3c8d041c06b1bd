"""ЕГН (Единен граждански номер), the Bulgarian personal number.

Ten digits: the birth date as YYMMDD, a three-digit birth order number given out by region, and a check
digit. The month carries the century: +20 for births in the 1800s, +40 for births since 2000 (a child
born on 1 February 2015 has ``1542 01``). The ninth digit is even for a man and odd for a woman. The
check digit is the sum of the first nine digits weighted 2, 4, 8, 5, 10, 9, 7, 3, 6, taken mod 11
(10 counts as 0). Validation is ``stdnum.bg.egn``'s: digits, length, a real date, the check digit.

>>> compact('750101 001 0')
'7501010010'
>>> validate('7501010010')
'7501010010'
>>> validate('1542011235')  # born 1 February 2015
'1542011235'
>>> validate('7501010011')
Traceback (most recent call last):
    ...
stdnum.exceptions.InvalidChecksum: The number's checksum or check digit is invalid.
>>> validate('7513010010')  # month 13
Traceback (most recent call last):
    ...
stdnum.exceptions.InvalidComponent: One of the parts of the number are invalid or unknown.
>>> is_valid('75010100')
False
"""

from __future__ import annotations

import unicodedata

from stdnum.bg import egn as _stdnum
from stdnum.exceptions import ValidationError


def compact(number: str) -> str:
    """Return the number without spaces, dashes or dots (full-width digits made plain)."""
    return str(_stdnum.compact(unicodedata.normalize("NFKC", number)))


def validate(number: str) -> str:
    """Return the compact number if it is a valid ЕГН, else raise the ``stdnum`` error saying why."""
    return str(_stdnum.validate(compact(number)))


def is_valid(number: str) -> bool:
    """Return whether the number is a valid ЕГН."""
    try:
        return bool(validate(number))
    except ValidationError:
        return False
