"""python-stdnum's own test vectors, found (or not) inside Bulgarian and Russian sentences.

The vectors are the ``tests/`` folder of python-stdnum's source distribution, fetched from PyPI when
the test runs (never committed): every valid ЕГН, ИНН and IBAN listed there must be found by our
analyzer inside a carrier sentence, and every number listed as invalid must not be reported as that type.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from importlib import metadata
from pathlib import Path

import pytest

from anonymise.pii.engine import analyze

CASES = {  # vector file → (language, entity, sentence template)
    "test_bg_egn.doctest": ("bg", "EGN", "Майката, ЕГН {}, подаде молба за подкрепа."),
    "test_ru_inn.doctest": ("ru", "INN", "Мать (ИНН {}) обратилась за помощью."),
    "test_iban.doctest": ("bg", "IBAN", "Помощта е преведена по сметка {} на майката."),
}


@pytest.fixture(scope="module")
def vectors(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("stdnum")
    version = metadata.version("python-stdnum")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            ":all:",
            f"python-stdnum=={version}",
            "-d",
            str(folder),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    archive = next(folder.glob("python*stdnum-*.tar.gz"))
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if "/tests/" in m.name and m.name.endswith(tuple(CASES))]
        tar.extractall(folder, members=members, filter="data")
    return next(folder.glob("python*stdnum-*/tests"))


def blocks(path: Path) -> tuple[list[str], list[str]]:
    """Return the valid and the invalid numbers listed in a python-stdnum doctest file."""
    valid: list[str] = []
    invalid: list[str] = []
    lines = path.read_text("utf-8").splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip().startswith(">>> numbers = '''"):
            body = []
            i += 1
            while not lines[i].strip().startswith("... '''"):
                body.append(lines[i].strip().removeprefix("...").strip())
                i += 1
            decider = next(ln for ln in lines[i + 1 :] if ln.strip().startswith(">>>"))
            numbers = [b for b in body if b]
            if "check_country" in decider or "is_valid" not in decider:
                pass
            elif "not " in decider.split("if", 1)[1]:
                valid += numbers
            else:
                invalid += numbers
        i += 1
    return valid, invalid


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_valid_number_is_found_in_a_sentence(vectors, name):
    language, entity, template = CASES[name]
    valid, _ = blocks(vectors / name)
    assert len(valid) >= 5, "no vectors parsed: the test would prove nothing"
    missed = []
    for number in valid:
        text = template.format(number)
        start = text.index(number)
        found = [r for r in analyze(text, language) if r.entity_type == entity]
        if not any(r.start <= start and r.end >= start + len(number) for r in found):
            missed.append(number)
    assert missed == []


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_invalid_number_is_reported_as_its_type(vectors, name):
    language, entity, template = CASES[name]
    _, invalid = blocks(vectors / name)
    wrong = [n for n in invalid if any(r.entity_type == entity for r in analyze(template.format(n), language))]
    assert wrong == []
