from datetime import date

import pytest

from anonymise.period import Period


@pytest.mark.parametrize(
    ("label", "start", "end"),
    [
        ("2025", date(2025, 1, 1), date(2025, 12, 31)),
        ("2025-H2", date(2025, 7, 1), date(2025, 12, 31)),
        ("2024-Q1", date(2024, 1, 1), date(2024, 3, 31)),
        ("2024-Q4", date(2024, 10, 1), date(2024, 12, 31)),
    ],
)
def test_periods_parse_to_their_first_and_last_day(label, start, end):
    p = Period.parse(label)
    assert (p.start, p.end) == (start, end)


@pytest.mark.parametrize("bad", ["2025-Q0", "2025-H3", "25", "2025Q1", "2025-M01"])
def test_bad_periods_are_refused_with_the_accepted_forms(bad):
    with pytest.raises(ValueError, match="YYYY-Qn"):
        Period.parse(bad)
