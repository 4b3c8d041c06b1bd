"""Birth certificates: Russian (``II-МЮ № 123456``) and Bulgarian.

A Russian birth certificate (свидетельство о рождении) has a series of a Roman numeral and two
Cyrillic capital letters, and a six-digit number: ``II-МЮ № 123456``. People type the numeral with
Cyrillic or Latin letters, digits or a small L (``ІІ``, ``11``, ``ll``), and the letters half on the
Latin keyboard (Latin ``M`` for ``М``); ``compact`` puts all of these back and writes the certificate as
``II-МЮ-123456``. It has no check digit: ``validate`` checks the numeral (I to XCIX), that the two
letters are Cyrillic and that the number has six digits.

A Bulgarian birth certificate or birth-act number (``0123/15.03.2015``) has no fixed shape: it is
compacted to its letters and digits, upper-cased, Cyrillic look-alikes made Latin, and accepted when it
has 4 to 20 Latin letters and digits, at least one digit, and is not one repeated character. A
mistyped Russian certificate is not taken for a Bulgarian one: neither ``II-МЮ № 12345`` (Cyrillic
letters) nor ``II-ZZ 12`` (a Roman-numeral series, two letters and digits: a Russian certificate's
shape, but not a valid one).

>>> compact('II-МЮ № 123456')
'II-МЮ-123456'
>>> compact('ll-mю №123456')  # small L for I, Latin m
'II-МЮ-123456'
>>> compact('ІІ МЮ 123456') == compact('11-МЮ-123456') == 'II-МЮ-123456'
True
>>> validate('IV-ЕР 654321')
'IV-ЕР-654321'
>>> validate('0123/15.03.2015')
'012315032015'
>>> validate('IIII-МЮ № 123456')
Traceback (most recent call last):
    ...
stdnum.exceptions.InvalidComponent: IIII is not a Roman numeral
>>> is_valid('II-NЮ № 123456')  # N is not a Cyrillic look-alike
False
>>> is_valid('II-МЮ № 12345')  # five digits
False
>>> validate('II-ZZ 12')  # a Russian series shape with Latin letters and two digits
Traceback (most recent call last):
    ...
stdnum.exceptions.InvalidFormat: a Russian certificate's shape (numeral, two letters, digits) but not a valid one
"""

from __future__ import annotations

import re

from stdnum.exceptions import InvalidComponent, InvalidFormat, InvalidLength, ValidationError

from anonymise.identifiers.passport import without_number_sign
from anonymise.transliterate import lookalikes_to_cyrillic, lookalikes_to_latin

# Characters typed for the Roman numeral: digit 1, small L, Cyrillic і and palochka for I; Cyrillic
# Х and С for X and C. A capital L stays fifty.
_NUMERAL_CHARACTERS = "IiVvXxLCc1lІіӀӏХхСс|"
_NUMERAL = str.maketrans("ivxcl1ІіӀӏХхСс|", "IVXCIIIIIIXXCCI")
_ROMAN = re.compile(r"(?=[IVXLC])(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})")
_RUSSIAN = re.compile(
    rf"\s*(?P<numeral>[{_NUMERAL_CHARACTERS}]+)[\s\-‐‑–—.]*"
    r"(?P<letters>[^\W\d_]{2})[\s\-‐‑–—.]*"
    r"(?P<number>[0-9]{6})\s*"
)
_CYRILLIC_CAPITALS = re.compile(r"[А-ЯЁ]{2}")
_OTHER_THAN_ALPHANUMERIC = re.compile(r"[\W_]+")
_BULGARIAN = re.compile(r"[0-9A-Z]+")
#: A Russian certificate's series and number run together, as the Bulgarian compaction writes them.
_RUSSIAN_SHAPED = re.compile(r"[IVXLC]+[A-Z]{2}[0-9]+")


def _russian(number: str) -> re.Match[str] | None:
    return _RUSSIAN.fullmatch(without_number_sign(number))


def compact(number: str) -> str:
    """Return a Russian certificate as ``II-МЮ-123456``, any other as its upper-case letters and digits."""
    match = _russian(number)
    if match is None:
        return lookalikes_to_latin(_OTHER_THAN_ALPHANUMERIC.sub("", without_number_sign(number)).upper())
    numeral = match["numeral"].translate(_NUMERAL)
    letters = lookalikes_to_cyrillic(match["letters"].upper())
    return f"{numeral}-{letters}-{match['number']}"


def validate(number: str) -> str:
    """Return the compact number if it is a birth certificate number, else raise the error saying why."""
    if _russian(number) is not None:
        number = compact(number)
        numeral, letters, _ = number.split("-")
        if not _ROMAN.fullmatch(numeral):
            raise InvalidComponent(f"{numeral} is not a Roman numeral")
        if not _CYRILLIC_CAPITALS.fullmatch(letters):
            raise InvalidComponent(f"{letters} are not two Cyrillic letters")
        return number
    number = compact(number)
    if not _BULGARIAN.fullmatch(number) or not any(ch.isdigit() for ch in number):
        raise InvalidFormat()
    if _RUSSIAN_SHAPED.fullmatch(number):
        raise InvalidFormat("a Russian certificate's shape (numeral, two letters, digits) but not a valid one")
    if not 4 <= len(number) <= 20:
        raise InvalidLength()
    if len(set(number)) == 1:
        raise InvalidComponent("a single repeated character is a placeholder, not a number")
    return number


def is_valid(number: str) -> bool:
    """Return whether the number is a Russian or Bulgarian birth certificate number."""
    try:
        return bool(validate(number))
    except ValidationError:
        return False
