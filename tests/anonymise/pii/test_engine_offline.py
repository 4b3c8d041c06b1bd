"""The analyzers build and run with the network cut off, and never even try to reach it."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest
from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer

from anonymise.pii import engine
from anonymise.pii.engine import analyze, analyzer

BG_NOTE = (
    "Детето, родено на 12.03.2019 г., ЕГН 1943120019, живее в гр. Русе, ж.к. „Дружба 3“, бл. 12, вх. Б, "
    "ет. 4, ап. 11. Майката: тел. 0888 123 456, maria.petrova@abv.bg. Среща на 15.09.2022 г."
)
RU_NOTE = (
    "Мальчик родился 12.03.2019, СНИЛС 112-233-445 95, проживает: г. Самара, ул. Ленина, д. 5, кв. 17. "
    "Телефон матери +7 912 345 67 89, почта ivanova@mail.ru. Встреча 15.09.2022 г."
)
OURS = sorted(set(engine.ENTITY_PLACEHOLDERS) - {"PERSON"})


class NetworkUsed(AssertionError):
    """Raised by the patched socket functions: a test tried to reach the network."""


@pytest.fixture(scope="module")
def attempts() -> Iterator[list[str]]:
    """Cut the network for the module, record every connection attempt, and build both analyzers afresh."""
    tried: list[str] = []

    def refuse(*args: object, **kwargs: object) -> None:
        tried.append(repr(args[:2]))
        raise NetworkUsed(f"network access attempted: {args!r}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket.socket, "connect_ex", refuse)
        patch.setattr(socket, "create_connection", refuse)
        engine.analyzer.cache_clear()
        analyzer("bg")
        analyzer("ru")
        yield tried


def found(text: str, language: str) -> list[tuple[str, str]]:
    return [(r.entity_type, text[r.start : r.end]) for r in analyze(text, language, entities=OURS)]


def test_bulgarian_note_is_analyzed_offline(attempts: list[str]) -> None:
    assert found(BG_NOTE, "bg") == [
        ("DATE_OF_BIRTH", "12.03.2019"),
        ("EGN", "1943120019"),
        ("ADDRESS", "гр. Русе, ж.к. „Дружба 3“, бл. 12, вх. Б, ет. 4, ап. 11"),
        ("PHONE_NUMBER", "0888 123 456"),
        ("EMAIL_ADDRESS", "maria.petrova@abv.bg"),
    ]
    assert attempts == []


def test_russian_note_is_analyzed_offline(attempts: list[str]) -> None:
    assert found(RU_NOTE, "ru") == [
        ("DATE_OF_BIRTH", "12.03.2019"),
        ("SNILS", "112-233-445 95"),
        ("ADDRESS", "г. Самара, ул. Ленина, д. 5, кв. 17"),
        ("PHONE_NUMBER", "+7 912 345 67 89"),
        ("EMAIL_ADDRESS", "ivanova@mail.ru"),
    ]
    assert attempts == []


def test_analyzer_is_built_once_per_language(attempts: list[str]) -> None:
    assert analyzer("bg") is analyzer("bg")
    assert analyzer("ru") is analyzer("ru")
    assert analyzer("bg") is not analyzer("ru")
    assert isinstance(analyzer("bg"), AnalyzerEngine)


def test_registry_holds_no_presidio_default_for_other_countries(attempts: list[str]) -> None:
    entities = set(analyzer("bg").get_supported_entities("bg"))
    assert not entities & {"US_SSN", "CREDIT_CARD", "UK_NHS", "IP_ADDRESS", "URL", "DATE_TIME"}


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="no analyzer"):
        analyzer("en")


def test_ad_hoc_recognizer_runs_for_one_call(attempts: list[str]) -> None:
    case_number = PatternRecognizer(
        supported_entity="CASE_NUMBER", patterns=[Pattern("case", r"КС-\d{4}", 0.9)], supported_language="bg"
    )
    text = "Случай КС-1234 е приключен."
    assert [(r.entity_type, text[r.start : r.end]) for r in analyze(text, "bg", ad_hoc=[case_number])] == [
        ("CASE_NUMBER", "КС-1234")
    ]
    assert "CASE_NUMBER" not in [r.entity_type for r in analyze(text, "bg")]


def test_a_fresh_process_never_reaches_for_the_network() -> None:
    """Import, build and analyze in a new interpreter whose sockets refuse, so no cache hides a download."""
    script = textwrap.dedent(
        f"""
        import socket
        def refuse(*args, **kwargs):
            raise SystemExit("network access attempted: " + repr(args[:2]))
        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        from anonymise.pii.engine import analyze
        bg = [r.entity_type for r in analyze({BG_NOTE!r}, "bg", entities={OURS!r})]
        ru = [r.entity_type for r in analyze({RU_NOTE!r}, "ru", entities={OURS!r})]
        assert "EMAIL_ADDRESS" in bg and "EMAIL_ADDRESS" in ru, (bg, ru)
        print("offline ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "offline ok" in done.stdout
