"""The Bulgarian and Russian recognizers find personal data in natural case-note sentences, and only that."""

from __future__ import annotations

import pytest
from presidio_analyzer import RecognizerResult

from anonymise.pii.engine import ENTITY_PLACEHOLDERS, analyze, analyzer, resolve_overlaps
from anonymise.pii.recognizers.common.phone import ZakrilaPhoneRecognizer

# Every entity type of ours: the person-name recognizers (a colleague's module) are left out, so these
# tests do not depend on them.
OURS = sorted(set(ENTITY_PLACEHOLDERS) - {"PERSON"})

EGN_OF_1990 = "9001011238"  # a valid ЕГН (1 January 1990) and, without its trunk prefix, a Russian mobile
EGN_AND_LNC = "7501010004"  # valid as an ЕГН and as a ЛНЧ
LNC_ONLY = "7111042925"


@pytest.fixture(scope="module", autouse=True)
def built() -> None:
    """Build both analyzers once for the module."""
    analyzer("bg")
    analyzer("ru")


def found(text: str, language: str) -> list[tuple[str, str]]:
    """Return (entity type, covered text) for each result, in text order."""
    return [(r.entity_type, text[r.start : r.end]) for r in analyze(text, language, entities=OURS)]


POSITIVE = [
    ("bg", "Детето е с ЕГН 1943120019 и живее при баба си.", "EGN", "1943120019"),
    ("bg", "Майката, ЕГН:8505123459, не се яви.", "EGN", "8505123459"),
    ("bg", "Бащата (единен граждански номер 9001011238) работи в чужбина.", "EGN", EGN_OF_1990),
    ("bg", "Настойникът е с ЛНЧ 7111042925, гражданин на Украйна.", "LNC", LNC_ONLY),
    ("bg", "Майката е с лична карта № 645123456, издадена от МВР Русе.", "BG_ID_CARD", "645123456"),
    ("bg", "Представи л.к. 645123456 при първата среща.", "BG_ID_CARD", "645123456"),
    ("bg", "Копие от ЛК № 645123456 е в досието.", "BG_ID_CARD", "645123456"),
    ("bg", "Детето има паспорт № 381234567 за пътуването.", "BG_PASSPORT", "381234567"),
    (
        "bg",
        "Помощта се превежда по IBAN BG80 BNBG 9661 1020 3456 78 на майката.",
        "IBAN",
        "BG80 BNBG 9661 1020 3456 78",
    ),
    ("bg", "Сметка BG80BNBG96611020345678.", "IBAN", "BG80BNBG96611020345678"),
    ("ru", "Пособие переводится на счёт DE89 3704 0044 0532 0130 00.", "IBAN", "DE89 3704 0044 0532 0130 00"),
    ("bg", "Майката се обади от 0888 123 456 вечерта.", "PHONE_NUMBER", "0888 123 456"),
    ("bg", "Телефон за връзка: +359 88 812 3456.", "PHONE_NUMBER", "+359 88 812 3456"),
    ("ru", "Мать звонила с номера 8 912 345-67-89.", "PHONE_NUMBER", "8 912 345-67-89"),
    ("ru", "Контакт отца: +7 912 345 67 89.", "PHONE_NUMBER", "+7 912 345 67 89"),
    ("bg", "Имейл на майката: maria.petrova@abv.bg, пише рядко.", "EMAIL_ADDRESS", "maria.petrova@abv.bg"),
    ("ru", "Почта агента ivanova@mail.ru.", "EMAIL_ADDRESS", "ivanova@mail.ru"),
    ("bg", "Детето, родено на 12.03.2019 г., посещава групата.", "DATE_OF_BIRTH", "12.03.2019"),
    ("bg", "Иван, роден на 05.06.2018, е второ дете.", "DATE_OF_BIRTH", "05.06.2018"),
    ("bg", "Сестра му (р. 12.03.2019 г.) е на ясла.", "DATE_OF_BIRTH", "12.03.2019"),
    ("bg", "Дата на раждане: 2019-03-12.", "DATE_OF_BIRTH", "2019-03-12"),
    ("bg", "Бабата, 1955 г.р., се грижи за децата.", "DATE_OF_BIRTH", "1955"),
    ("bg", "Детето е родено на 3 март 2019 в Русе.", "DATE_OF_BIRTH", "3 март 2019"),
    ("ru", "Мальчик родился 12.03.2019 в Самаре.", "DATE_OF_BIRTH", "12.03.2019"),
    ("ru", "Девочка родилась 1 июня 2017 года.", "DATE_OF_BIRTH", "1 июня 2017"),
    ("ru", "Дата рождения: 05.06.2018.", "DATE_OF_BIRTH", "05.06.2018"),
    ("ru", "Отец, 1985 г.р., не работает.", "DATE_OF_BIRTH", "1985"),
    ("ru", "СНИЛС ребёнка 112-233-445 95 предоставлен.", "SNILS", "112-233-445 95"),
    ("ru", "Снилс матери: 11223344595.", "SNILS", "11223344595"),
    ("ru", "ИНН 500100732259 указан в заявлении.", "INN", "500100732259"),
    ("ru", "ИНН организации 7707083893.", "INN", "7707083893"),
    ("ru", "Паспорт серия 36 05 № 123456 выдан в 2015 году.", "RU_PASSPORT", "36 05 № 123456"),
    ("ru", "Мать предъявила паспорт 3605 123456.", "RU_PASSPORT", "3605 123456"),
    ("ru", "Полис ОМС 1234567890123456 у ребёнка есть.", "OMS_POLICY", "1234567890123456"),
    ("ru", "Свидетельство о рождении II-МЮ № 123456 выдано ЗАГС.", "RU_BIRTH_CERTIFICATE", "II-МЮ № 123456"),
    ("ru", "Есть копия св-ва IV-ЕР 654321.", "RU_BIRTH_CERTIFICATE", "IV-ЕР 654321"),
]


@pytest.mark.parametrize(("language", "text", "entity", "span"), POSITIVE, ids=[p[2] + ":" + p[3] for p in POSITIVE])
def test_identifier_is_found_in_a_carrier_sentence(language: str, text: str, entity: str, span: str) -> None:
    assert (entity, span) in found(text, language)


ADDRESSES = [
    (
        "bg",
        "Семейството живее в гр. Русе, ж.к. „Дружба 3“, бл. 12, вх. Б, ет. 4, ап. 11 от 2020 г.",
        "гр. Русе, ж.к. „Дружба 3“, бл. 12, вх. Б, ет. 4, ап. 11",
    ),
    ("bg", "Адрес: с. Калояново, ул. „Васил Левски“ 5, п.к. 4173.", "с. Калояново, ул. „Васил Левски“ 5, п.к. 4173"),
    ("bg", "Посещение на адрес кв. Чародейка, ул. Н. Вапцаров 20; детето спеше.", "кв. Чародейка, ул. Н. Вапцаров 20"),
    (
        "bg",
        "Живеят на бул. „Цар Освободител“ № 12, гр. Велико Търново.",
        "бул. „Цар Освободител“ № 12, гр. Велико Търново",
    ),
    (
        "ru",
        "Проживает: г. Самара, ул. Ленина, д. 5, корп. 2, кв. 17, с бабушкой.",
        "г. Самара, ул. Ленина, д. 5, корп. 2, кв. 17",
    ),
    (
        "ru",
        "Адрес регистрации 443001, г. Сызрань, Самарская обл., пер. Строителей, д. 3.",
        "443001, г. Сызрань, Самарская обл., пер. Строителей, д. 3",
    ),
    ("ru", "Семья переехала на пр-т Кирова, д. 10/2, кв. 5.", "пр-т Кирова, д. 10/2, кв. 5"),
]


@pytest.mark.parametrize(("language", "text", "span"), ADDRESSES, ids=[a[2] for a in ADDRESSES])
def test_an_address_run_is_one_span(language: str, text: str, span: str) -> None:
    assert [s for e, s in found(text, language) if e == "ADDRESS"] == [span]


NEGATIVE = [
    ("bg", "ЕГН 1943120014 е сгрешен в молбата.", "EGN"),  # check digit
    ("bg", "ЕГН 7513010010 е сгрешен.", "EGN"),  # month 13
    ("bg", "ЛНЧ 7111042922 е сгрешен.", "LNC"),
    ("bg", "ЛНЧ 0000000000 е попълнен за неизвестен.", "LNC"),
    ("bg", "Входящ номер 645123456 от деловодството.", "BG_ID_CARD"),  # nine digits without context
    ("bg", "Входящ номер 645123456 от деловодството.", "BG_PASSPORT"),
    ("bg", "Лична карта № 000000000 не е представена.", "BG_ID_CARD"),
    ("bg", "IBAN BG80 BNBG 9661 1020 3456 79 е невалиден.", "IBAN"),
    ("bg", "Код на услугата bg80bnbg96611020345678.", "IBAN"),
    ("bg", "Протокол 12/2023 от 15.09.2022 г.", "PHONE_NUMBER"),
    ("bg", "Пише от maria.petrova@abv.invalidtld", "EMAIL_ADDRESS"),
    ("ru", "СНИЛС 112-233-445 96 с ошибкой.", "SNILS"),
    ("ru", "СНИЛС 000-000-000 00 не указан.", "SNILS"),
    ("ru", "ИНН 7707083894 с ошибкой.", "INN"),
    ("ru", "Номер дела 7707083893 в архиве.", "INN"),  # a valid ИНН but no «ИНН» before it
    ("ru", "Номер заявки 3605 123456 в системе.", "RU_PASSPORT"),
    ("ru", "Номер карты 1234567890123456 в системе.", "OMS_POLICY"),
    ("ru", "Свидетельство IIII-МЮ № 123456 с ошибкой.", "RU_BIRTH_CERTIFICATE"),
    ("ru", "Свидетельство II-МЮ № 12345 с ошибкой.", "RU_BIRTH_CERTIFICATE"),
]


@pytest.mark.parametrize(("language", "text", "entity"), NEGATIVE, ids=[n[0] + ":" + n[1][:30] for n in NEGATIVE])
def test_near_miss_is_not_found(language: str, text: str, entity: str) -> None:
    assert entity not in [e for e, _ in found(text, language)]


def test_egn_of_the_1990s_is_not_a_russian_mobile() -> None:
    russian_reader = ZakrilaPhoneRecognizer("ru")
    assert russian_reader.analyze(f"Номер {EGN_OF_1990}.", ["PHONE_NUMBER"]) == []
    assert found(f"Бащата е с ЕГН {EGN_OF_1990}.", "bg") == [("EGN", EGN_OF_1990)]
    assert "PHONE_NUMBER" not in [e for e, _ in found(f"Номер {EGN_OF_1990} записан.", "ru")]


def test_the_same_digits_with_a_trunk_prefix_or_plus_are_a_phone() -> None:
    assert found("Звонить 8 900 101-12-38 вечером.", "ru") == [("PHONE_NUMBER", "8 900 101-12-38")]
    assert found("Звонить +7 900 101 12 38 вечером.", "ru") == [("PHONE_NUMBER", "+7 900 101 12 38")]


def test_on_a_score_tie_the_checksummed_identifier_wins_over_the_phone() -> None:
    phone = RecognizerResult("PHONE_NUMBER", 6, 16, 0.6)
    egn = RecognizerResult("EGN", 6, 16, 0.6)
    assert [r.entity_type for r in resolve_overlaps([phone, egn])] == ["EGN"]
    assert [r.entity_type for r in resolve_overlaps([egn, phone])] == ["EGN"]


def test_higher_score_wins_an_overlap() -> None:
    low = RecognizerResult("BG_ID_CARD", 0, 9, 0.55)
    high = RecognizerResult("ADDRESS", 0, 20, 0.85)
    apart = RecognizerResult("EMAIL_ADDRESS", 30, 40, 0.5)
    assert resolve_overlaps([low, apart, high]) == [high, apart]


def test_egn_or_lnc_is_decided_by_context() -> None:
    assert found(f"Лицето е с ЛНЧ {EGN_AND_LNC}.", "bg") == [("LNC", EGN_AND_LNC)]
    assert found(f"Лицето е с ЕГН {EGN_AND_LNC}.", "bg") == [("EGN", EGN_AND_LNC)]
    assert found(f"Лицето е с номер {EGN_AND_LNC}.", "bg") == [("EGN", EGN_AND_LNC)]


def test_id_card_or_passport_is_decided_by_context() -> None:
    assert found("Лична карта № 645123456.", "bg") == [("BG_ID_CARD", "645123456")]
    assert found("Паспорт № 645123456.", "bg") == [("BG_PASSPORT", "645123456")]


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("bg", "Посещение на 12.03.2023 г. в центъра, следваща среща на 2023-04-02."),
        ("bg", "Роден на 12.03.2019 г., посещава центъра от 15.09.2022 г."),
        ("ru", "Встреча 15.09.2022 г. Мать с ребёнком пришла на консультацию."),
        ("ru", "Маршрут помощи составлен 1 июня 2023 года."),
        ("bg", "Роден на 31.02.2019 г. според молбата."),  # no such day
    ],
)
def test_service_dates_are_not_dates_of_birth(language: str, text: str) -> None:
    dates = [s for e, s in found(text, language) if e == "DATE_OF_BIRTH"]
    assert dates in ([], ["12.03.2019"])  # only the birth date of the second sentence


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("bg", "Детето дойде с майка си и с баба си."),
        ("bg", "Срещата е с Мария от 2020 г. насам."),
        ("ru", "Мать пришла с ребёнком в 2019 г. Иван тоже был."),
        ("ru", "Встреча состоялась в 2019 г. Самара встретила их дождём."),
    ],
)
def test_prepositions_and_years_are_not_addresses(language: str, text: str) -> None:
    assert "ADDRESS" not in [e for e, _ in found(text, language)]


def test_every_entity_has_a_bulgarian_placeholder() -> None:
    entities = {entity for language in ("bg", "ru") for entity in analyzer(language).get_supported_entities(language)}
    assert set(OURS) <= entities
    assert all(p.startswith("[") and p.endswith("]") for p in ENTITY_PLACEHOLDERS.values())


def test_presidio_loads_its_own_predefined_recognizers_beside_ours() -> None:
    """Presidio's registry finds its recognizers by class name: ours must not shadow them."""
    from presidio_analyzer import RecognizerRegistry

    registry = RecognizerRegistry(supported_languages=["bg"])
    registry.load_predefined_recognizers(languages=["bg"])
    loaded = {type(recognizer).__module__.split(".")[0] for recognizer in registry.recognizers}
    names = {type(recognizer).__name__ for recognizer in registry.recognizers}
    assert loaded == {"presidio_analyzer"}
    assert {"EmailRecognizer", "IbanRecognizer", "PhoneRecognizer"} <= names


@pytest.mark.parametrize("language", ["bg", "ru"])
def test_digits_inside_a_hex_digest_or_a_word_are_not_a_phone(language):
    from anonymise.pii.engine import analyze

    for text in ("sha256 4f0888123456ab09", "код abc89031234567def", "x+359888123456y"):
        assert [r.entity_type for r in analyze(text, language, entities=["PHONE_NUMBER"])] == [], text
    assert [r.entity_type for r in analyze("тел. 0888 123 456", "bg", entities=["PHONE_NUMBER"])] == ["PHONE_NUMBER"]


def test_a_national_id_inside_a_hex_digest_is_not_one():
    from anonymise.leaks import GUARDED
    from anonymise.pii.engine import analyze

    digest = "59b7e4320dfb27a1a38a5d1e0d2b95f02612ee60805e5942175082a90ca24735"  # holds a valid ЕГН
    assert analyze(digest, "bg", entities=list(GUARDED)) == []
    assert [r.entity_type for r in analyze("ЕГН5942175082, ЕГН 5942175082", "bg", entities=["EGN"])] == ["EGN", "EGN"]
