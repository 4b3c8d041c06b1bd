"""The anonymisation policy: treatments, thresholds, domains and release settings, as signed TOML.

The policy is data the DPO changes, not code. Its SHA-256 identifies it in every report and release,
and a policy is only used once the DPO has signed that hash with their Ed25519 key: an edited policy
has another hash, so an unapproved or altered policy stops the run before anything is read.

Validation errors name the line, so the person editing the file can find what is wrong.

The treatment of each field is its ``[fields]`` setting, else its class's ``[treatments]`` setting,
else the contract's (``anonymise.treatments``); it is what the store gets and what the report prints.
Only treatments the code applies are accepted; a release table that needs a field the policy drops is
refused, naming both lines; ``[legal_basis]`` keys are the contract's sensitive fields, and each kept
sensitive field needs one; ``[domains]`` must agree with the partner registry.

>>> p = parse_policy(default_policy_text())
>>> p.threshold, p.tables
(5, ['T01', 'T02', 'T03', 'T04', 'T05', 'T06', 'T07', 'T08', 'T09', 'T10', 'T11', 'T12'])
>>> text = default_policy_text().replace('DI = "pseudonymise_or_drop"', 'DI = "keep"')
>>> parse_policy(text, "policy.toml")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
anonymise.policy.PolicyError: policy.toml, line 20: [treatments] DI = 'keep' is not allowed; allowed: ...
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from anonymise import treatments as tr
from anonymise.keys import public_key_fingerprint
from schemas.contract import ENTITIES
from schemas.partners import PARTNERS

SECTIONS = {
    "policy": {"name", "version", "purpose", "dpia_reference"},
    "legal_basis": None,  # free keys: sensitive field → legal basis
    "treatments": {"DI", "QI", "SA", "FT", "OP"},
    "fields": None,  # "entity.field" → treatment
    "domains": None,  # partner → central domain
    "disclosure": {"method", "threshold", "threshold_sensitive", "cell_key", "dp"},
    "release": {"tables", "recipient", "classification", "retention_days_store"},
}
REQUIRED = {
    "policy": ("name", "version", "purpose", "dpia_reference"),
    "treatments": ("DI", "QI", "SA", "FT", "OP"),
    "disclosure": ("method", "threshold"),
    "release": ("tables", "recipient", "classification"),
}
#: Treatments the code implements, per field class. Free text is dropped, or kept only after scrubbing;
#: a direct identifier can never be kept.
CLASS_TREATMENTS = {
    "DI": ("pseudonymise_or_drop",),
    "QI": ("generalise",),
    "SA": ("keep_tristate", "drop"),
    "FT": ("drop_after_scan", "scrub_then_keep"),
    "OP": ("keep", "drop"),
}
METHODS = ("suppression", "cell_key", "dp")
#: The parameters of each perturbative method, in ``[disclosure.<method>]``: required keys, then optional.
METHOD_KEYS = {
    "cell_key": (("D", "V", "js"), ()),
    "dp": (
        ("epsilon", "groups_per_person", "series_epsilon_cap"),
        ("delta", "mechanism", "rows_per_person", "series_delta_cap"),
    ),
}
KNOWN_TABLES = ("T01", "T02", "T03", "T04", "T05", "T06", "T07", "T08", "T09", "T10", "T11", "T12")
APPROVAL_LABEL = b"zakrila policy approval v1\n"


class PolicyError(ValueError):
    """The policy is not valid or not approved; the message names the file, line and problem."""


@dataclass(frozen=True)
class CellKeyParameters:
    """``[disclosure.cell_key]``: maximum noise ``D``, noise variance ``V``, no published count in 1..``js``."""

    D: int
    V: float
    js: int


@dataclass(frozen=True)
class DpParameters:
    """``[disclosure.dp]``: the privacy loss of one release, the contribution bounds and the series' cap.

    ``rows_per_person`` is what one person adds to one cell (1: the tables count unique persons);
    ``groups_per_person`` the cells of one measured level a person may count in (further ones are
    dropped). ``series_epsilon_cap`` and ``series_delta_cap`` bound the sum over every release of the
    series, kept in the workspace's budget ledger.
    """

    epsilon: float
    delta: float
    mechanism: str
    rows_per_person: int
    groups_per_person: int
    series_epsilon_cap: float
    series_delta_cap: float


@dataclass(frozen=True)
class Policy:
    """A validated policy with its text and hash."""

    source: str
    text: str
    data: dict[str, Any]

    @property
    def sha256(self) -> str:
        """Return the SHA-256 of the policy text (hex)."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def threshold(self) -> int:
        """Return the minimum published count."""
        return int(self.data["disclosure"]["threshold"])

    @property
    def threshold_sensitive(self) -> int:
        """Return the minimum published count for cells of sensitive groups (never below ``threshold``)."""
        return int(self.data["disclosure"].get("threshold_sensitive", self.threshold))

    @property
    def method(self) -> str:
        """Return the disclosure-control method of the release: suppression, cell_key or dp."""
        return str(self.data["disclosure"]["method"])

    @property
    def cell_key(self) -> CellKeyParameters | None:
        """Return the cell key method's parameters (None if the policy sets none)."""
        section = self.data["disclosure"].get("cell_key")
        if section is None:
            return None
        return CellKeyParameters(D=int(section["D"]), V=float(section["V"]), js=int(section["js"]))

    @property
    def dp(self) -> DpParameters | None:
        """Return the differential-privacy parameters (None if the policy sets none)."""
        section = self.data["disclosure"].get("dp")
        if section is None:
            return None
        return DpParameters(
            epsilon=float(section["epsilon"]),
            delta=float(section.get("delta", 0.0)),
            mechanism=str(section.get("mechanism", "laplace")),
            rows_per_person=int(section.get("rows_per_person", 1)),
            groups_per_person=int(section["groups_per_person"]),
            series_epsilon_cap=float(section["series_epsilon_cap"]),
            series_delta_cap=float(section.get("series_delta_cap", 0.0)),
        )

    @property
    def tables(self) -> list[str]:
        """Return the table IDs the release holds."""
        return list(self.data["release"]["tables"])

    @property
    def treatments(self) -> dict[str, str]:
        """Return ``entity.field`` → the treatment applied: the field's setting, else its class's, else
        the contract's (``anonymise.treatments``)."""
        return tr.effective_treatments(self.data["treatments"], self.data.get("fields", {}))

    @property
    def keeps_scrubbed_notes(self) -> bool:
        """Return whether any free text is kept, scrubbed, in the store."""
        return "scrub_then_keep" in self.treatments.values()

    def dropped_fields(self) -> set[str]:
        """Return the ``entity.field`` names the policy drops (by field or by class setting)."""
        return tr.dropped(self.treatments)

    def diff(self, previous: str | None) -> list[str]:
        """Return a unified diff of this policy against a previous policy text (empty if equal)."""
        if previous is None:
            return []
        return list(
            difflib.unified_diff(previous.splitlines(), self.text.splitlines(), "previous", "current", lineterm="")
        )


def default_policy_text() -> str:
    """Return the text of the policy shipped with zakrila."""
    return resources.files("anonymise").joinpath("default_policy.toml").read_text("utf-8")


def line_of(text: str, section: str, key: str | None = None) -> int:
    """Return the line of ``key`` in ``[section]`` (or of the section header), 1-based; 1 if absent.

    The key may be bare, double- or single-quoted.

    >>> line_of("[domains]\\n'a-b' = 'x'\\n", "domains", "a-b"), line_of('[x]\\n"k" = 1', "x", "k")
    (2, 2)
    """
    current = None
    header = 1
    quoted = re.escape(key) if key is not None else ""
    pattern = re.compile(rf"""\s*(?:"{quoted}"|'{quoted}'|{quoted})\s*=""")
    for number, line in enumerate(text.splitlines(), start=1):
        match = re.match(r"\s*\[([^\]]+)\]", line)
        if match:
            current = match.group(1).strip()
            if current == section:
                header = number
            continue
        if current == section and key is not None and pattern.match(line):
            return number
    return header


def parse_policy(text: str, source: str = "policy") -> Policy:
    """Return the validated policy in ``text``; PolicyError naming the line otherwise."""

    def fail(section: str, key: str | None, problem: str) -> PolicyError:
        return PolicyError(f"{source}, line {line_of(text, section, key)}: {problem}")

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: {exc}") from None
    for section, value in data.items():
        if section not in SECTIONS:
            raise fail(section, None, f"unknown section [{section}]; known: {', '.join(SECTIONS)}")
        allowed = SECTIONS[section]
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    raise fail(section, key, f"unknown key {key!r} in [{section}]")
    for section, keys in REQUIRED.items():
        if section not in data:
            raise PolicyError(f"{source}: section [{section}] is missing")
        for key in keys:
            if key not in data[section]:
                raise fail(section, None, f"[{section}] lacks {key!r}")
    for cls, treatment in data["treatments"].items():
        if treatment not in CLASS_TREATMENTS[cls]:
            allowed_text = ", ".join(CLASS_TREATMENTS[cls])
            raise fail("treatments", cls, f"[treatments] {cls} = {treatment!r} is not allowed; allowed: {allowed_text}")
    for name, treatment in data.get("fields", {}).items():
        _check_field(name, treatment, lambda problem, n=name: fail("fields", n, problem))
    _check_legal_basis(data, fail)
    for partner_id, domain in data.get("domains", {}).items():
        partner = PARTNERS.get(partner_id)
        if partner is None:
            raise fail("domains", partner_id, f"[domains] {partner_id!r} is not in the partner registry")
        if domain != partner.domain:
            raise fail(
                "domains",
                partner_id,
                f"[domains] {partner_id} must stay in {partner.domain!r} (its jurisdiction), not {domain!r}",
            )
    disclosure = data["disclosure"]
    if disclosure["method"] not in METHODS:
        raise fail("disclosure", "method", f"[disclosure] method must be one of {', '.join(METHODS)}")
    if disclosure["method"] != "suppression" and disclosure["method"] not in disclosure:
        raise fail(
            "disclosure",
            "method",
            f"[disclosure] method = {disclosure['method']!r} needs a [disclosure.{disclosure['method']}] section",
        )
    threshold = disclosure["threshold"]
    if not isinstance(threshold, int) or threshold < 2:
        raise fail("disclosure", "threshold", "[disclosure] threshold must be an integer of at least 2")
    sensitive = disclosure.get("threshold_sensitive", threshold)
    if not isinstance(sensitive, int) or sensitive < threshold:
        raise fail("disclosure", "threshold_sensitive", "[disclosure] threshold_sensitive must be >= threshold")
    unknown = [t for t in data["release"]["tables"] if t not in KNOWN_TABLES]
    if unknown:
        raise fail(
            "release", "tables", f"[release] tables {unknown} are not built yet (known: {', '.join(KNOWN_TABLES)})"
        )
    _check_tables_keep_their_fields(text, data, fail)
    for method in METHOD_KEYS:
        if method in disclosure:
            _check_method(
                method, disclosure[method], lambda key, problem, m=method: fail(f"disclosure.{m}", key, problem)
            )
    if disclosure["method"] == "dp":
        not_persons = _tables_not_counting_persons(data["release"]["tables"])
        if not_persons:
            raise fail(
                "release",
                "tables",
                f"[release] tables {not_persons} count families, cases, events or participations: differential "
                "privacy here bounds each person's contribution, so it covers tables of unique persons only; "
                "remove them or use method = 'cell_key'",
            )
    return Policy(source=source, text=text, data=data)


def _check_method(method: str, section: Any, fail: Any) -> None:
    """Raise (through ``fail(key, problem)``) unless ``[disclosure.<method>]`` holds valid parameters."""
    name = f"[disclosure.{method}]"
    if not isinstance(section, dict):
        raise fail(None, f"{name} must be a section of parameters")
    required, optional = METHOD_KEYS[method]
    for key in section:
        if key not in (*required, *optional):
            raise fail(key, f"unknown key {key!r} in {name}; known: {', '.join((*required, *optional))}")
    for key in required:
        if key not in section:
            raise fail(None, f"{name} lacks {key!r}")

    def number(key: str, default: float = 0.0) -> float:
        value = section.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail(key, f"{name} {key} must be a number")
        return float(value)

    def integer(key: str, least: int, default: int = 1) -> int:
        value = section.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise fail(key, f"{name} {key} must be an integer of at least {least}")
        return value

    if method == "cell_key":
        from anonymise.cellkey import ptable

        D, js, V = integer("D", 1), integer("js", 0), number("V")
        if js > D:
            raise fail("js", f"{name} js = {js} exceeds D = {D}: a count of 1 could then only fall to 0")
        if V <= 0:
            raise fail("V", f"{name} V must be positive")
        try:
            ptable(D=D, V=V, js=js)
        except ValueError as exc:
            raise fail("V", f"{name} no perturbation table exists for D = {D}, V = {V:g}, js = {js}: {exc}") from None
        return
    epsilon, delta = number("epsilon"), number("delta")
    if epsilon <= 0:
        raise fail("epsilon", f"{name} epsilon must be positive")
    mechanism = section.get("mechanism", "laplace")
    if mechanism not in ("laplace", "gaussian"):
        raise fail("mechanism", f"{name} mechanism must be 'laplace' or 'gaussian'")
    if mechanism == "laplace" and delta != 0:
        raise fail("delta", f"{name} the Laplace mechanism is pure ε-DP: delta must be 0 (or use 'gaussian')")
    if mechanism == "gaussian" and not 0 < delta < 1:
        raise fail("delta", f"{name} the Gaussian mechanism needs 0 < delta < 1")
    if integer("rows_per_person", 1) != 1:
        raise fail("rows_per_person", f"{name} rows_per_person must be 1: every table counts unique persons")
    integer("groups_per_person", 1)
    if number("series_epsilon_cap") < epsilon:
        raise fail("series_epsilon_cap", f"{name} series_epsilon_cap is below one release's epsilon")
    if not delta <= number("series_delta_cap") < 1:
        raise fail("series_delta_cap", f"{name} series_delta_cap must be at least delta and below 1")


def _tables_not_counting_persons(tables: list[str]) -> list[str]:
    """Return the release tables with a measure whose unit is not a person (T11 needs no protection)."""
    from anonymise.ministry import SPECS

    return [
        t
        for t in tables
        if t in SPECS and SPECS[t].threshold is not None and any(m.unit != "person" for m in SPECS[t].measures)
    ]


def _check_field(name: str, treatment: object, fail: Any) -> None:
    """Raise (through ``fail(problem)``) unless ``[fields] name = treatment`` is a field and a treatment
    the code applies to it (``anonymise.treatments``)."""
    entity, _, field_name = name.partition(".")
    if entity not in ENTITIES or field_name not in ENTITIES[entity].columns:
        raise fail(f'[fields] {name!r} is not a field of interchange v1 (write "entity.field" in quotes)')
    if not isinstance(treatment, str):
        raise fail(f"[fields] {name} must be set to a treatment name")
    f = next(x for x in ENTITIES[entity].fields if x.name == field_name)
    problem = tr.field_problem(name, f, treatment)
    if problem:
        raise fail(problem)


#: The sensitive fields of the contract, by name and by ``entity.field`` (either may key ``[legal_basis]``).
SENSITIVE = {key: name for name, f in tr.fields() if f.field_class == "SA" for key in (name, name.split(".")[1])}


def _check_legal_basis(data: dict[str, Any], fail: Any) -> None:
    """Raise unless every ``[legal_basis]`` key is a sensitive field of the contract with a stated basis,
    and every sensitive field the policy keeps has one."""
    stated: set[str] = set()
    for key, basis in data.get("legal_basis", {}).items():
        if key not in SENSITIVE:
            close = difflib.get_close_matches(key, sorted(SENSITIVE), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise fail(
                "legal_basis",
                key,
                f"[legal_basis] {key!r} is not a sensitive field of interchange v1{hint}; "
                f"sensitive fields: {', '.join(sorted(k for k in SENSITIVE if '.' not in k))}",
            )
        if not isinstance(basis, str) or not basis.strip():
            raise fail("legal_basis", key, f"[legal_basis] {key} must state the legal basis as text")
        if SENSITIVE[key] in stated:
            raise fail("legal_basis", key, f"[legal_basis] {SENSITIVE[key]} has two legal bases")
        stated.add(SENSITIVE[key])
    effective = tr.effective_treatments(data["treatments"], data.get("fields", {}))
    missing = [n for n, f in tr.fields() if f.field_class == "SA" and effective[n] != "drop" and n not in stated]
    if missing:
        raise fail(
            "legal_basis",
            None,
            f"[legal_basis] states no legal basis for {', '.join(missing)}, which the policy keeps; "
            "state one or drop the field",
        )


def _check_tables_keep_their_fields(text: str, data: dict[str, Any], fail: Any) -> None:
    """Raise, naming the lines, if a release table needs a field the policy drops."""
    effective = tr.effective_treatments(data["treatments"], data.get("fields", {}))
    found = tr.conflicts(data["release"]["tables"], effective)
    if not found:
        return
    table, name = found[0]
    f = next(x for x in ENTITIES[name.split(".")[0]].fields if x.name == name.split(".")[1])
    if name in data.get("fields", {}):
        where = f"[fields] {name!r} = 'drop' (line {line_of(text, 'fields', name)})"
    else:
        where = f"[treatments] {f.field_class} = 'drop' (line {line_of(text, 'treatments', f.field_class)})"
    by_table: dict[str, list[str]] = {}
    for t, n in found[1:]:
        by_table.setdefault(t, []).append(n)
    others = [
        f"{t} needs {', '.join(ns[:3])}" + (f" and {len(ns) - 3} more" if len(ns) > 3 else "")
        for t, ns in by_table.items()
    ]
    more = f" (also: {'; '.join(others)})" if others else ""
    raise fail(
        "release",
        "tables",
        f"[release] tables: {table} needs {name}, which the policy drops by {where}; remove {table} from "
        f"[release] tables or keep the field{more}",
    )


def approval_message(policy_sha256: str) -> bytes:
    """Return the bytes a DPO signs to approve the policy with this hash."""
    return APPROVAL_LABEL + policy_sha256.encode("ascii")


def sign_approval(policy: Policy, dpo_key: Ed25519PrivateKey, approved_at: str) -> dict[str, str]:
    """Return the approval record of a policy signed with the DPO's key."""
    return {
        "policy_sha256": policy.sha256,
        "approved_at": approved_at,
        "dpo_key_sha256": public_key_fingerprint(dpo_key.public_key()),
        "signature": dpo_key.sign(approval_message(policy.sha256)).hex(),
    }


def approval_problem(policy: Policy, record: dict[str, str] | None, dpo_public: Ed25519PublicKey) -> str | None:
    """Return why the policy is not approved by this DPO key, or None if it is."""
    if record is None:
        return "the policy has not been approved by the DPO ('zakrila policy approve')"
    if record.get("policy_sha256") != policy.sha256:
        return "the policy was changed after the DPO approved it (its SHA-256 differs); ask the DPO to approve it"
    if record.get("dpo_key_sha256") != public_key_fingerprint(dpo_public):
        return "the approval was signed with another key than the DPO key of this workspace"
    try:
        dpo_public.verify(bytes.fromhex(record.get("signature", "")), approval_message(policy.sha256))
    except (InvalidSignature, ValueError):
        return "the DPO's signature over the policy does not verify"
    return None
