"""Bulgarian Cyrillic to Latin script, the official Streamlined System (Transliteration Act, 2009).

The Act (Закон за транслитерацията, ДВ бр. 19/2009) fixes one Latin spelling for every Bulgarian
letter. It is what Bulgarian passports, ID cards and road signs use, so it is how a Bulgarian name
appears when a partner types it in Latin letters. Most letters map to one Latin letter; six map to
digraphs or a trigraph (ж→zh, ц→ts, ч→ch, ш→sh, щ→sht, ю→yu, я→ya); ъ becomes ``a`` and ь becomes ``y``.
One rule depends on position: ``ия`` at the end of a word becomes ``ia`` (Мария → Maria), while
elsewhere я stays ``ya`` (Ямбол → Yambol, Илияна → Iliyana) — Art. 5 of the Act. One word is an
exception: the name of the state, България, is written ``Bulgaria`` by tradition, not ``Balgaria``
(Art. 6), so also Република България → Republika Bulgaria. Only that word: the adjective and the
other words built on it follow the rules (български → balgarski, Българово → Balgarovo,
Прабългария → Prabalgaria).

Capitalisation is kept: a capital letter that turns into several Latin letters is written in title
case inside a capitalised word (Щерев → Shterev) and all in capitals inside an all-capital word
(ЖЕЛЯЗКОВ → ZHELYAZKOV). Characters that are not Bulgarian Cyrillic pass through unchanged.

>>> bg_latin('София')
'Sofia'
>>> bg_latin('Стефан Щерев')
'Stefan Shterev'
>>> bg_latin('ЖЕЛЯЗКОВ')
'ZHELYAZKOV'
>>> bg_latin('Юлия'), bg_latin('Юлиана')
('Yulia', 'Yuliana')
>>> bg_latin('Ъглен'), bg_latin('Горна Оряховица')
('Aglen', 'Gorna Oryahovitsa')
>>> bg_latin('Република България'), bg_latin('БЪЛГАРИЯ'), bg_latin('българско')
('Republika Bulgaria', 'BULGARIA', 'balgarsko')
>>> bg_latin('ул. „Христо Ботев“ № 7')
'ul. „Hristo Botev“ № 7'
>>> bg_latin('Marie Curie')  # already Latin: unchanged
'Marie Curie'

Russian names are written as in Russian passports, ICAO Doc 9303 (``ru_latin``, via ``iuliia``), and
words typed with letters of the wrong keyboard layout are put back in one script
(``lookalikes_to_cyrillic``, ``lookalikes_to_latin``).
"""

from __future__ import annotations

import re

import iuliia

_LETTERS: dict[str, str] = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "zh", "з": "z", "и": "i", "й": "y",
    "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u",
    "ф": "f", "х": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sht", "ъ": "a", "ь": "y", "ю": "yu",
    "я": "ya",
}  # fmt: skip


#: The name of the state, a whole word in any case: its ъ is written ``u`` (Transliteration Act, ДВ
#: бр. 19/2009, Art. 6: the name of the Bulgarian state is written in Latin letters as tradition has
#: it, ``Bulgaria``; the Act's one exception for a word — Art. 5 is the word-final ``ия``). Letters
#: around it (Прабългария, Българово) make another word, which follows the rules.
_STATE_NAME = re.compile(r"(?<![^\W\d_])българия(?![^\W\d_])", re.IGNORECASE)


def _is_upper_letter(ch: str) -> bool:
    return ch.isalpha() and ch.isupper()


def bg_latin(text: str) -> str:
    """Return ``text`` with Bulgarian Cyrillic written in the Streamlined System's Latin letters.

    >>> bg_latin('Каменица')
    'Kamenitsa'
    >>> bg_latin('МАРИЯ ИВАНОВА')
    'MARIA IVANOVA'
    >>> bg_latin('Щ.')
    'Sht.'
    >>> bg_latin('Северна България, Българово')
    'Severna Bulgaria, Balgarovo'
    """
    out: list[str] = []
    last = len(text) - 1
    state_u = {m.start() + 1 for m in _STATE_NAME.finditer(text)}  # the ъ of България
    for i, ch in enumerate(text):
        lower = ch.lower()
        latin = _LETTERS.get(lower)
        if latin is None:
            out.append(ch)
            continue
        if i in state_u:
            latin = "u"
        nxt = text[i + 1] if i < last else ""
        if lower == "я" and i > 0 and text[i - 1].lower() == "и" and not nxt.isalpha():
            latin = "a"  # word-final -ия → -ia
        if ch != lower:
            prev = text[i - 1] if i > 0 else ""
            # All capitals when the word around the letter is in capitals, else title case.
            all_caps = _is_upper_letter(nxt) or (_is_upper_letter(prev) and not nxt.isalpha())
            latin = latin.upper() if all_caps else latin.capitalize()
        out.append(latin)
    return "".join(out)


def ru_latin(text: str) -> str:
    """Return ``text`` with Russian Cyrillic written as in Russian passports (ICAO Doc 9303).

    ICAO writes ё as ``e``, й as ``i``, ъ as ``ie`` and drops ь. Letters that are not Russian pass
    through unchanged. Capitals that become several Latin letters are title-cased even inside an
    all-capital word (``iuliia``'s behaviour), so lower-case the text first when comparing.

    >>> ru_latin('Юлия Щеглова')
    'Iuliia Shcheglova'
    >>> ru_latin('Пётр Фёдоров'), ru_latin('Андрей Видный')
    ('Petr Fedorov', 'Andrei Vidnyi')
    >>> ru_latin('ЖЕЛЯЗКОВ')
    'ZhELIaZKOV'
    """
    return str(iuliia.ICAO_DOC_9303.translate(text))


#: Latin letters drawn like a Russian or Bulgarian letter (the Unicode "confusables" of the two
#: alphabets): what a word typed half on the wrong keyboard layout contains.
_LOOKALIKES = {
    "A": "А", "B": "В", "C": "С", "E": "Е", "H": "Н", "K": "К", "M": "М", "O": "О", "P": "Р", "T": "Т",
    "X": "Х", "Y": "У", "a": "а", "c": "с", "e": "е", "o": "о", "p": "р", "x": "х", "y": "у",
}  # fmt: skip
_TO_CYRILLIC = str.maketrans(_LOOKALIKES)
_TO_LATIN = str.maketrans({cyrillic: latin for latin, cyrillic in _LOOKALIKES.items()})


def lookalikes_to_cyrillic(text: str) -> str:
    """Return ``text`` with each Latin letter that looks like a Cyrillic one replaced by that letter.

    >>> lookalikes_to_cyrillic('Пeтpов') == 'Петров'  # Latin e and p
    True
    >>> lookalikes_to_cyrillic('MЮ') == 'МЮ'  # Latin M
    True
    >>> lookalikes_to_cyrillic('Ivan').isascii()  # the Latin a becomes Cyrillic: mind where you use it
    False
    """
    return text.translate(_TO_CYRILLIC)


def lookalikes_to_latin(text: str) -> str:
    """Return ``text`` with each Cyrillic letter that looks like a Latin one replaced by that letter.

    >>> lookalikes_to_latin('РА1234567') == 'PA1234567'  # Cyrillic Р and А
    True
    >>> lookalikes_to_latin('Жоро')[1:]  # ж has no Latin twin
    'opo'
    """
    return text.translate(_TO_LATIN)
