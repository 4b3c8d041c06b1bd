"""zakrila's privacy core: a pure library of Polars expressions and functions over frames and keys.

It knows nothing of Prefect, files or the network. The names most callers need:

- ``pseudonym(column, key)`` — the keyed HMAC-SHA256 pseudonym of a column, as an expression;
- ``bg_latin(text)`` — the official Bulgarian Streamlined System (Transliteration Act 2009);
- ``age_years``, ``age_band``, ``month``, ``quarter``, ``citizenship_group`` — generalisation;
- ``linkage_value`` / ``fallback_key_expr`` — what is hashed for linkage;
- ``audit(release_dir)`` — the disclosure audit of a release from its files alone.
"""

from anonymise.auditing import AuditFinding, audit
from anonymise.generalise import age_band, age_years, citizenship_group, month, quarter, tri_state
from anonymise.identifiers import linkage_expr, linkage_value
from anonymise.names import fallback_key_expr, normalise
from anonymise.pseudonym import pseudonym
from anonymise.transliterate import bg_latin, ru_latin

__all__ = [
    "AuditFinding",
    "audit",
    "age_band",
    "age_years",
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
    "tri_state",
]
