"""The PII-detection benchmark: its corpus is labelled exactly, its scoring is right, and it runs end to end
at tiny sizes (no timings are asserted)."""

from __future__ import annotations

import importlib.util
import math
import re
import sys
from pathlib import Path
from types import ModuleType

import phonenumbers
import pytest
from stdnum import iban, luhn
from stdnum.bg import egn, pnf
from stdnum.ru import inn

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks import pii_corpus  # noqa: E402
from benchmarks.pii_corpus import Gold, Note, generate_corpus  # noqa: E402

SCRIPT = ROOT / "benchmarks" / "text_pii.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("text_pii_benchmark", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and worker processes look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module", params=["bg", "ru"])
def corpus(request: pytest.FixtureRequest) -> list[Note]:
    return generate_corpus(150, request.param, seed=7)


def _snils_valid(value: str) -> bool:
    digits = re.sub(r"\D", "", value)
    body, check = digits[:9], digits[9:]
    return len(digits) == 11 and pii_corpus.snils_check(body) == check


VALID = {
    "EGN": lambda v: egn.is_valid(v) and not pnf.is_valid(v),
    "LNC": lambda v: pnf.is_valid(v) and not egn.is_valid(v),
    "IBAN": iban.is_valid,
    "INN": lambda v: len(v) == 12 and inn.is_valid(v),
    "SNILS": _snils_valid,
    "OMS_POLICY": lambda v: len(v.replace(" ", "")) == 16 and luhn.is_valid(v.replace(" ", "")),
    "EMAIL_ADDRESS": lambda v: re.fullmatch(r"[a-z0-9._]+@[a-z]+\.[a-z]+", v) is not None,
    "BG_ID_CARD": lambda v: re.fullmatch(r"\d{9}", v) is not None,
    "BG_PASSPORT": lambda v: re.fullmatch(r"\d{9}", v) is not None,
    "RU_PASSPORT": lambda v: re.fullmatch(r"\d\d ?\d\d (№ )?\d{6}", v) is not None,
    "DATE_OF_BIRTH": lambda v: re.fullmatch(r"\d\d\.\d\d\.\d{4}|\d{1,2} [а-я]+ \d{4}", v) is not None,
}


def test_the_corpus_is_reproducible_and_varied(corpus: list[Note]) -> None:
    language = corpus[0].language
    again = generate_corpus(150, language, seed=7)
    assert [n.text for n in again] == [n.text for n in corpus]
    assert [n.spans for n in again] == [n.spans for n in corpus]
    assert generate_corpus(5, language, seed=8)[0].text != corpus[0].text
    assert len(pii_corpus.TEMPLATES[language]) >= 25
    used = {tid for n in corpus for tid, _, _ in n.parts}
    assert len(used) >= 25
    entities = {g.entity for n in corpus for g in n.spans}
    common = {"PERSON", "ADDRESS", "DATE_OF_BIRTH", "PHONE_NUMBER", "EMAIL_ADDRESS"}
    specific = {"EGN", "LNC", "IBAN", "BG_ID_CARD", "BG_PASSPORT"} if language == "bg" else {"SNILS", "INN"}
    assert common | specific <= entities
    assert {d.entity for n in corpus for d in n.distractors} >= {"date", "room", "common_word", "dur"}


def test_gold_spans_cover_exactly_the_inserted_values(corpus: list[Note]) -> None:
    for note in corpus:
        for g in note.spans:
            value = note.text[g.start : g.end]
            assert value == value.strip() and value, (g, note.text)
            # the value is what the slot produced: person forms come from the note's people
            if g.entity == "PERSON":
                assert re.fullmatch(r"[А-ЯЁ][а-яё]*\.?(?:[ -][А-ЯЁ][а-яё]*\.?)*", value), value
        spans = sorted(note.spans, key=lambda s: s.start)
        assert all(a.end <= b.start for a, b in zip(spans, spans[1:], strict=False)), "gold spans overlap"
        # parts tile the note with single separators
        for (_, _, end), (_, start, _) in zip(note.parts, note.parts[1:], strict=False):
            assert note.text[end:start] in (" ", "\n")


def test_identifiers_are_valid(corpus: list[Note]) -> None:
    seen = set()
    for note in corpus:
        for g in note.spans:
            value = note.text[g.start : g.end]
            if g.entity in VALID:
                assert VALID[g.entity](value), (g.entity, value)
                seen.add(g.entity)
            if g.entity == "PHONE_NUMBER":
                region = "BG" if note.language == "bg" else "RU"
                assert phonenumbers.is_valid_number(phonenumbers.parse(value, region)), value
    assert {"EMAIL_ADDRESS", "DATE_OF_BIRTH"} <= seen


def test_egn_encodes_the_date_of_birth_next_to_it() -> None:
    for note in generate_corpus(200, "bg", seed=3):
        for g in note.spans:
            if g.slot == "egn:C":
                born = egn.get_birth_date(note.text[g.start : g.end])
                dobs = [d for d in note.spans if d.slot == "dob:C"]
                for d in dobs:
                    assert note.text[d.start : d.end] == born.strftime("%d.%m.%Y")


def test_identifier_generators_agree_with_stdnum() -> None:
    import random
    from datetime import date

    rng = random.Random(1)
    for _ in range(300):
        born = date(rng.randrange(1930, 2024), rng.randrange(1, 13), rng.randrange(1, 29))
        value = pii_corpus.make_egn(rng, born, rng.random() < 0.5)
        assert egn.is_valid(value) and egn.get_birth_date(value) == born
        assert pnf.is_valid(pii_corpus.make_lnc(rng))
        assert inn.is_valid(pii_corpus.make_inn(rng))
        assert iban.is_valid(pii_corpus.make_iban(rng))
        assert _snils_valid(pii_corpus.make_snils(rng))
    assert pii_corpus.snils_check("112233445") == "95"  # the textbook example
    assert pii_corpus.egn_check("194312043") == "0"


def test_known_people_are_the_record_and_names_take_several_forms() -> None:
    bg = generate_corpus(300, "bg", seed=1)
    ru = generate_corpus(300, "ru", seed=1)
    for note in bg + ru:
        assert [role for _, role in note.known] == ["child", "mother", "father", "social_worker"]
    slots = {g.slot for n in bg + ru for g in n.spans if g.entity == "PERSON"}
    assert {"C.voc", "C.dim", "F.fam", "M.three", "C.given_dat", "M.given_ins", "F.famgen", "F.init"} <= slots
    # people outside the record are mentioned too (the gazetteer's job)
    assert {"N.full", "T.full", "G.three", "G.fio"} <= slots


# -------------------------------------------------------------------------------------------- scoring
def _note(text: str, *spans: Gold) -> Note:
    return Note(text, "bg", list(spans), [])


def test_scoring_arithmetic(bench: ModuleType) -> None:
    #            0         1         2         3
    #            0123456789012345678901234567890123456
    text = "Иван Петров, ЕГН 7501010010, тел. 0888"
    note = _note(text, Gold("PERSON", 0, 11), Gold("EGN", 17, 27), Gold("PHONE_NUMBER", 34, 38))
    preds = [
        ("PERSON", 0, 4),  # «Иван» and «Петров» are merged (white space between) and match
        ("PERSON", 5, 11),
        ("EGN", 17, 22),  # 5 of 10 characters: exactly 50 %, matches
        ("PHONE_NUMBER", 17, 27),  # wrong entity over the EGN: a false positive
        ("EMAIL_ADDRESS", 29, 33),  # nothing there: a false positive
    ]
    counts = bench.score([note], [preds])
    assert (counts["PERSON"].gold, counts["PERSON"].found, counts["PERSON"].predicted) == (1, 1, 1)
    assert counts["EGN"].recall == 1.0 and counts["EGN"].precision == 1.0
    phone = counts["PHONE_NUMBER"]
    assert (phone.gold, phone.found, phone.predicted, phone.correct) == (1, 0, 1, 0)
    assert math.isnan(counts["EMAIL_ADDRESS"].recall) and counts["EMAIL_ADDRESS"].precision == 0.0
    total = counts["ALL"]
    assert (total.gold, total.found, total.predicted, total.correct) == (3, 2, 4, 2)
    assert total.precision == 0.5 and total.recall == pytest.approx(2 / 3)
    assert total.f2 == pytest.approx(5 * 0.5 * (2 / 3) / (4 * 0.5 + 2 / 3))


def test_overlap_below_half_the_gold_span_does_not_match(bench: ModuleType) -> None:
    note = _note("ЕГН 7501010010.", Gold("EGN", 4, 14))
    counts = bench.score([note], [[("EGN", 4, 8)]])  # 4 of 10 characters
    assert counts["EGN"].found == 0 and counts["EGN"].correct == 0
    counts = bench.score([note], [[("EGN", 0, 20)]])  # a generous span still covers the gold span
    assert counts["EGN"].found == 1 and counts["EGN"].correct == 1


def test_predictions_separated_by_punctuation_are_not_merged(bench: ModuleType) -> None:
    text = "Иван, Петров"
    assert bench.merge_spans([("PERSON", 0, 4), ("PERSON", 6, 12)], text) == [("PERSON", 0, 4), ("PERSON", 6, 12)]
    assert bench.merge_spans([("PERSON", 0, 4), ("PERSON", 2, 12), ("ADDRESS", 0, 4)], text) == [
        ("ADDRESS", 0, 4),
        ("PERSON", 0, 12),
    ]


def test_f_beta(bench: ModuleType) -> None:
    assert bench.f_beta(1.0, 1.0) == 1.0
    assert bench.f_beta(0.0, 0.0) == 0.0
    assert bench.f_beta(0.5, 1.0) == pytest.approx(5 * 0.5 / (4 * 0.5 + 1))  # 0.833…: recall weighs more
    assert bench.f_beta(1.0, 0.5) == pytest.approx(5 * 0.5 / (4 + 0.5))  # 0.555…
    assert bench.f_beta(0.5, 1.0, beta=1.0) == pytest.approx(2 / 3)
    assert math.isnan(bench.f_beta(float("nan"), 1.0))


def test_errors_are_collected_for_the_report(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    note = _note("Иван Петров, ЕГН 7501010010", Gold("PERSON", 0, 11, "C.full", "o1"), Gold("EGN", 17, 27))
    errors = bench.Errors()
    bench.score([note], [[("PERSON", 0, 11), ("PHONE_NUMBER", 17, 27)]], errors)
    assert [g.entity for _, g in errors.false_negatives] == ["EGN"]
    assert [p for _, p in errors.false_positives] == [("PHONE_NUMBER", 17, 27)]
    # «Иван» alone covers 4 of 11 characters: a miss, and not a false positive of another entity
    errors = bench.Errors()
    bench.score([note], [[("PERSON", 0, 4)]], errors)
    assert [g.slot for _, g in errors.false_negatives] == ["C.full", ""]
    bench.print_errors("bg", errors)
    assert "C.full" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------ end to end
def test_stock_presidio_finds_what_it_can(bench: ModuleType) -> None:
    engine = bench.stock_engine("bg")
    results = engine.analyze("Телефон 0888 123 456, имейл ivan.petrov@abv.bg.", language="bg")
    assert {r.entity_type for r in results} >= {"PHONE_NUMBER", "EMAIL_ADDRESS"}


def test_main_completes_at_tiny_sizes(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("anonymise.pii.engine")
    pytest.importorskip("anonymise.pii.names")
    report = bench.main(["--notes", "20", "--workers", "1", "--seed", "3"])
    out = capsys.readouterr().out
    assert "50%" in out and "of the gold span" in out
    assert {(r.language, r.system) for r in report.rows} == {
        (lang, s) for lang in ("bg", "ru") for s in ("zakrila", "stock")
    }
    for lang in ("bg", "ru"):
        assert any(r.language == lang and r.entity == "ALL" and r.counts.gold > 0 for r in report.rows)
        assert report.throughput[(lang, "zakrila, 1 core")] > 0
        assert report.throughput[(lang, "stock Presidio, 1 core")] > 0
    assert any(t.what == "recall EGN" for t in report.targets)
    assert any(t.what == "recall SNILS" for t in report.targets)
    assert "PASS" in out or "MISS" in out


def test_main_with_two_workers_agrees_with_one_core(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("anonymise.pii.engine")
    pytest.importorskip("anonymise.pii.names")
    report = bench.main(["--notes", "8", "--workers", "2", "--languages", "bg", "--batch", "12"])
    assert ("bg", "zakrila, 2 workers") in report.throughput
    assert ("bg", "zakrila, 12-note batch, 2 cores") in report.throughput
    assert ("bg", "zakrila, 12-note batch, 1 core") in report.throughput
    assert sum(report.batch_split["bg"].values()) >= 1
    assert any(t.what == "throughput × stock, large batch on all cores" for t in report.targets)
    assert "WARNING" not in capsys.readouterr().out


def test_a_batch_is_the_pipelines_frames(bench: ModuleType, corpus: list[Note]) -> None:
    people, raw = bench.as_batch(corpus[:3])
    assert people.height == sum(len(n.known) for n in corpus[:3])
    assert raw["cases"]["notes"].to_list() == [n.text for n in corpus[:3]]
    assert set(raw["memberships"]["family_id"]) == {"n0", "n1", "n2"}
