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


def _line(message: str) -> int:
    return int(message.split("line ")[1].split(":")[0])


def _small(text: str) -> str:
    """Return the policy with its release narrowed to T04, T10 and T11."""
    tables = '"T01", "T02", "T03", "T04", "T05", "T06", "T07", "T08", "T09", "T10", "T11", "T12"'
    assert tables in text
    return text.replace(tables, '"T04", "T10", "T11"')


def test_a_field_or_class_setting_overrides_the_contract_treatment():
    p = parse_policy(_small(_with('SA = "keep_tristate"', 'SA = "drop"')))
    assert p.treatments["persons.minority"] == p.treatments["cases.outcome"] == "drop"
    assert p.treatments["events.specialist_role"] == "keep" and p.treatments["persons.birth_date"] == "age_at_reference"
    assert {"persons.minority", "persons.disability", "persons.homeless"} <= p.dropped_fields()
    text = _small(_with('SA = "keep_tristate"', 'SA = "drop"')).replace(
        '"events.specialist_role" = "keep"', '"events.specialist_role" = "drop"\n"persons.disability" = "keep_tristate"'
    )
    p = parse_policy(text)
    assert p.treatments["persons.disability"] == "keep_tristate" and p.treatments["events.specialist_role"] == "drop"
    assert p.treatments["events.event_id"] == "pseudonymise"  # a record key is never dropped
    assert parse_policy(default_policy_text()).dropped_fields() == {
        "persons.address",
        "persons.phone",
        "persons.email",
        "events.site_id",
    }


def test_a_table_that_needs_a_dropped_field_is_refused_naming_both_lines():
    text = _with('"events.specialist_role" = "keep"', '"persons.minority" = "drop"')
    with pytest.raises(PolicyError) as err:
        parse_policy(text, "policy.toml")
    message = str(err.value)
    assert "T01 needs persons.minority, which the policy drops" in message
    assert "remove T01 from [release] tables or keep the field" in message and "T09 needs persons.minority" in message
    lines = text.splitlines()
    assert lines[_line(message) - 1].startswith("tables = [")
    field_line = int(message.split("(line ")[1].split(")")[0])
    assert lines[field_line - 1] == '"persons.minority" = "drop"'


def test_a_class_drop_that_a_table_needs_is_refused_naming_the_class_line():
    text = _with('OP = "keep"', 'OP = "drop"')
    with pytest.raises(PolicyError) as err:
        parse_policy(_small(text), "policy.toml")
    message = str(err.value)
    assert "T04 needs events.service_code, which the policy drops by [treatments] OP = 'drop'" in message
    field_line = int(message.split("(line ")[1].split(")")[0])
    assert text.splitlines()[field_line - 1] == 'OP = "drop"'


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ('"persons.birth_date" = "keep"', "not implemented for this field; use 'age_at_reference' or 'drop'"),
        ('"persons.minority" = "keep"', "use 'keep_tristate' or 'drop'"),
        ('"persons.given_name" = "drop"', "links persons and never reaches the store"),
        ('"persons.national_id" = "drop"', "links persons and never reaches the store"),
        ('"memberships.family_id" = "drop"', "is a record key and cannot be dropped"),
        ('"events.notes" = "keep"', "FT and can never be kept in the clear"),
        ('"events.modality" = "generalise"', "use 'keep' or 'drop'"),
        ("events.modality = 'drop'", "is not a field of interchange v1"),  # a bare dotted key is a table
    ],
)
def test_a_field_treatment_the_code_does_not_apply_is_refused_at_its_line(setting, message):
    text = _with('"events.specialist_role" = "keep"', setting)
    with pytest.raises(PolicyError) as err:
        parse_policy(text, "policy.toml")
    assert message in str(err.value)
    assert text.splitlines()[_line(str(err.value)) - 1] in (setting, "[fields]")


def test_every_treatment_a_policy_can_set_is_one_the_code_implements():
    from anonymise.policy import CLASS_TREATMENTS
    from anonymise.treatments import TREATMENTS, allowed_treatments, fields

    for name, f in fields():
        assert set(allowed_treatments(name, f)) <= set(TREATMENTS), name
    quality_only = _small(default_policy_text()).replace('"T04", "T10", "T11"', '"T11"')
    for cls, names in CLASS_TREATMENTS.items():
        for treatment in names:
            current = next(line for line in quality_only.splitlines() if line.startswith(f"{cls} = "))
            policy = parse_policy(quality_only.replace(current, f'{cls} = "{treatment}"'))
            assert set(policy.treatments.values()) <= set(TREATMENTS), (cls, treatment)
            applied = {t for n, t in policy.treatments.items() if policy.data["fields"].get(n) is None}
            assert treatment in applied or treatment in {"pseudonymise_or_drop", "generalise"}, (cls, treatment)


def test_notes_kept_for_one_entity_only_are_scrubbed_and_the_others_dropped():
    p = parse_policy(_with('"events.specialist_role" = "keep"', '"cases.notes" = "scrub_then_keep"'))
    assert p.keeps_scrubbed_notes
    assert p.treatments["cases.notes"] == "scrub_then_keep" and p.treatments["events.notes"] == "drop_after_scan"
    assert not parse_policy(default_policy_text()).keeps_scrubbed_notes


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("disability = ", "disabilty = ", "[legal_basis] 'disabilty' is not a sensitive field of interchange v1"),
        ("disability = ", "disabilty = ", "did you mean 'disability'?"),
        ("homeless = ", "labour_status = ", "'labour_status' is not a sensitive field"),
        ('homeless = "GDPR Art. 6(1)(e); Reg. (EU) 2021/1057 Annex I"', 'homeless = ""', "must state the legal basis"),
        ("homeless = ", '"persons.disability" = ', "persons.disability has two legal bases"),
    ],
)
def test_legal_basis_keys_are_the_contract_sensitive_fields(old, new, message):
    text = _with(old, new)
    with pytest.raises(PolicyError) as err:
        parse_policy(text, "policy.toml")
    assert message in str(err.value)
    assert text.splitlines()[_line(str(err.value)) - 1].startswith(new.split(" = ")[0])


def test_a_kept_sensitive_field_needs_a_legal_basis_and_a_dropped_one_does_not():
    text = _with('outcome = "GDPR Art. 6(1)(e); Child Protection Act"\n', "")
    with pytest.raises(PolicyError, match=r"line \d+: \[legal_basis\] states no legal basis for cases.outcome"):
        parse_policy(text, "policy.toml")
    dropped = text.replace('"events.specialist_role" = "keep"', '"cases.outcome" = "drop"')
    assert parse_policy(_small(dropped)).treatments["cases.outcome"] == "drop"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('"samara-krug" = "ru"', "'samara-krug' = 'bg-central'", "[domains] samara-krug must stay in 'ru'"),
        ('"plovdiv-ksuds" = "bg-central"', "'plovdiv' = 'bg-central'", "'plovdiv' is not in the partner registry"),
        ('"plovdiv-ksuds" = "bg-central"', "plovdiv-ksuds = 'ru'", "plovdiv-ksuds must stay in 'bg-central'"),
    ],
)
def test_domains_are_checked_against_the_registry_at_the_line_of_a_quoted_or_bare_key(old, new, message):
    text = _with(old, new)
    with pytest.raises(PolicyError) as err:
        parse_policy(text, "policy.toml")
    assert message in str(err.value)
    assert text.splitlines()[_line(str(err.value)) - 1] == new
