import pytest

from anonymise.policy import CellKeyParameters, PolicyError, default_policy_text, parse_policy


def _with(old, new):
    text = default_policy_text()
    assert old in text
    return text.replace(old, new)


def test_default_policy_loads_with_threshold_five_and_a_stable_hash():
    p = parse_policy(default_policy_text())
    assert p.threshold == 5 and "T04" in p.tables and "T11" in p.tables and "T05" in p.tables
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
        ("D = 5", "D = 0", "[disclosure.cell_key] D must be an integer of at least 1"),
        ("js = 2", "js = 6", "js = 6 exceeds D = 5"),
        ("V = 3.0", "V = 0.5", "no perturbation table exists for D = 5, V = 0.5, js = 2"),
        ("V = 3.0", 'V = "three"', "[disclosure.cell_key] V must be a number"),
        ("epsilon = 1.0", "epsilon = 0", "[disclosure.dp] epsilon must be positive"),
        ("delta = 0.0", "delta = 1e-6", "the Laplace mechanism is pure ε-DP"),
        (
            'delta = 0.0\nmechanism = "laplace"',
            'mechanism = "gaussian"\ndelta = 0.0',
            "the Gaussian mechanism needs 0 < delta < 1",
        ),
        ("rows_per_person = 1", "rows_per_person = 2", "rows_per_person must be 1"),
        ("groups_per_person = 4", "groups_per_person = 0", "groups_per_person must be an integer of at least 1"),
        ("series_epsilon_cap = 4.0", "series_epsilon_cap = 0.5", "series_epsilon_cap is below one release's epsilon"),
        ("groups_per_person = 4", "groups_per_person = 4\nsigma = 1", "unknown key 'sigma' in [disclosure.dp]"),
        ('method = "suppression"', 'method = "dp"', "count families, cases, events or participations"),
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


def test_each_method_is_chosen_in_the_policy_with_its_parameters():
    p = parse_policy(default_policy_text())
    assert p.method == "suppression"
    assert p.cell_key == CellKeyParameters(D=5, V=3.0, js=2)
    assert p.dp is not None and (p.dp.epsilon, p.dp.groups_per_person, p.dp.series_epsilon_cap) == (1.0, 4, 4.0)
    assert parse_policy(_with('method = "suppression"', 'method = "cell_key"')).method == "cell_key"
    small = _with('method = "suppression"', 'method = "dp"').replace(
        '"T01", "T02", "T03", "T04", "T05", "T06", "T07", "T08", "T09", "T10", "T11", "T12"', '"T04", "T10", "T11"'
    )
    assert parse_policy(small).method == "dp"


def test_a_perturbative_method_needs_its_section():
    text = _with('method = "suppression"', 'method = "cell_key"')
    start = text.index("[disclosure.cell_key]")
    text = text[:start] + text[text.index("[disclosure.dp]") :]
    with pytest.raises(
        PolicyError, match=r"line \d+: \[disclosure\] method = 'cell_key' needs a \[disclosure.cell_key\]"
    ):
        parse_policy(text, "policy.toml")
