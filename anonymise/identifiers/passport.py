"""Passport and identity-document numbers: Bulgarian, Russian and foreign.

A Bulgarian passport or identity card has 9 digits; a Russian internal passport a 4-digit series and a
6-digit number (``36 05 123456``); a foreign passport 6 to 12 letters and digits (``PA1234567``). None
of them carries a check digit usable here, so only the shape is checked: 6 to 12 Latin letters and
digits once the number is compacted.

People write the number sign in many ways (``№``, ``N°``, ``No.``, ``Nr``, a bare ``N`` before the
digits) and type Cyrillic letters that look like Latin ones (Cyrillic ``Р`` for ``P``); ``compact``
drops the former, turns the latter into Latin, upper-cases and removes spaces, dashes and dots. A
number made of one repeated character (``000000000``) is a placeholder and refused.

>>> compact('№ 36 05 123456')
'3605123456'
>>> compact('No. pa-1234567')
'PA1234567'
>>> validate('N 123456789')
'123456789'
>>> validate('12345')
Traceback (most recent call last):
    ...
stdnum.exceptions.InvalidLength: The number has an invalid length.
>>> validate('МК 1234567')  # Cyrillic М and К read as Latin M and K
'MK1234567'
>>> validate('ЖД 1234567')  # Ж and Д have no Latin look-alike
Traceback (most recent call last):
    ...
stdnum.exceptions.InvalidFormat: The number has an invalid format.
>>> is_valid('000000000')
False
"""

from __future__ import annotations

import re
import unicodedata

from stdnum.exceptions import InvalidComponent, InvalidFormat, InvalidLength, ValidationError

from anonymise.transliterate import lookalikes_to_latin

#: The number sign as people write it before a document number: ``№``, ``N°``, ``Nº``, ``#``, or a
#: ``No``, ``Nr`` or ``N`` starting a word and either ending in ``.`` or ``:`` or followed by digits.
NUMBER_SIGN = re.compile(r"№|N[°º]|#|(?<![^\W_])N[OR]?(?:[.:]|(?=[\s\-–—]*[0-9]))", re.IGNORECASE)

_SEPARATORS = re.compile(r"[\s\-‐‑‒–—.,/\\_]+")
_SHAPE = re.compile(r"[0-9A-Z]+")


def without_number_sign(text: str) -> str:
    """Return ``text`` in Unicode NFKC with the number signs replaced by spaces.

    NFKC turns ``№`` into ``No``, so the signs are removed before and after it.

    >>> without_number_sign('№AB123456').strip(), without_number_sign('ＮＯ．１２３').strip()
    ('AB123456', '123')
    """
    return NUMBER_SIGN.sub(" ", unicodedata.normalize("NFKC", NUMBER_SIGN.sub(" ", text)))


def compact(number: str) -> str:
    """Return the number upper-cased, without number sign, spaces, dashes or dots, in Latin letters."""
    return lookalikes_to_latin(_SEPARATORS.sub("", without_number_sign(number)).upper())


def validate(number: str) -> str:
    """Return the compact number if it has a document number's shape, else raise the error saying why."""
    number = compact(number)
    if not _SHAPE.fullmatch(number):
        raise InvalidFormat()
    if not 6 <= len(number) <= 12:
        raise InvalidLength()
    if len(set(number)) == 1:
        raise InvalidComponent("a single repeated character is a placeholder, not a number")
    return number


def is_valid(number: str) -> bool:
    """Return whether the number has the shape of a passport or identity-document number."""
    try:
        return bool(validate(number))
    except ValidationError:
        return False
