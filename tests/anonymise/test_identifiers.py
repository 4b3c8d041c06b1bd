"""Identifiers are compacted one way, refused with a reason, and linked only when valid for their type."""

from __future__ import annotations

import datetime

import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength, ValidationError

from anonymise.identifiers import (
    birth_certificate,
    egn,
    invalid_reason,
    invalid_reason_expr,
    linkage_expr,
    linkage_value,
    lnc,
    passport,
    snils,
    unusable_identifiers,
)

# ЕГН


@pytest.mark.parametrize(
    ("written", "compact"),
    [
        ("7501010010", "7501010010"),
        ("750101 001 0", "7501010010"),
        ("750101-0010", "7501010010"),
        ("７５０１０１００１０", "7501010010"),
    ],
)
def test_egn_is_compacted_to_ten_digits(written: str, compact: str) -> None:
    assert egn.compact(written) == compact
    assert egn.validate(written) == compact


@pytest.mark.parametrize("number", ["7501010010", "1542011235", "0308123450", "4850100018", "8012319998"])
def test_valid_egn_of_three_centuries_are_accepted(number: str) -> None:
    assert egn.is_valid(number)


@pytest.mark.parametrize(
    ("number", "error"),
    [
        ("7501010011", InvalidChecksum),
        ("7513010010", InvalidComponent),  # month 13
        ("7502300010", InvalidComponent),  # 30 February
        ("750101001", InvalidLength),
        ("75010100A0", InvalidFormat),
    ],
)
def test_invalid_egn_are_refused_with_the_reason(number: str, error: type[ValidationError]) -> None:
    with pytest.raises(error):
        egn.validate(number)
    assert not egn.is_valid(number)


@settings(max_examples=200, deadline=None)
@given(st.dates(datetime.date(1900, 1, 1), datetime.date(2099, 12, 31)), st.integers(0, 999), st.integers(1, 9))
def test_egn_with_its_check_digit_is_valid_and_with_another_is_not(
    born: datetime.date, serial: int, shift: int
) -> None:
    month = born.month + (40 if born.year >= 2000 else 0)
    body = f"{born.year % 100:02d}{month:02d}{born.day:02d}{serial:03d}"
    weights = (2, 4, 8, 5, 10, 9, 7, 3, 6)
    check = sum(w * int(d) for w, d in zip(weights, body, strict=True)) % 11 % 10
    assert egn.is_valid(f"{body}{check}")
    assert not egn.is_valid(f"{body}{(check + shift) % 10}")


# ЛНЧ


def test_lnc_is_compacted_and_checked() -> None:
    assert lnc.validate("7111 042 925") == "7111042925"
    assert lnc.is_valid("1000000012")
    with pytest.raises(InvalidChecksum):
        lnc.validate("7111042922")
    with pytest.raises(InvalidLength):
        lnc.validate("711104292")
    with pytest.raises(InvalidFormat):
        lnc.validate("71110A2925")


@pytest.mark.parametrize("digit", list("0123456789"))
def test_lnc_placeholders_pass_the_checksum_but_are_refused(digit: str) -> None:
    with pytest.raises(InvalidComponent):
        lnc.validate(digit * 10)


# СНИЛС


@pytest.mark.parametrize(
    ("written", "compact"),
    [("112-233-445 95", "11223344595"), ("11223344595", "11223344595"), ("112 233 445 95", "11223344595")],
)
def test_snils_is_compacted_to_eleven_digits(written: str, compact: str) -> None:
    assert snils.compact(written) == compact
    assert snils.format(written) == "112-233-445 95"


@pytest.mark.parametrize(
    ("body", "check"),
    [
        ("112233445", "95"),  # sum below 100: the sum itself
        ("050234316", "00"),  # sum 100
        ("016103396", "00"),  # sum 101
        ("291417776", "94"),  # sum 195: mod 101
        ("820981233", "00"),  # sum 201: mod 101 gives 100, written 00
    ],
)
def test_snils_check_number_follows_each_branch_of_the_rule(body: str, check: str) -> None:
    assert snils.calc_check_digits(body) == check
    assert snils.is_valid(body + check)


def test_invalid_snils_are_refused_with_the_reason() -> None:
    with pytest.raises(InvalidChecksum):
        snils.validate("112-233-445 96")
    with pytest.raises(InvalidLength):
        snils.validate("112-233-445 9")
    with pytest.raises(InvalidFormat):
        snils.validate("112-233-44A 95")
    with pytest.raises(InvalidComponent):
        snils.validate("000-000-000 00")


@settings(max_examples=300, deadline=None)
@given(st.text("0123456789", min_size=9, max_size=9), st.integers(0, 99))
def test_snils_with_its_check_number_is_valid_and_with_any_other_is_not(body: str, suffix: int) -> None:
    assume(len(set(body)) > 1)  # one repeated digit is a placeholder, refused whatever the suffix
    check = snils.calc_check_digits(body)
    assert snils.is_valid(body + check)
    assert snils.is_valid(f"{body[:3]}-{body[3:6]}-{body[6:]} {check}")
    assert snils.is_valid(f"{body}{suffix:02d}") == (f"{suffix:02d}" == check)


# Passports


@pytest.mark.parametrize(
    ("written", "compact"),
    [
        ("123456789", "123456789"),  # Bulgarian
        ("№ 123456789", "123456789"),
        ("N 123456789", "123456789"),
        ("No. 123456789", "123456789"),
        ("Nr: 123456789", "123456789"),
        ("36 05 123456", "3605123456"),  # Russian: series and number
        ("36 05 № 123456", "3605123456"),
        ("pa-1234567", "PA1234567"),  # foreign
        ("РА 1234567", "PA1234567"),  # Cyrillic Р and А
        ("NW1234567", "NW1234567"),  # a number that starts with N keeps it
    ],
)
def test_passport_numbers_are_compacted_as_people_write_them(written: str, compact: str) -> None:
    assert passport.compact(written) == compact
    assert passport.validate(written) == compact


@pytest.mark.parametrize(
    ("number", "error"),
    [
        ("12345", InvalidLength),
        ("1234567890123", InvalidLength),
        ("ЖД1234567", InvalidFormat),
        ("000000000", InvalidComponent),
    ],
)
def test_passport_numbers_of_the_wrong_shape_are_refused(number: str, error: type[ValidationError]) -> None:
    with pytest.raises(error):
        passport.validate(number)


# Birth certificates


@pytest.mark.parametrize(
    "written",
    [
        "II-МЮ № 123456",
        "II-МЮ №123456",
        "II МЮ 123456",
        "IIМЮ123456",
        "ii-мю 123456",
        "ІІ-МЮ 123456",  # Cyrillic І
        "11-МЮ 123456",  # digit one
        "ll-МЮ 123456",  # small L
        "Ⅱ-МЮ № 123456",  # the Roman numeral character
        "II-MЮ № 123456",  # Latin M
        "II-МЮ No 123456",
        "II-МЮ N 123456",
    ],
)
def test_russian_birth_certificates_compact_to_one_form(written: str) -> None:
    assert birth_certificate.compact(written) == "II-МЮ-123456"
    assert birth_certificate.validate(written) == "II-МЮ-123456"


@pytest.mark.parametrize(
    ("written", "compact"),
    [
        ("IV-ЕР 654321", "IV-ЕР-654321"),
        ("XIV-ЖА 000001", "XIV-ЖА-000001"),
        ("VIII-KH 123456", "VIII-КН-123456"),  # Latin K and H
        ("IIXC 123456", "II-ХС-123456"),  # Latin X and C after the numeral are the letters
        ("XC-ОР-123456", "XC-ОР-123456"),
    ],
)
def test_russian_birth_certificate_numerals_and_letters_are_told_apart(written: str, compact: str) -> None:
    assert birth_certificate.validate(written) == compact


@pytest.mark.parametrize(
    ("number", "error"),
    [
        ("IIII-МЮ № 123456", InvalidComponent),  # not a Roman numeral
        ("VV-МЮ № 123456", InvalidComponent),
        ("II-NЮ № 123456", InvalidComponent),  # N has no Cyrillic twin
        ("II-МЮ № 12345", InvalidFormat),  # five digits: not taken for a Bulgarian number either
        ("II-ZZ 12", InvalidFormat),  # Latin letters, two digits: neither Russian nor Bulgarian
        ("XIV-AB 1234", InvalidFormat),
        ("abc", InvalidFormat),
        ("123", InvalidLength),
        ("0000/00.00.0000", InvalidComponent),
    ],
)
def test_malformed_birth_certificates_are_refused(number: str, error: type[ValidationError]) -> None:
    with pytest.raises(error):
        birth_certificate.validate(number)


def test_bulgarian_birth_certificates_compact_to_their_digits() -> None:
    assert birth_certificate.validate("0123/15.03.2015") == "012315032015"
    assert birth_certificate.validate("№ 0123 / 15.03.2015") == "012315032015"


# Linkage


@pytest.mark.parametrize(
    ("number", "kind", "value"),
    [
        ("750101 001 0", "egn", "egn:7501010010"),
        ("7111042925", "lnc", "lnc:7111042925"),
        ("112-233-445 95", "snils", "snils:11223344595"),
        ("№ 36 05 123456", "passport", "passport:3605123456"),
        ("II-МЮ № 123456", "birth_certificate", "bc:II-МЮ-123456"),
        ("0123/15.03.2015", "birth_certificate", "bc:012315032015"),
    ],
)
def test_linkage_value_is_the_typed_compact_number(number: str, kind: str, value: str) -> None:
    assert linkage_value(number, kind) == value
    assert invalid_reason(number, kind) is None


@pytest.mark.parametrize(
    ("number", "kind", "reason"),
    [
        ("7501010011", "egn", "invalid_checksum"),
        ("7513010010", "egn", "invalid_component"),
        ("750101001", "egn", "invalid_length"),
        ("75010100A0", "egn", "invalid_format"),
        ("0000000000", "lnc", "invalid_component"),
        ("112-233-445 96", "snils", "invalid_checksum"),
        ("12345", "passport", "invalid_length"),
        ("XX", "passport", "invalid_length"),
        ("ЖД 1234567", "passport", "invalid_format"),
        ("000000000", "passport", "invalid_component"),
        ("II-ZZ 12", "birth_certificate", "invalid_format"),  # a Russian series shape, not a Bulgarian number
        ("IIII-МЮ № 123456", "birth_certificate", "invalid_component"),
        ("МК 1234567", "other", "not_linkable_type"),
        ("7501010010", "none", "not_linkable_type"),
        ("7501010010", "ЕГН", "not_linkable_type"),
        ("7501010010", None, "not_linkable_type"),
        (None, "egn", "missing"),
        ("   ", "egn", "missing"),
    ],
)
def test_numbers_that_cannot_be_linked_have_no_linkage_value_and_a_reason(
    number: str | None, kind: str | None, reason: str
) -> None:
    assert linkage_value(number, kind) is None
    assert invalid_reason(number, kind) == reason


def test_the_same_digits_under_two_types_never_link() -> None:
    number = "7501010004"
    assert egn.is_valid(number) and lnc.is_valid(number)
    assert linkage_value(number, "egn") != linkage_value(number, "lnc")


_NUMBERS = [
    "7501010010",
    "750101 001 0",
    "7501010011",
    "7111042925",
    "0000000000",
    "112-233-445 95",
    "112-233-445 96",
    "№ 36 05 123456",
    "PA1234567",
    "II-МЮ № 123456",
    "IIII-МЮ № 123456",
    "0123/15.03.2015",
    "",
    " ",
]
_KINDS = ["egn", "lnc", "snils", "passport", "birth_certificate", "other", "none", "ЕГН"]
numbers = st.one_of(st.none(), st.sampled_from(_NUMBERS), st.text(max_size=14))
kinds = st.one_of(st.none(), st.sampled_from(_KINDS))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(numbers, kinds), max_size=40))
def test_linkage_expressions_equal_the_functions_row_by_row(rows: list[tuple[str | None, str | None]]) -> None:
    frame = pl.DataFrame(rows, schema={"national_id": pl.String, "national_id_type": pl.String}, orient="row")
    out = (
        frame.lazy()
        .select(
            linkage_expr("national_id", "national_id_type").alias("value"),
            invalid_reason_expr(pl.col("national_id"), pl.col("national_id_type")).alias("reason"),
        )
        .collect()
    )
    assert out["value"].to_list() == [linkage_value(n, k) for n, k in rows]
    assert out["reason"].to_list() == [invalid_reason(n, k) for n, k in rows]


def test_linkage_expression_keeps_the_number_column_name_and_works_in_a_group_context() -> None:
    frame = pl.DataFrame(
        {
            "national_id": ["7501010010", "7501010011", "112-233-445 95", "7501010010"],
            "national_id_type": ["egn", "egn", "snils", "egn"],
        }
    )
    out = frame.with_columns(linkage_expr("national_id", "national_id_type"))
    assert out["national_id"].to_list() == ["egn:7501010010", None, "snils:11223344595", "egn:7501010010"]
    linked = frame.select(linkage_expr("national_id", "national_id_type").drop_nulls().n_unique()).item()
    assert linked == 2


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.sampled_from(_NUMBERS), st.text(max_size=16)), st.sampled_from(_KINDS[:5]))
def test_a_linkage_value_links_to_itself_and_a_refused_number_has_a_reason(number: str, kind: str) -> None:
    value, reason = linkage_value(number, kind), invalid_reason(number, kind)
    assert (value is None) != (reason is None)
    if value is not None:
        assert linkage_value(value.split(":", 1)[1], kind) == value


def test_a_column_of_one_identifier_type_can_be_linked_with_a_literal_type() -> None:
    frame = pl.DataFrame({"passport_no": ["№ 36 05 123456", "12", None]})
    out = frame.select(
        linkage_expr("passport_no", pl.lit("passport")),
        invalid_reason_expr("passport_no", pl.lit("passport")).alias("why"),
    )
    assert out["passport_no"].to_list() == ["passport:3605123456", None, None]
    assert out["why"].to_list() == [None, "invalid_length", "missing"]


def test_persons_linked_without_their_identifier_are_counted_by_type_reason_and_fallback() -> None:
    persons = pl.DataFrame(
        {
            "national_id": ["XX", "II-ZZ 12", "XX", None, "7501010010", "МК 1234567", "7501010010", None],
            "national_id_type": ["passport", "birth_certificate", "passport", "none", "egn", "other", "egn", None],
        }
    )
    link = pl.Series(["fallback", "fallback", "none", "none", "national_id", "fallback", "national_id", "none"])
    rows = unusable_identifiers(persons, link)
    assert rows == [
        {"id_type": "birth_certificate", "reason": "invalid_format", "fallback": "fallback", "persons": 1},
        {"id_type": "none", "reason": "missing", "fallback": "none", "persons": 1},
        {"id_type": "other", "reason": "not_linkable_type", "fallback": "fallback", "persons": 1},
        {"id_type": "passport", "reason": "invalid_length", "fallback": "fallback", "persons": 1},
        {"id_type": "passport", "reason": "invalid_length", "fallback": "none", "persons": 1},
        {"id_type": "unstated", "reason": "missing", "fallback": "none", "persons": 1},
    ]
    assert sum(r["persons"] for r in rows) == int((link != "national_id").sum())
    assert unusable_identifiers(persons.head(0), link.head(0)) == []
