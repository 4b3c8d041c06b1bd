"""Personal names normalised for linkage: one Latin spelling per name, whatever way it was typed.

The same child is written «Иван Петров» in one record and «Ivan Petrov» in another, «Пётр» and «Петр»,
«Мария-Магдалена» and «Мария Магдалена», with Latin letters typed inside a Cyrillic word («Пeтpов» with
Latin e and p), in capitals, with stray spaces, stress marks («Ива́н») or full-width letters. The
canonical form is lower-case Latin words separated by single spaces, obtained in this order:

1. Unicode NFKC (ligatures, full-width and other compatibility letters become plain letters);
   apostrophes are dropped (O'Brien → obrien);
2. accents and other combining marks are removed, except the breve of й (so ё → е, but й stays й);
3. a word mixing the two scripts is put into one: into Cyrillic when all its Latin letters look like
   Cyrillic ones (Latin ``e`` for ``е``), else into Latin when all its Cyrillic letters look like Latin
   ones; this is done before lower-casing because capitals (``B``, ``H``, ``M``, ``T``) have twins that
   their small letters lack;
4. lower case;
5. Cyrillic to Latin: the Bulgarian Streamlined System (``bg_latin``) for ``language="bg"``, ICAO Doc
   9303 as in Russian passports (``ru_latin``) for ``language="ru"``; Latin words are left alone. So the
   key is per jurisdiction: «Юлия» is ``yulia`` in Bulgaria and ``iuliia`` in Russia;
6. everything that is not a letter (hyphens, dots, digits) separates words.

Common nouns that are also names (Роза, Вяра, Надежда) are names like any other here.

>>> normalise('Иван Петров') == normalise('Ivan Petrov') == 'ivan petrov'
True
>>> normalise('Пётр Фёдоров', 'ru') == normalise('Петр Федоров', 'ru') == 'petr fedorov'
True
>>> normalise('  иван   ПЕТРОВ ')
'ivan petrov'
>>> normalise('Мария-Магдалена') == normalise('Мария Магдалена') == 'maria magdalena'
True
>>> normalise('Пeтpов') == normalise('Петров')  # Latin e and p inside a Cyrillic word
True
>>> normalise('Ива́н'), normalise('Ｉｖａｎ')
('ivan', 'ivan')
>>> normalise('Юлия', 'bg'), normalise('Юлия', 'ru')
('yulia', 'iuliia')
>>> normalise('Иван') == normalise('Иванка')  # different names stay different
False
>>> name_key('Мария', 'Петрова') == name_key('МАРИЯ', 'Petrova')
True
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable

import polars as pl

from anonymise.transliterate import bg_latin, lookalikes_to_cyrillic, lookalikes_to_latin, ru_latin

LANGUAGES = ("bg", "ru")

_APOSTROPHES = re.compile("['’‘ʼʻʹ`´]")
_WORD = re.compile(r"[^\W\d_]+")  # a run of letters
_CYRILLIC = re.compile(r"[\u0400-\u052f]")
_LATIN = re.compile(r"[A-Za-z]")
_LOOKALIKE_LATIN = frozenset(ch for ch in string.ascii_letters if lookalikes_to_cyrillic(ch) != ch)
_LOOKALIKE_CYRILLIC = frozenset(lookalikes_to_cyrillic(ch) for ch in _LOOKALIKE_LATIN)
_BREVE = "\u0306"
# Letters neither transliteration nor accent removal reaches: Cyrillic outside the Bulgarian and Russian
# alphabets (as ICAO Doc 9303 writes them), and Latin letters with a stroke or ligature, which Unicode
# does not decompose (Turkish ı, Polish ł, Danish ø).
_SPELLED_OUT = str.maketrans(
    {
        "і": "i", "ї": "i", "є": "ie", "ґ": "g", "ў": "u", "ј": "j", "ѕ": "dz",
        "ı": "i", "ł": "l", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ħ": "h", "ŀ": "l",
    }
)  # fmt: skip
_TRANSLITERATE: dict[str, Callable[[str], str]] = {"bg": bg_latin, "ru": ru_latin}


def _without_marks(text: str) -> str:
    """Return ``text`` without combining marks, keeping the breve that makes и into й."""
    decomposed = unicodedata.normalize("NFD", text)
    kept = [
        ch
        for i, ch in enumerate(decomposed)
        if not unicodedata.category(ch).startswith("M") or (ch == _BREVE and i > 0 and decomposed[i - 1] in "иИ")
    ]
    return unicodedata.normalize("NFC", "".join(kept))


def _one_script(word: re.Match[str]) -> str:
    """Return a word mixing Cyrillic and Latin letters written in one script, when its letters allow."""
    text = word.group()
    if not (_CYRILLIC.search(text) and _LATIN.search(text)):
        return text
    if all(ch in _LOOKALIKE_LATIN for ch in _LATIN.findall(text)):
        return lookalikes_to_cyrillic(text)
    if all(ch in _LOOKALIKE_CYRILLIC for ch in _CYRILLIC.findall(text)):
        return lookalikes_to_latin(text)
    return text


def normalise(name: str, language: str = "bg") -> str:
    """Return the canonical spelling of a name: lower-case Latin words and single spaces.

    Letters of scripts other than Latin and Cyrillic are kept (lower-cased) rather than dropped, so that
    two such names do not collapse into the same empty key.

    >>> normalise('ЖЕЛЯЗКОВА'), normalise('Желязкова', 'ru')
    ('zhelyazkova', 'zheliazkova')
    >>> normalise("O'Brien-Smith"), normalise('Aydın Łukasz'), normalise(''), normalise(' - ')
    ('obrien smith', 'aydin lukasz', '', '')
    >>> normalise('Сергей', 'ru'), normalise('Sergey', 'ru')  # Latin input is not re-spelled
    ('sergei', 'sergey')
    >>> normalise('Иван', 'uk')
    Traceback (most recent call last):
        ...
    ValueError: language must be one of ('bg', 'ru'), not 'uk'
    """
    transliterate = _TRANSLITERATE.get(language)
    if transliterate is None:
        raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")
    text = _APOSTROPHES.sub("", unicodedata.normalize("NFKC", _APOSTROPHES.sub("", name)))
    text = _WORD.sub(_one_script, _without_marks(text))
    text = _without_marks(text.casefold())  # casefold can decompose (İ → i + dot)
    text = transliterate(text)
    if language == "bg":
        text = ru_latin(text)  # ы and э of a Russian name in a Bulgarian record
    text = text.translate(_SPELLED_OUT)
    return " ".join(_WORD.findall(text))


def name_key(given: str, family: str, language: str = "bg") -> str:
    """Return ``"<given>|<family>"``, both normalised: the name part of a fallback linkage key.

    The middle name (a patronymic) is left out: records often omit it.

    >>> name_key('  Мария ', 'ПЕТРОВА')
    'maria|petrova'
    """
    return f"{normalise(given, language)}|{normalise(family, language)}"


def _normalise_series(series: pl.Series, language: str) -> pl.Series:
    series = series.cast(pl.String)
    distinct = series.drop_nulls().unique()
    spelled = pl.Series([normalise(value, language) for value in distinct.to_list()], dtype=pl.String)
    return series.replace_strict(distinct, spelled, default=None, return_dtype=pl.String)


def normalise_expr(column: str | pl.Expr, language: str = "bg") -> pl.Expr:
    """Return an expression giving ``normalise`` of each value, computed once per distinct value.

    Nulls stay null; the column keeps its name.

    >>> frame = pl.DataFrame({"given_name": ["Пётр", "Petr", None, "Пётр"]})
    >>> frame.select(normalise_expr("given_name", "ru"))["given_name"].to_list()
    ['petr', 'petr', None, 'petr']
    """
    if language not in _TRANSLITERATE:
        raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")
    expr = pl.col(column) if isinstance(column, str) else column
    return expr.map_batches(lambda s: _normalise_series(s, language), return_dtype=pl.String, is_elementwise=True)


def _iso_date(column: str | pl.Expr) -> pl.Expr:
    """Return a Date or ISO-string column as ``YYYY-MM-DD`` text (null when it is not a date)."""
    expr = pl.col(column) if isinstance(column, str) else column
    return (
        expr.cast(pl.String)
        .str.strip_chars()
        .str.slice(0, 10)
        .str.strptime(pl.Date, "%Y-%m-%d", strict=False)
        .dt.to_string("%Y-%m-%d")
    )


def fallback_key_expr(
    given: str | pl.Expr, family: str | pl.Expr, birth_date: str | pl.Expr, language: str = "bg"
) -> pl.Expr:
    """Return an expression giving ``"fb:<given>|<family>|<YYYY-MM-DD>"``, or null if a part is missing.

    The names are normalised as by ``normalise``; a name that normalises to nothing counts as missing.
    The birth date may be a Date column or ISO text. The result is named ``fallback_key``.

    >>> frame = pl.DataFrame(
    ...     {"given": ["Иван", "Ivan", "Иван", " "], "family": ["Петров", "PETROV", "Петров", "Петров"],
    ...      "born": ["2015-03-07", "2015-03-07", None, "2015-03-07"]}
    ... )
    >>> frame.select(fallback_key_expr("given", "family", "born"))["fallback_key"].to_list()
    ['fb:ivan|petrov|2015-03-07', 'fb:ivan|petrov|2015-03-07', None, None]
    """
    parts = [normalise_expr(given, language), normalise_expr(family, language), _iso_date(birth_date)]
    complete = pl.all_horizontal([part.is_not_null() & (part.str.len_chars() > 0) for part in parts])
    key = pl.concat_str([pl.lit("fb:"), parts[0], pl.lit("|"), parts[1], pl.lit("|"), parts[2]])
    return pl.when(complete).then(key).otherwise(None).alias("fallback_key")
