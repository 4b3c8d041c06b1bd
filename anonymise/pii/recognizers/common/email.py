"""E-mail addresses in free text, with Presidio's pattern and an offline public-suffix check."""

from __future__ import annotations

from functools import lru_cache

import tldextract
from presidio_analyzer.predefined_recognizers import EmailRecognizer

from anonymise.pii.recognizers.pattern import TextPatternRecognizer

# No suffix-list URL and no cache: tldextract reads the snapshot bundled with it and never the network.
_OFFLINE_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


class ZakrilaEmailRecognizer(TextPatternRecognizer, EmailRecognizer):
    """Find e-mail addresses whose domain ends in a known public suffix (``abv.bg``, ``mail.ru``).

    Presidio's pattern, matched with ``re``; named apart from Presidio's class because Presidio's
    registry finds its predefined recognizers by class name.
    """

    CONTEXT = ["имейл", "имейла", "e-mail", "email", "мейл", "поща", "почта", "эл.почта", "электронная"]

    def __init__(self, supported_language: str = "bg") -> None:
        super().__init__(context=self.CONTEXT, supported_language=supported_language)

    def validate_result(self, pattern_text: str) -> bool:
        """Return whether the address's domain has a known public suffix."""
        return _has_public_suffix(pattern_text.rsplit("@", 1)[-1].lower())


@lru_cache(maxsize=4096)
def _has_public_suffix(domain: str) -> bool:
    """Return whether ``domain`` ends in a known public suffix (cached: a few domains serve most addresses)."""
    return _OFFLINE_EXTRACT(domain).fqdn != ""
