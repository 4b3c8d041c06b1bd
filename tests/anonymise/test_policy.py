import pytest

from anonymise.policy import PolicyError, default_policy_text, parse_policy


def _with(old, new):
    text = default_policy_text()
    assert old in text
    return text.replace(old, new)


def test_default_policy_loads_with_threshold_five_and_a_stable_hash():
    p = parse_policy(default_policy_text())
    assert p.threshold == 5 and "T04" in p.tables and "T11" in p.tables and "T05" not in p.tables
    assert p.sha256 == parse_policy(default_policy_text()).sha256


def test_broken_toml_names_the_line():
    with pytest.raises(PolicyError, match=r"line \d+"):
        parse_policy(_with("threshold = 5", "threshold = = 5"), "policy.toml")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("threshold = 5", "threshold = 1", "threshold must be an integer of at least 2"),
        ('FT = "drop_after_scan"', 'FT = "keep"', "FT = 'keep' is not allowed"),
        ('DI = "pseudonymise_or_drop"', 'DI = "keep"', "DI = 'keep' is not allowed"),
        ('"events.specialist_role" = "keep"', '"persons.phone" = "keep"', "DI and can never be kept"),
        ('"events.specialist_role" = "keep"', '"persons.shoe_size" = "drop"', "not a field of interchange v1"),
        ('"samara-krug" = "ru"', '"samara-krug" = "bg-central"', "must stay in 'ru'"),
        ('method = "suppression"', 'method = "magic"', "method must be one of"),
        ("[release]", "[release]\ncolour = 1", "unknown key 'colour'"),
    ],
)
def test_invalid_policies_name_the_line_of_the_problem(old, new, message):
    text = _with(old, new)
    with pytest.raises(PolicyError) as err:
        parse_policy(text, "policy.toml")
    assert message in str(err.value)
    line = int(str(err.value).split("line ")[1].split(":")[0])
    assert (
        new.splitlines()[-1].split("=")[0].strip() in text.splitlines()[line - 1] or "[" in text.splitlines()[line - 1]
    )


def test_diff_against_previous_policy_shows_the_change():
    diff = parse_policy(_with("threshold = 5", "threshold = 7")).diff(default_policy_text())
    assert "-threshold = 5" in diff and "+threshold = 7" in diff
