import pytest

from anonymise.policy import PolicyError, default_policy_text, load_policy


def test_default_policy_loads_with_threshold_five_and_a_stable_hash():
    p = load_policy()
    assert p.threshold == 5 and p.tables == ["T04", "T11"]
    assert p.sha256 == load_policy().sha256


def test_broken_toml_names_the_line(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text(default_policy_text().replace("threshold = 5", "threshold = = 5"))
    with pytest.raises(PolicyError, match=r"line \d+"):
        load_policy(path)


def test_a_threshold_below_two_is_refused(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text(default_policy_text().replace("threshold = 5", "threshold = 1"))
    with pytest.raises(PolicyError, match="threshold"):
        load_policy(path)


def test_diff_against_previous_policy_shows_the_change(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text(default_policy_text().replace("threshold = 5", "threshold = 7"))
    diff = load_policy(path).diff(default_policy_text())
    assert "-threshold = 5" in diff and "+threshold = 7" in diff
