"""A labelled corpus of synthetic social-work case notes in Bulgarian and Russian, for scoring PII detection.

    from benchmarks.pii_corpus import generate_corpus
    notes = generate_corpus(1000, "bg", seed=0)

Each note is a handful of sentences drawn from templates (an opening one, several body ones, sometimes a
signature) about one family: a child, the mother and the father, the social worker, and sometimes people
who are *not* in the record (a neighbour, a teacher, a grandmother, a relative), who are only findable by a
general name detector. Names appear in many forms: Bulgarian full and three-part names, vocatives
(«Иване»), diminutives («Гошо»), family plurals («семейство Петрови»), surnames after «г-жа»; Russian
names in the nominative, genitive, dative and instrumental («Ивану», «Марией»), surname-first ФИО,
initials («Петрова М. И.») and family forms («семья Петровых»).

Identifiers are valid (ЕГН and ЛНЧ with their check digits, and never valid as each other; СНИЛС, ИНН,
IBAN, ОМС with Luhn) and written in several layouts, with and without their labels; phones are valid
numbers in several formats. Dates of birth appear in context («роден на 12.03.2019», «05.06.2018
г.р.»). The notes also carry distractors that must *not* be flagged: service dates, durations, room and
case numbers, amounts, school and centre names named after people («ОУ „Христо Ботев“», «Школа № 5
имени А. С. Пушкина»), street names in addresses, and common words that are also given names
(«надежда», «вяра», «роза», «любовь»).

Gold spans are recorded while a template is filled, from the offsets of the inserted values, never by
searching the finished text. ``Note.distractors`` records the distractors the same way (entity is the
kind of distractor) so that false positives can be explained.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from stdnum import iban as std_iban
from stdnum import luhn
from stdnum.bg import egn as std_egn
from stdnum.bg import pnf as std_pnf
from stdnum.ru import inn as std_inn

try:  # imported as ``benchmarks.pii_corpus`` or run from inside ``benchmarks/``
    from benchmarks import pii_corpus_data as D
except ImportError:  # pragma: no cover
    import pii_corpus_data as D  # type: ignore[no-redef]

LANGUAGES = ("bg", "ru")


@dataclass(frozen=True)
class Gold:
    """A gold span: ``text[start:end]`` is personal data of type ``entity``.

    ``slot`` names the template placeholder it came from (``C.voc``, ``egn:M``…) and ``template`` the
    template's id, to explain misses; they do not take part in scoring.
    """

    entity: str
    start: int
    end: int
    slot: str = field(default="", compare=False)
    template: str = field(default="", compare=False)


@dataclass
class Note:
    text: str
    language: str
    spans: list[Gold]
    #: The record's people: (full name in the nominative, role). Neighbours, teachers, the grandmother and
    #: relatives mentioned in notes are deliberately not here.
    known: list[tuple[str, str]]
    #: Non-personal look-alikes (service dates, room numbers, common words that are names…), entity = kind.
    distractors: list[Gold] = field(default_factory=list)
    #: (template id, start, end) of each sentence in the note.
    parts: list[tuple[str, int, int]] = field(default_factory=list)


# ------------------------------------------------------------------------------------------ identifiers
_EGN_WEIGHTS = (2, 4, 8, 5, 10, 9, 7, 3, 6)
_LNC_WEIGHTS = (21, 19, 17, 13, 11, 9, 7, 3, 1)


def egn_check(body: str) -> str:
    """Check digit of the nine-digit body of an ЕГН (mod 11, 10 written as 0)."""
    return str(sum(w * int(d) for w, d in zip(_EGN_WEIGHTS, body, strict=True)) % 11 % 10)


def lnc_check(body: str) -> str:
    """Check digit of the nine-digit body of a ЛНЧ (mod 10)."""
    return str(sum(w * int(d) for w, d in zip(_LNC_WEIGHTS, body, strict=True)) % 10)


def snils_check(body: str) -> str:
    """Two-digit check number of the nine-digit body of a СНИЛС."""
    total = sum(w * int(d) for w, d in zip(range(9, 0, -1), body, strict=True))
    if total < 100:
        return f"{total:02d}"
    if total in (100, 101):
        return "00"
    return f"{total % 101 % 100:02d}"


def make_egn(rng: random.Random, born: date, female: bool) -> str:
    """A valid ЕГН for a birth date and sex that is not also a valid ЛНЧ."""
    month = born.month + (40 if born.year >= 2000 else 20 if born.year < 1900 else 0)
    while True:
        serial = 2 * rng.randrange(500) + int(female)
        body = f"{born.year % 100:02d}{month:02d}{born.day:02d}{serial:03d}"
        value = body + egn_check(body)
        if not std_pnf.is_valid(value):
            return value


def make_lnc(rng: random.Random) -> str:
    """A valid ЛНЧ that is not also a valid ЕГН."""
    while True:
        body = "".join(rng.choice("0123456789") for _ in range(9))
        value = body + lnc_check(body)
        if not std_egn.is_valid(value):
            return value


def make_snils(rng: random.Random) -> str:
    """A valid СНИЛС written ``XXX-XXX-XXX YY`` (the checksum applies above 001-001-998)."""
    body = f"{rng.randrange(2_000_000, 999_999_999):09d}"
    check = snils_check(body)
    layout = rng.random()
    if layout < 0.6:
        return f"{body[:3]}-{body[3:6]}-{body[6:]} {check}"
    if layout < 0.8:
        return f"{body[:3]}-{body[3:6]}-{body[6:]}-{check}"
    return body + check


def make_inn(rng: random.Random) -> str:
    """A valid 12-digit personal ИНН of the Samara region (63)."""
    body = "63" + "".join(rng.choice("0123456789") for _ in range(8))
    return body + std_inn.calc_personal_check_digits(body)


def make_iban(rng: random.Random) -> str:
    """A valid Bulgarian IBAN, grouped by four or compact."""
    bban = rng.choice(D.BG_BANKS) + "".join(rng.choice("0123456789") for _ in range(14))
    for check in range(2, 99):
        value = f"BG{check:02d}{bban}"
        if std_iban.is_valid(value):
            break
    if rng.random() < 0.6:
        return " ".join(value[i : i + 4] for i in range(0, len(value), 4))
    return value


def make_oms(rng: random.Random) -> str:
    """A 16-digit unified ОМС policy number (ЕНП) with its Luhn check digit."""
    body = "63" + "".join(rng.choice("0123456789") for _ in range(13))
    value = body + luhn.calc_check_digit(body)
    if rng.random() < 0.3:
        return " ".join(value[i : i + 4] for i in range(0, 16, 4))
    return value


def make_ru_passport(rng: random.Random) -> str:
    series = f"36{rng.randrange(0, 24):02d}"
    number = f"{rng.randrange(100000, 999999)}"
    layout = rng.random()
    if layout < 0.5:
        return f"{series[:2]} {series[2:]} {number}"
    if layout < 0.8:
        return f"{series} {number}"
    return f"{series} № {number}"


def make_birth_certificate(rng: random.Random) -> str:
    sep = rng.choice(("-", "-", " "))
    num = rng.choice((" № ", " № ", " "))
    series = f"{rng.choice(D.RU_BIRTH_CERT_SERIES)}{sep}{rng.choice(D.RU_BIRTH_CERT_LETTERS)}"
    return f"{series}{num}{rng.randrange(100000, 999999)}"


def make_bg_document(rng: random.Random) -> str:
    """A nine-digit Bulgarian identity-card or passport number."""
    return f"{rng.randrange(1, 10)}{rng.randrange(0, 100_000_000):08d}"


def make_phone(rng: random.Random, language: str) -> str:
    d = "".join(rng.choice("0123456789") for _ in range(7))
    if language == "bg":
        if rng.random() < 0.1:  # Ruse landline, 082 + six digits
            return f"082 {d[:3]} {d[3:6]}"
        nsn = "8" + rng.choice("789") + d
        return rng.choice(
            (
                f"+359 {nsn[:2]} {nsn[2:5]} {nsn[5:]}",
                f"0{nsn[:3]} {nsn[3:6]} {nsn[6:]}",
                f"0{nsn}",
                f"+359{nsn}",
                f"0{nsn[:3]}/{nsn[3:]}",
            )
        )
    if rng.random() < 0.1:  # Samara landline
        return f"8 (846) {d[:3]}-{d[3:5]}-{d[5:]}"
    code = rng.choice(D.RU_MOBILE_CODES)
    return rng.choice(
        (
            f"+7 {code} {d[:3]}-{d[3:5]}-{d[5:]}",
            f"8 {code} {d[:3]} {d[3:5]} {d[5:]}",
            f"8 ({code}) {d[:3]}-{d[3:5]}-{d[5:]}",
            f"+7{code}{d}",
            f"8{code}{d}",
        )
    )


def translit(word: str) -> str:
    return "".join(D.TRANSLIT.get(c, c) for c in word.lower())


def make_email(rng: random.Random, given: str, surname: str, language: str) -> str:
    domains = D.BG_EMAIL_DOMAINS if language == "bg" else D.RU_EMAIL_DOMAINS
    g, s = translit(given), translit(surname)
    local = rng.choice(
        (f"{g}.{s}", f"{g[0]}.{s}", f"{g}{rng.randrange(70, 100)}", f"{s}_{g}", f"{g}.{s}{rng.randrange(1, 99)}")
    )
    return f"{local}@{rng.choice(domains)}"


def make_address(rng: random.Random, language: str) -> str:
    n = rng.randrange
    if language == "bg":
        kind = rng.random()
        if kind < 0.35:
            return (
                f"гр. {rng.choice(D.BG_TOWNS)}, ж.к. „{rng.choice(D.BG_COMPLEXES)}“, бл. {n(1, 120)}, "
                f"вх. {rng.choice('АБВГ')}, ет. {n(1, 9)}, ап. {n(1, 80)}"
            )
        if kind < 0.6:
            return f"с. {rng.choice(D.BG_VILLAGES)}, ул. „{rng.choice(D.BG_STREETS)}“ № {n(1, 90)}"
        if kind < 0.85:
            return f"гр. {rng.choice(D.BG_TOWNS)}, ул. „{rng.choice(D.BG_STREETS)}“ № {n(1, 150)}, ет. {n(1, 8)}"
        return f"{rng.choice(D.BG_TOWNS)} {n(1000, 9999)}, бул. „{rng.choice(D.BG_STREETS)}“ {n(1, 200)}"
    kind = rng.random()
    street = rng.choice(D.RU_STREETS)
    if kind < 0.45:
        return f"{rng.choice(D.RU_CITIES)}, {street}, д. {n(1, 250)}, кв. {n(1, 300)}"
    if kind < 0.65:
        return f"443{n(0, 125):03d}, г. Самара, {street}, д. {n(1, 250)}, кв. {n(1, 300)}"
    if kind < 0.8:
        return f"Самарская обл., {rng.choice(D.RU_CITIES)}, {street}, д. {n(1, 99)}, кв. {n(1, 120)}"
    if kind < 0.9:
        return f"{rng.choice(D.RU_SETTLEMENTS)}, {street}, д. {n(1, 60)}"
    return f"{street}, д. {n(1, 250)}, корп. {n(1, 4)}, кв. {n(1, 300)}"


# ----------------------------------------------------------------------------------------------- people
@dataclass
class Person:
    female: bool
    forms: dict[str, str]
    known_name: str


def _bg_person(rng: random.Random, female: bool, stem: str | None = None) -> Person:
    given, voc, dim = rng.choice(D.BG_FEMALE if female else D.BG_MALE)
    stem = stem or rng.choice(D.BG_SURNAMES)
    middle = rng.choice(D.BG_SURNAMES)
    sur = stem + "а" if female else stem
    mid = middle + "а" if female else middle
    forms = {
        "full": f"{given} {sur}",
        "three": f"{given} {mid} {sur}",
        "given": given,
        "voc": voc,
        "dim": dim,
        "sur": sur,
        "fam": stem + "и",
        "init": f"{given[0]}. {sur}",
    }
    return Person(female, forms, forms["three"])


_RU_CASES = ("gen", "dat", "ins")


def _ru_surname_case(stem: str, female: bool, case: str) -> str:
    if female:
        return stem + "а" if case == "nom" else stem + "ой"
    return stem + {"nom": "", "gen": "а", "dat": "у", "ins": "ым"}[case]


def _ru_patronymic_case(patronymic: str, female: bool, case: str) -> str:
    if case == "nom":
        return patronymic
    if female:  # -на
        return patronymic[:-1] + {"gen": "ы", "dat": "е", "ins": "ой"}[case]
    return patronymic + {"gen": "а", "dat": "у", "ins": "ем"}[case]


def _ru_person(rng: random.Random, female: bool, stem: str | None = None) -> Person:
    nom, gen, dat, ins, dim = rng.choice(D.RU_FEMALE if female else D.RU_MALE)
    given = {"nom": nom, "gen": gen, "dat": dat, "ins": ins}
    stem = stem or rng.choice(D.RU_SURNAMES)
    patr = rng.choice(D.RU_PATRONYMICS)[int(female)]
    forms = {"dim": dim, "fam": stem + "ы", "famgen": stem + "ых"}
    for case in ("nom", *_RU_CASES):
        sur = _ru_surname_case(stem, female, case)
        pat = _ru_patronymic_case(patr, female, case)
        suffix = "" if case == "nom" else "_" + case
        forms["given" + suffix] = given[case]
        forms["sur" + suffix] = sur
        forms["full" + suffix] = f"{given[case]} {sur}"
        forms["io" + suffix] = f"{given[case]} {pat}"
        forms["fio" + suffix] = f"{sur} {given[case]} {pat}"
    forms["init"] = f"{forms['sur']} {nom[0]}. {patr[0]}."
    forms["ios"] = f"{nom} {patr} {forms['sur']}"
    return Person(female, forms, forms["ios"])


#: Roles: C child, M mother, F father, S social worker (all four in the record); N neighbour or relative,
#: T teacher or psychologist, G grandmother (not in the record).
_ROLE_SEX = {"F": False, "C": None, "M": True, "S": None, "N": None, "T": None, "G": True}
_KNOWN_ROLES = {"C": "child", "M": "mother", "F": "father", "S": "social_worker"}

# -------------------------------------------------------------------------------------------- templates
# {R.form}: a name form of person R (PERSON). {R?male|female}: a word agreeing with R's sex (no span).
# {kind:R}: an identifier or contact of R; {addr}/{addr2}: addresses; {dob:R}/{dobw:R}: R's birth date.
# Lower-case single words are distractors (no span): {date} {date2} {year} {n} {room} {case} {dur}
# {time} {sum} {school} {centre} {town}.
# Template ids: o = opening, b = body, c = closing.

BG_TEMPLATES: dict[str, str] = {
    "o1": "{C.full}, {C?роден|родена} на {dob:C} г., ЕГН {egn:C}, живее с майка си {M.full} и баща си {F.full} "
    "на адрес {addr}.",
    "o2": "Случай на дете в риск: {C.three} (ЕГН: {egn:C}). Сигналът е подаден на {date} г. от {T.full}, "
    "класен ръководител.",
    "o3": "Детето {C.full} е {C?роден|родена} на {dobw:C} г. Семейство {F.fam} е известно на отдела от {year} г.",
    "o4": "Социална анкета за {C.full}, {egn:C}, адрес: {addr}.",
    "o5": "На {date} г. социалният работник {S.full} посети семейството на {C.given} на адрес {addr}.",
    "b1": "Майката, {M.three}, ЕГН {egn:M}, е безработна от {dur}.",
    "b2": "Бащата {F.full} работи в чужбина и се обажда рядко; телефон за връзка: {phone:F}.",
    "b3": "Телефон на майката: {phone:M}, имейл: {email:M}.",
    "b4": "При посещението {C.dim} беше {C?спокоен|спокойна} и разказа за училище.",
    "b5": "— {C.voc}, как си днес? — попита {S.given}. Детето отговори, че всичко е наред.",
    "b6": "Семейство {F.fam} живее в двустаен апартамент, в който има отделна стая за {C.dim}.",
    "b7": "{N?Съседът|Съседката} {N.full} съобщи, че често чува викове от апартамента на {F.fam}.",
    "b8": "Бащата е чужд гражданин, ЛНЧ {lnc:F}, с разрешение за продължително пребиваване.",
    "b9": "Майката представи лична карта № {idcard:M}, издадена на {date2} г. от МВР – {town}.",
    "b10": "Бащата представи паспорт № {passport:F}, валиден до {date2} г.",
    "b11": "Помощта ще се превежда по сметка {iban:M} на името на {M.full}.",
    "b12": "Срещата ще се проведе в стая {room} на {date} г. от {time} ч. и ще продължи около {n} минути.",
    "b13": "Детето има {n} пропуснати учебни дни през последния месец; класният ръководител {T?г-н|г-жа} "
    "{T.sur} е {T?уведомен|уведомена}.",
    "b14": "Бабата {G.three}, родена на {dob:G} г., живее на адрес {addr2} и може да поеме грижите временно.",
    "b15": "Майката сподели, че иска {C.dim} да тръгне на детска градина; в гласа ѝ имаше надежда.",
    "b16": "В двора на къщата има градина с роза и лозе; битовите условия са добри.",
    "b17": "{C.given} показва вяра в собствените си сили и любов към по-малкия си брат.",
    "b18": "Надежда за подобрение има, ако семейството спазва плана за действие.",
    "b19": "Детето е насочено към ЦОП „{centre}“ за период от {dur}; следваща оценка на {date} г.",
    "b20": "Г-жа {M.sur} заяви, че ще се свърже с нас на {phone:M} или на {email:M}.",
    "b21": "Данни за бащата: {F.three}, {egn:F}, тел. {phone:F}.",
    "b22": "Предстои среща с психолога {T.full} в кабинет № {room}.",
    "b23": "— {F.voc}, трябва да подпишеш декларацията — каза {S.given} на бащата.",
    "b24": "{C.full} посещава {n} клас в ОУ „{school}“.",
    "b25": "Майката {M.full} е родена на {dob:M} г.; ЕГН на детето: {egn:C}.",
    "b26": "Писмо с изх. № {case} от {date} г. е изпратено до {addr}.",
    "b27": "В продължение на {dur} семейството получава помощ от {sum} лв. месечно.",
    "b28": "{N?Братовчедът|Братовчедката} на {C.given}, {N.full}, също живее в къщата.",
    "b29": "{M.voc}, нека се видим отново на {date} г. — каза социалният работник.",
    "b30": "По думите на {M.init} бащата не плаща издръжка от {dur}.",
    "c1": "Изготвил: {S.three}, социален работник, {date} г.",
    "c2": "Социален работник: {S.full}, тел. {phone:S}, {email:S}.",
}

RU_TEMPLATES: dict[str, str] = {
    "o1": "{C.fio}, {C?родился|родилась} {dob:C}, проживает с матерью {M.fio_ins} и отцом {F.fio_ins} по адресу: "
    "{addr}.",
    "o2": "Акт обследования условий жизни {C?несовершеннолетнего|несовершеннолетней} {C.full_gen}, {dob:C} г.р.",
    "o3": "Сообщение поступило {date} от классного руководителя {T.full_gen}.",
    "o4": "Семья {F.famgen} состоит на учёте в отделе с {year} года.",
    "o5": "{date} специалист по социальной работе {S.ios} {S?посетил|посетила} семью по адресу: {addr}.",
    "b1": "Мать, {M.fio}, паспорт {rupass:M}, выдан {date2}, СНИЛС {snils:M}.",
    "b2": "Отец, {F.fio}, ИНН {inn:F}, официально не трудоустроен.",
    "b3": "СНИЛС ребёнка: {snils:C}; полис ОМС № {oms:C}.",
    "b4": "Свидетельство о рождении {birthcert:C} выдано отделом ЗАГС {date2}.",
    "b5": "Контактный телефон матери: {phone:M}, электронная почта: {email:M}.",
    "b6": "Отцу, {F.io_dat}, разъяснены его обязанности.",
    "b7": "{C.dim} охотно {C?общался|общалась} со специалистом и {C?показал|показала} свои рисунки.",
    "b8": "— {C.dim}, ты сегодня {C?завтракал|завтракала}? — {S?спросил|спросила} {S.given}.",
    "b9": "Передать {C.given_dat} направление к психологу {T.full_dat}.",
    "b10": "{N?Сосед|Соседка} {N.full} {N?сообщил|сообщила}, что в квартире {F.famgen} часто шумно.",
    "b11": "С {M.given_ins} проведена беседа о режиме дня ребёнка.",
    "b12": "Бабушка, {G.fio}, {dob:G} г.р., проживает по адресу: {addr2}.",
    "b13": "Встреча назначена на {date} в кабинете № {room}, продолжительность — {n} минут.",
    "b14": "У {C.given_gen} {n} пропусков занятий за месяц; {M.io} обещала контролировать посещаемость.",
    "b15": "Мать выразила надежду, что ситуация улучшится, и веру в помощь специалистов.",
    "b16": "Надежда на улучшение есть при условии соблюдения плана.",
    "b17": "Во дворе растёт роза, чисто; любовь к животным у ребёнка выражена.",
    "b18": "Отец, {F.init}, от подписи отказался.",
    "b19": "ИНН матери: {inn:M}; СНИЛС отца — {snils:F}.",
    "b20": "Ребёнок посещает {n} класс МБОУ «Школа № {room}» г.о. Самара.",
    "b21": "— {M.io}, подпишите, пожалуйста, согласие, — {S?попросил|попросила} {S.full}.",
    "b22": "Сведения о семье {F.famgen} направлены в КДНиЗП {date}; исх. № {case}.",
    "b23": "Дата рождения ребёнка: {dob:C}; {C?зарегистрирован|зарегистрирована} по адресу: {addr}.",
    "b24": "Родственник {C.given_gen}, {N.full}, готов помогать семье.",
    "b25": "Письмо {M.full_dat} направлено {date} по адресу: {addr}.",
    "b26": "Договорились, что {F.given} позвонит по номеру {phone:S} до {date}.",
    "b27": "В течение {dur} семья получает пособие в размере {sum} руб.",
    "b28": "Мать, {M.fio}, {dob:M} г.р., телефон {phone:M}.",
    "b29": "Семья {F.fam} переехала в Самару в {year} году; ранее {C.given} жил(а) с {G.full_ins}.",
    "b30": "С {F.io_ins} проведена профилактическая беседа; отец обещал встать на учёт в центр занятости.",
    "b31": "{C.given} учится в {n} классе МБОУ «Школа № {room} имени {ru_school}».",
    "b32": "Семья направлена в ГКУ СО «Центр помощи детям «{ru_centre}»» на {dur}.",
    "c1": "Специалист по социальной работе {S.init}, тел. {phone:S}.",
    "c2": "Исполнитель: {S.fio}, {email:S}, {date}.",
}

TEMPLATES = {"bg": BG_TEMPLATES, "ru": RU_TEMPLATES}

_SLOT = re.compile(r"\{([^{}]+)\}")
_PERSON_FORM = re.compile(r"^([CMFSNTG])\.(\w+)$")
_AGREE = re.compile(r"^([CMFSNTG])\?([^|]*)\|(.*)$")
_KEYED = re.compile(r"^(\w+):([CMFSNTG])$")


class _Family:
    """The people, identifiers and contacts of one note; each value is drawn once and reused."""

    def __init__(self, rng: random.Random, language: str) -> None:
        self.rng, self.language = rng, language
        make = _bg_person if language == "bg" else _ru_person
        self.people: dict[str, Person] = {}
        for role, sex in _ROLE_SEX.items():
            # the child usually carries the father's surname, the mother often does too
            share = {"C": 0.85, "M": 0.6}.get(role, 0.0)
            stem = self.people["F"].forms["fam"][:-1] if "F" in self.people and rng.random() < share else None
            self.people[role] = make(rng, rng.random() < 0.5 if sex is None else sex, stem)
        today = date(2024, 6, 1)
        spans = {"C": (2008, 2023), "M": (1975, 2002), "F": (1970, 2000), "G": (1945, 1965), "S": (1965, 1999)}
        self.births = {
            role: date(lo, 1, 1) + timedelta(days=rng.randrange((date(hi, 12, 31) - date(lo, 1, 1)).days))
            for role, (lo, hi) in spans.items()
        }
        self.today = today
        self.cache: dict[str, tuple[str, str | None]] = {}

    def known(self) -> list[tuple[str, str]]:
        return [(self.people[r].known_name, role) for r, role in _KNOWN_ROLES.items()]

    # returns (value, entity or None, distractor kind or None)
    def fill(self, slot: str) -> tuple[str, str | None, str | None]:
        if m := _PERSON_FORM.match(slot):
            return self.people[m[1]].forms[m[2]], "PERSON", None
        if m := _AGREE.match(slot):
            return (m[3] if self.people[m[1]].female else m[2]), None, None
        if slot in self.cache:
            value, entity = self.cache[slot]
            return value, entity, None
        value, entity = self._draw(slot)
        if entity is not None:
            self.cache[slot] = (value, entity)
            return value, entity, None
        return value, None, slot

    def _draw(self, slot: str) -> tuple[str, str | None]:
        rng, lang = self.rng, self.language
        m = _KEYED.match(slot)
        if m:
            kind, role = m[1], m[2]
            person = self.people[role]
            if kind == "egn":
                return make_egn(rng, self.births[role], person.female), "EGN"
            if kind == "lnc":
                return make_lnc(rng), "LNC"
            if kind == "idcard":
                return make_bg_document(rng), "BG_ID_CARD"
            if kind == "passport":
                return make_bg_document(rng), "BG_PASSPORT"
            if kind == "iban":
                return make_iban(rng), "IBAN"
            if kind == "phone":
                return make_phone(rng, lang), "PHONE_NUMBER"
            if kind == "email":
                return make_email(rng, person.forms["given"], person.forms["sur"], lang), "EMAIL_ADDRESS"
            if kind == "dob":
                return self.births[role].strftime("%d.%m.%Y"), "DATE_OF_BIRTH"
            if kind == "dobw":
                b = self.births[role]
                return f"{b.day} {D.BG_MONTHS[b.month - 1]} {b.year}", "DATE_OF_BIRTH"
            if kind == "snils":
                return make_snils(rng), "SNILS"
            if kind == "inn":
                return make_inn(rng), "INN"
            if kind == "oms":
                return make_oms(rng), "OMS_POLICY"
            if kind == "rupass":
                return make_ru_passport(rng), "RU_PASSPORT"
            if kind == "birthcert":
                return make_birth_certificate(rng), "RU_BIRTH_CERTIFICATE"
            raise KeyError(slot)
        if slot in ("addr", "addr2"):
            return make_address(rng, lang), "ADDRESS"
        # distractors
        if slot in ("date", "date2"):
            d = self.today - timedelta(days=rng.randrange(1, 900))
            return d.strftime("%d.%m.%Y"), None
        if slot == "year":
            return str(rng.randrange(2015, 2024)), None
        if slot == "n":
            return str(rng.randrange(2, 12)), None
        if slot == "room":
            return str(rng.randrange(1, 420)), None
        if slot == "case":
            return f"{rng.randrange(100, 9999)}/{rng.randrange(2019, 2025)}", None
        if slot == "dur":
            n = rng.randrange(2, 12)
            if lang == "bg":
                return f"{n} {rng.choice(('месеца', 'седмици', 'години'))}", None
            return f"{n} {rng.choice(('месяцев', 'недель', 'лет'))}", None
        if slot == "time":
            return f"{rng.randrange(8, 17)}:{rng.choice(('00', '30'))}", None
        if slot == "sum":
            return str(rng.randrange(5, 80) * 10 if lang == "bg" else rng.randrange(5, 30) * 1000), None
        if slot == "school":
            return rng.choice(D.BG_SCHOOLS), None
        if slot == "centre":
            return rng.choice(D.BG_CENTRES), None
        if slot == "ru_school":
            return rng.choice(D.RU_SCHOOLS), None
        if slot == "ru_centre":
            return rng.choice(D.RU_CENTRES), None
        if slot == "town":
            return rng.choice(D.BG_TOWNS), None
        raise KeyError(slot)


#: Literal words in templates that are also given names, recorded as distractors.
_WORD_DISTRACTORS = re.compile(r"(?i)\b(?:надежд[аыуе]|вяр[аи]|вер[уаы]|роза|любов[ьи]?|слава)\b")


def _render(template_id: str, template: str, family: _Family, offset: int) -> tuple[str, list[Gold], list[Gold]]:
    pieces: list[str] = []
    gold: list[Gold] = []
    distractors: list[Gold] = []
    pos = offset
    last = 0
    for m in _SLOT.finditer(template):
        literal = template[last : m.start()]
        for w in _WORD_DISTRACTORS.finditer(literal):
            distractors.append(Gold("common_word", pos + w.start(), pos + w.end(), w[0], template_id))
        pieces.append(literal)
        pos += len(literal)
        value, entity, distractor = family.fill(m[1])
        if entity is not None:
            gold.append(Gold(entity, pos, pos + len(value), m[1], template_id))
        elif distractor is not None:
            distractors.append(Gold(distractor, pos, pos + len(value), m[1], template_id))
        pieces.append(value)
        pos += len(value)
        last = m.end()
    literal = template[last:]
    for w in _WORD_DISTRACTORS.finditer(literal):
        distractors.append(Gold("common_word", pos + w.start(), pos + w.end(), w[0], template_id))
    pieces.append(literal)
    return "".join(pieces), gold, distractors


def generate_note(rng: random.Random, language: str) -> Note:
    templates = TEMPLATES[language]
    openings = [t for t in templates if t.startswith("o")]
    bodies = [t for t in templates if t.startswith("b")]
    closings = [t for t in templates if t.startswith("c")]
    chosen = [rng.choice(openings), *rng.sample(bodies, rng.randrange(3, 8))]
    if rng.random() < 0.6:
        chosen.append(rng.choice(closings))
    family = _Family(rng, language)
    text_parts: list[str] = []
    spans: list[Gold] = []
    distractors: list[Gold] = []
    parts: list[tuple[str, int, int]] = []
    pos = 0
    for i, tid in enumerate(chosen):
        if i:
            sep = "\n" if rng.random() < 0.3 else " "
            text_parts.append(sep)
            pos += len(sep)
        sentence, gold, distr = _render(tid, templates[tid], family, pos)
        text_parts.append(sentence)
        spans.extend(gold)
        distractors.extend(distr)
        parts.append((tid, pos, pos + len(sentence)))
        pos += len(sentence)
    return Note("".join(text_parts), language, spans, family.known(), distractors, parts)


def generate_corpus(n: int, language: str, seed: int) -> list[Note]:
    """Return ``n`` labelled notes in ``language`` ("bg" or "ru"), reproducible from ``seed``."""
    if language not in TEMPLATES:
        raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")
    rng = random.Random(f"{seed}:{language}")
    return [generate_note(rng, language) for _ in range(n)]
