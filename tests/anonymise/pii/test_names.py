"""Person-name detection: name forms, the gazetteer, natasha, and the record recognizer."""

from __future__ import annotations

from collections import Counter
from functools import cache

import pytest
import spacy
from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry
from presidio_analyzer.nlp_engine import SpacyNlpEngine

from anonymise.pii.names import (
    GazetteerNameRecognizer,
    NatashaNameRecognizer,
    bg_forms,
    name_recognizers,
    record_recognizer,
    ru_forms,
)


@cache
def analyzer(language: str) -> AnalyzerEngine:
    """A minimal offline analyzer: a blank spaCy pipeline, only our recognizers."""
    engine = SpacyNlpEngine(models=[{"lang_code": language, "model_name": "blank"}])
    engine.nlp = {language: spacy.blank(language)}  # type: ignore[assignment]  # never download a model
    registry = RecognizerRegistry(supported_languages=[language])
    for recognizer in name_recognizers(language):
        registry.add_recognizer(recognizer)
    return AnalyzerEngine(nlp_engine=engine, registry=registry, supported_languages=[language])


def found(text: str, language: str, *, ad_hoc: list[EntityRecognizer] | None = None) -> list[str]:
    results = analyzer(language).analyze(text, language=language, entities=["PERSON"], ad_hoc_recognizers=ad_hoc)
    return sorted(text[r.start : r.end] for r in results)


def spans(recognizer: EntityRecognizer, text: str) -> list[str]:
    language = recognizer.supported_language
    artifacts = analyzer(language).nlp_engine.process_text(text, language)
    return [text[r.start : r.end] for r in recognizer.analyze(text, ["PERSON"], artifacts)]


# --- forms ----------------------------------------------------------------------------------------------


def test_bg_vocatives_and_diminutives() -> None:
    assert {"Иване", "Ваньо", "Ванчо"} <= bg_forms("Иван")
    assert {"Петре", "Пешо"} <= bg_forms("Петър")
    assert {"Марийо", "Марио", "Мими", "Мара"} <= bg_forms("Мария")
    assert {"Георги", "Гошо", "Жоро"} <= bg_forms("Георги")
    assert {"Митко", "Мито", "Димитре"} <= bg_forms("Димитър")
    assert "Деси" in bg_forms("Десислава")
    assert {"Стефчо", "Стефане"} <= bg_forms("Стефан")
    assert {"Ники", "Кольо"} <= bg_forms("Николай")
    assert "Сашо" in bg_forms("Александър")
    assert "Данчо" in bg_forms("Йордан")
    assert "Радке" in bg_forms("Радка")  # rule: -ка → -ке
    assert "Фатме" in bg_forms("Фатме")


def test_bg_surnames_plurals_initials_latin() -> None:
    forms = bg_forms("Иван", "Петров")
    assert {"Петров", "Петрова", "Петрови", "Иван Петров", "Иване Петров", "И. Петров", "Петров И."} <= forms
    assert {"Ivan Petrov", "Ivane", "Vanyo", "Petrovi"} <= forms
    assert "Иванови" in bg_forms("Мария", "Иванова")
    assert {"Петровски", "Петровска"} <= bg_forms("Иван", "Петровски")
    full = bg_forms("Мария", "Петрова", "Иванова")
    assert {"Мария Иванова Петрова", "М. И. Петрова", "Петрова М.", "Mariyo", "Maria Petrova"} <= full
    assert "Щерев" in bg_forms("Стефан", "Щерев") and "Shterev" in bg_forms("Стефан", "Щерев")


def test_ru_cases() -> None:
    forms = ru_forms("Иван", "Петров")
    assert {"Ивану", "Ивана", "Иваном", "Иване", "Петрову", "Петровым", "Петрова", "Петровы", "Петровых"} <= forms
    assert {"Ивану Петрову", "Иваном Петровым", "И. Петрову", "Ваня", "Ване", "Ivanu Petrovu"} <= forms
    maria = ru_forms("Мария", "Петрова", "Ивановна")
    assert {"Марии", "Марию", "Марией", "Маша", "Маше", "Петровой", "Ивановной", "Ивановне"} <= maria
    assert {"Марией Ивановной", "М. И. Петровой", "Mariei"} <= maria
    assert {"Екатерине", "Катей", "Вишневской", "Вишневскую"} <= ru_forms("Екатерина", "Вишневская")
    assert {"Дмитрию", "Диме", "Сергеевичем"} <= ru_forms("Дмитрий", None, "Сергеевич")


# --- record recognizer ------------------------------------------------------------------------------------

FAMILY_BG = [
    ("Иван Петров", "child"),
    ("Георги Петров", "parent"),
    ("Мария Петрова", "parent"),
    ("Роза Асенова", "staff"),
]


def test_record_finds_every_form_with_role_and_person() -> None:
    recognizer = record_recognizer(FAMILY_BG, "bg")
    text = "Говорих с Иване и Гошо Петрови, после с Марийо."
    results = recognizer.analyze(text, ["PERSON"], analyzer("bg").nlp_engine.process_text(text, "bg"))
    by_text = {text[r.start : r.end]: r.recognition_metadata for r in results}
    assert set(by_text) == {"Иване", "Гошо", "Петрови", "Марийо"}
    assert by_text["Иване"]["role"] == "child" and by_text["Иване"]["person"] == 0
    assert by_text["Гошо"]["person"] == 1 and by_text["Марийо"]["person"] == 2
    assert by_text["Петрови"]["people"] == [0, 1, 2]
    assert all(r.score == 0.95 for r in results)


def test_record_latin_boundaries_and_common_nouns() -> None:
    recognizer = record_recognizer(FAMILY_BG, "bg")
    assert spans(recognizer, "Детето Ivan Petrov дойде; IVAN PETROV също.") == ["Ivan Petrov", "IVAN PETROV"]
    assert spans(recognizer, "Ивановци и Петровград не са имена.") == []
    assert spans(recognizer, "В двора има роза. Роза Асенова посети семейството.") == ["Роза Асенова"]


def test_record_russian_cases() -> None:
    recognizer = record_recognizer([("Петрова Мария Ивановна", "parent"), ("Сергей Петров", "child")], "ru")
    text = "Обсудили с Марией Ивановной, позвонили Серёже и Петровым."
    assert spans(recognizer, text) == ["Марией Ивановной", "Серёже", "Петровым"]


def test_record_as_ad_hoc_recognizer() -> None:
    recognizer = record_recognizer(FAMILY_BG, "bg")
    results = analyzer("bg").analyze("Гошо не дойде.", language="bg", ad_hoc_recognizers=[recognizer])
    assert [(r.start, r.end, r.score, r.recognition_metadata["role"]) for r in results] == [(0, 4, 0.95, "parent")]


# --- gazetteer -----------------------------------------------------------------------------------------------


def test_gazetteer_bulgarian() -> None:
    assert found("Посещение при Мария Иванова.", "bg") == ["Мария Иванова"]
    assert found("Ахмед дойде сам.", "bg") == ["Ахмед"]
    assert found("Майката Мария Иванова Петрова и М. Петрова", "bg") == ["М. Петрова", "Мария Иванова Петрова"]
    assert found("Семейство Петрови не дойде.", "bg") == ["Петрови"]
    assert found("Говорих с Ivan Petrov.", "bg") == ["Ivan Petrov"]


def test_gazetteer_scores() -> None:
    recognizer = GazetteerNameRecognizer("bg")
    scores = {"Мария Иванова": 0.85, "Ахмед": 0.6, "Кубратов": 0.5}
    for name, score in scores.items():
        text = f"Говорих с {name} вчера."
        [result] = recognizer.analyze(text, ["PERSON"], analyzer("bg").nlp_engine.process_text(text, "bg"))
        assert result.score == pytest.approx(score)


@pytest.mark.parametrize(
    "text",
    [
        "В двора има роза.",
        "Роза цъфти в двора.",
        "Има надежда за семейството.",
        "Надежда има, казва психологът.",
        "Майката е готова да сътрудничи.",
        "Готова е да сътрудничи.",
        "Община Русе и Детска градина помагат.",
        "Сигнал от ОЗД, ТЕЛК 70%.",
    ],
)
def test_gazetteer_common_words_are_not_names(text: str) -> None:
    assert found(text, "bg") == []


def test_gazetteer_common_name_with_context() -> None:
    assert found("Детето Роза е добре.", "bg") == ["Роза"]
    assert found("Говорих с Роза Асенова.", "bg") == ["Роза Асенова"]
    assert found("Говорих с г-жа Вяра.", "bg") == ["Вяра"]


def test_gazetteer_russian() -> None:
    recognizer = GazetteerNameRecognizer("ru")
    assert spans(recognizer, "Обсудили с Марией Ивановной и Петровым.") == ["Марией Ивановной", "Петровым"]
    assert spans(recognizer, "Вера в лучшее есть. Надежда тоже.") == []
    assert spans(recognizer, "Готова помочь, здорова.") == []


# --- natasha ------------------------------------------------------------------------------------------------


def test_natasha_finds_unlisted_russian_name() -> None:
    text = "Социальный агент встретилась с Евлампией Кузьмичёвой и её сыном Прохором."
    assert spans(NatashaNameRecognizer("ru"), text) == ["Евлампией Кузьмичёвой", "Прохором"]
    assert "Евлампией Кузьмичёвой" in found(text, "ru")


def test_name_recognizers() -> None:
    assert [type(r).__name__ for r in name_recognizers("bg")] == ["GazetteerNameRecognizer"]
    assert [type(r).__name__ for r in name_recognizers("ru")] == ["GazetteerNameRecognizer", "NatashaNameRecognizer"]


@pytest.mark.parametrize(
    "text",
    [
        "Детето посещава 3 клас в ОУ „Любен Каравелов“.",
        "Насочено е към ЦНСТ „Надежда“, после към ЦОП „Детелина“.",
        "Записан е в СУ „Христо Ботев“ от септември.",
        "Учи в 10 клас в СУ „Св. Климент Охридски“.",
        "Насочено е към ЦОП „Вяра, Надежда и Любов“ за година.",
    ],
)
def test_schools_and_centres_named_after_people_are_not_people(text: str) -> None:
    assert found(text, "bg") == []


@pytest.mark.parametrize(
    "text",
    [
        "Учится в 3 классе МБОУ «Школа № 12 имени Ю. А. Гагарина».",
        "Учится в школе имени С. П. Королёва, в школе им. Героя Советского Союза М. П. Агибалова.",
        "Семья направлена в ГКУ СО «Центр помощи детям «Вера, Надежда, Любовь»».",
    ],
)
def test_russian_schools_and_centres_named_after_people_are_not_people(text: str) -> None:
    assert found(text, "ru") == []


def test_on_behalf_of_someone_is_a_name() -> None:
    assert found("Заявление подано от имени Петровой Марии.", "ru") == ["Петровой Марии"]


def test_a_name_after_a_closed_institution_quote_is_a_name() -> None:
    assert found('В ОУ „Христо Ботев“ учи Иван Петров, в СУ "Васил Левски" сестра му Мария.', "bg") == [
        "Иван Петров",
        "Мария",
    ]


def test_a_name_in_quotes_without_an_institution_is_still_a_name() -> None:
    assert found("Майката „Мария Петрова“ не дойде.", "bg") == ["Мария Петрова"]


def test_record_mentions_are_runs_of_one_persons_words() -> None:
    recognizer = record_recognizer(FAMILY_BG, "bg")
    # initials with or without spaces, in either order; punctuation ends a mention
    assert spans(recognizer, "Подписа И.Петров, после Г. Петров и Петров И.") == ["И.Петров", "Г. Петров", "Петров И."]
    assert spans(recognizer, "Видях Иван, Петров не дойде.") == ["Иван", "Петров"]
    # words of two different people are two mentions, and an initial alone is none
    assert spans(recognizer, "Иван Мария Петрова; И. дойде.") == ["Иван", "Мария Петрова"]


def test_record_russian_common_noun_in_any_case() -> None:
    recognizer = record_recognizer([("Вера Соколова", "child")], "ru")
    assert spans(recognizer, "Мать сохраняет веру в помощь; Вере купили куртку, с Верой говорили.") == [
        "Вере",
        "Верой",
    ]


def test_a_common_noun_name_opening_a_sentence_before_a_preposition_is_the_noun() -> None:
    recognizer = record_recognizer([("Надежда Петрова", "parent")], "bg")
    text = "Надежда за подобрение има. Вчера дойде Надежда за документите. Надежда дойде."
    assert spans(recognizer, text) == ["Надежда", "Надежда"]
    assert [r.start for r in recognizer.analyze(text, ["PERSON"])] == [text.index("Вчера") + 12, text.rindex("Надежда")]


@pytest.mark.parametrize(
    ("text", "language", "known"),
    [
        ("Оценка на 14.02.2023 г. Надежда за подобрение има.", "bg", "Надежда Георгиева Петрова"),
        ("Сорокина, 22.03.2015 г.р. Надежда на улучшение есть.", "ru", "Сорокина Надежда Ивановна"),
    ],
)
def test_a_lower_case_abbreviation_ends_a_sentence_and_is_no_initial(text: str, language: str, known: str) -> None:
    """«г.» (година, город) and «р.» are abbreviations: the next sentence's «Надежда за/на …» is the noun,
    and the abbreviation is never the initial of a record name starting with Г."""
    assert not [s for s in spans(record_recognizer([(known, "parent")], language), text) if "Надежда" in s]
    assert not [s for s in found(text, language) if "Надежда" in s]
    recognizer = record_recognizer([("Надежда Георгиева Петрова", "parent")], "bg")
    assert spans(recognizer, "Разговор с Н. Г. Петрова, после с г. Петрова.") == ["Н. Г. Петрова", "Петрова"]


def test_a_given_name_of_the_forms_table_is_a_given_name() -> None:
    assert found("Съседката Божана Попова съобщи.", "bg") == ["Божана Попова"]


def test_record_names_inside_nested_institution_quotes_and_after_numbers() -> None:
    recognizer = record_recognizer([("Надежда Петрова", "parent")], "ru")
    text = "Семья направлена в ГКУ СО «Центр помощи детям «Вера, Надежда, Любовь»». Надежда Петрова пришла."
    assert spans(recognizer, text) == ["Надежда Петрова"]
    bg = record_recognizer([("Надежда Петрова", "parent")], "bg")
    assert spans(bg, "Адрес: бл. 9, ап. 5. Надежда за подобрение има.") == []


# --- scanning only capitalised words ----------------------------------------------------------------------

TOKEN_EDGES = (
    "северо-Западный 5Иван И.Петров ж.к. Иван г.Иван _Иван Şükrü Öz-Demir a-Б ИВАН-петров «Мария» "
    "Ⓐbc ǅemal 12.03.2019г. Иванова-Петрова, М.И.Сидорова.\nСоня и майка й Роза"
)


def test_capitalised_scan_reads_the_same_tokens_as_a_full_scan() -> None:
    """The gazetteer and natasha step only through capitalised words; they must be exactly the capitalised
    tokens of the full word scan, and the word before each one the full scan's previous token."""
    from anonymise.pii.names.gazetteer import _CAPITALISED, _WORD, _joined, _word_before
    from benchmarks.pii_corpus import generate_corpus

    texts = [note.text for language in ("bg", "ru") for note in generate_corpus(150, language, 11)] + [TOKEN_EDGES]
    checked = 0
    for text in texts:
        tokens = list(_WORD.finditer(text))
        expected = [(m.start(), m.end()) for m in tokens if m.group()[0].isupper()]
        assert [(m.start(), m.end()) for m in _CAPITALISED.finditer(text)] == expected, text
        for k, token in enumerate(tokens):
            if token.group()[0].isupper():
                joined = k > 0 and _joined(text, tokens[k - 1].end(), token.start())
                assert _word_before(text, token.start()) == (tokens[k - 1].group() if joined else ""), text
                checked += 1
    assert checked > 5000


def test_natasha_does_not_read_a_street_or_settlement_name() -> None:
    from anonymise.pii.names.natasha_ner import _sentences_to_read

    assert _sentences_to_read("Проживают по адресу: с. Курумоч, д. 5.") == []
    assert _sentences_to_read("Самара, ул. Стара-Загора, д. 1, кв. 3.") == []
    text = "Вчера приходила Евлампия Курумоч с сыном."
    assert _sentences_to_read(text) == [(0, len(text))]


def test_the_institution_prefilter_decides_as_the_full_pattern() -> None:
    """``institution_before`` skips the regular expression when no quote is open and no «им» is near; it
    must decide every name position of the corpus, and the quoting edge cases, as the pattern does."""
    from anonymise.pii.names.gazetteer import _CAPITALISED, INSTITUTION_BEFORE, INSTITUTION_REACH, institution_before
    from benchmarks.pii_corpus import generate_corpus

    edges = [
        "Детето посещава ОУ „Христо Ботев“. Съседката Божана Попова",
        "школа имени С. П. Королёва",
        "ГКУ СО «Центр помощи детям «Вера, Надежда, Любовь»». Надежда пришла",
        'СУ "Св. Климент Охридски" и Иван',
        "ЦНСТ „Вяра, Надежда и Любов“, Надежда",
        'ул. "Иван Вазов" №5 Иван',
        "«Центр «Вера, Надежда",
        "СУ „" + "а" * 59 + " Иван",
        "СУ „" + "а" * 61 + " Иван",
    ]
    texts = [note.text for language in ("bg", "ru") for note in generate_corpus(150, language, 12)] + edges
    decided = Counter()
    for text in texts:
        for match in _CAPITALISED.finditer(text):
            start = match.start()
            expected = INSTITUTION_BEFORE.search(text, max(0, start - INSTITUTION_REACH), start) is not None
            assert institution_before(text, start) == expected, text[max(0, start - INSTITUTION_REACH) : match.end()]
            decided[expected] += 1
    assert decided[True] > 50 and decided[False] > 5000
