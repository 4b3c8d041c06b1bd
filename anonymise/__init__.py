"""zakrila's privacy core: a pure library of Polars expressions and functions over frames and keys.

It knows nothing of Prefect, files or the network. The names most callers need:

- ``pseudonym(column, key)`` — the keyed HMAC-SHA256 pseudonym of a column, as an expression;
- ``bg_latin(text)`` — the official Bulgarian Streamlined System (Transliteration Act 2009);
- ``age_years``, ``age_band``, ``month``, ``quarter``, ``citizenship_group`` — generalisation;
- ``linkage_value`` / ``fallback_key_expr`` — what is hashed for linkage;
- ``scrub(text, language, known_names)`` — a case note with its personal data replaced by placeholders;
- ``audit(release_dir)`` — the disclosure audit of a release from its files alone.

They are imported on first use, so that a process that needs one part (a worker scanning notes, say)
does not pay for loading the others (the linear-programming audit loads SciPy).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from anonymise.auditing import AuditFinding, audit
    from anonymise.generalise import age_band, age_years, citizenship_group, month, quarter, tri_state
    from anonymise.identifiers import linkage_expr, linkage_value
    from anonymise.names import fallback_key_expr, normalise
    from anonymise.pii.scrub import Scrubbed, scrub
    from anonymise.pseudonym import pseudonym
    from anonymise.transliterate import bg_latin, ru_latin

_HOME = {
    "AuditFinding": "anonymise.auditing",
    "audit": "anonymise.auditing",
    "age_band": "anonymise.generalise",
    "age_years": "anonymise.generalise",
    "citizenship_group": "anonymise.generalise",
    "month": "anonymise.generalise",
    "quarter": "anonymise.generalise",
    "tri_state": "anonymise.generalise",
    "linkage_expr": "anonymise.identifiers",
    "linkage_value": "anonymise.identifiers",
    "fallback_key_expr": "anonymise.names",
    "normalise": "anonymise.names",
    "Scrubbed": "anonymise.pii.scrub",
    "scrub": "anonymise.pii.scrub",
    "pseudonym": "anonymise.pseudonym",
    "bg_latin": "anonymise.transliterate",
    "ru_latin": "anonymise.transliterate",
}

__all__ = [
    "AuditFinding",
    "Scrubbed",
    "age_band",
    "age_years",
    "audit",
    "bg_latin",
    "citizenship_group",
    "fallback_key_expr",
    "linkage_expr",
    "linkage_value",
    "month",
    "normalise",
    "pseudonym",
    "quarter",
    "ru_latin",
    "scrub",
    "tri_state",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use (PEP 562)."""
    if name not in _HOME:
        raise AttributeError(f"module 'anonymise' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
