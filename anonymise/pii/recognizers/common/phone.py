"""Phone numbers in free text, read by ``phonenumbers`` with the regions of the note's language."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from presidio_analyzer import AnalysisExplanation, LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from anonymise.identifiers import egn, lnc

# a service date («на 09.12.2023 г.») is not a phone, whatever phonenumbers thinks of its digits
DATE_LIKE = re.compile(r"^\s*\d{1,2}[./]\d{1,2}[./]\d{2,4}\s*$")
# phonenumbers reads every character of the text; it is handed only the stretches that can hold a number:
# a run of digits, brackets and separators with at least six digits (no Bulgarian or Russian number has
# fewer), with some text either side for its checks of what comes before and after a number
DIGIT_RUN = re.compile(r"[+(]*\d(?:[\s().\-‐–/]{0,3}\d){5,}[)]?")
MARGIN = 24


class ZakrilaPhoneRecognizer(LocalRecognizer):
    """Find phone numbers: international (``+359 …``, ``+7 …``) and national (``0888 …``, ``8 912 …``).

    Named apart from Presidio's ``PhoneRecognizer``: Presidio's registry finds its recognizers by class name.

    Every ЕГН of someone born in the 1990s (``9001011238``) is also a Russian mobile number written
    without its trunk prefix, so ten bare digits that are a valid ЕГН or ЛНЧ are not taken for a phone.
    """

    name: str  # set by Presidio's base class; declared for mypy
    SCORE = 0.6
    REGIONS: dict[str, tuple[str, ...]] = {"bg": ("BG",), "ru": ("RU",)}
    CONTEXT = [
        "тел",
        "тел.",
        "тел.:",
        "телефон",
        "телефона",
        "телефон:",
        "gsm",
        "моб",
        "моб.",
        "мобилен",
        "мобильный",
        "сот.",
        "сотовый",
        "номер",
    ]

    def __init__(self, supported_language: str = "bg", regions: tuple[str, ...] | None = None) -> None:
        self.regions = regions if regions is not None else self.REGIONS[supported_language]
        super().__init__(
            supported_entities=["PHONE_NUMBER"],
            supported_language=supported_language,
            context=self.CONTEXT,
        )

    def load(self) -> None:
        """Load nothing: ``phonenumbers`` carries its metadata."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        """Return the phone numbers of the recognizer's regions found in ``text``."""
        results: list[RecognizerResult] = []
        for offset, stretch in _stretches(text, self.regions):
            direct = self._direct(stretch, offset)
            if direct is not None:
                results.extend(direct)
                continue
            for region in self.regions:
                matches = phonenumbers.PhoneNumberMatcher(stretch, region, leniency=phonenumbers.Leniency.VALID)
                results.extend(self._result(match, offset, region) for match in matches if self._is_phone(match))
        return LocalRecognizer.remove_duplicates(results)

    def _direct(self, stretch: str, offset: int) -> list[RecognizerResult] | None:
        """Return the phones of a stretch whose every digit run is a valid number written with ``+``, an
        international prefix or the trunk prefix (``+7 927 …``, ``8 (903) …``, ``0888 …``) — read by one
        parse each instead of phonenumbers' matcher. None: a run is anything else; the matcher decides.
        """
        found: list[RecognizerResult] = []
        for run in DIGIT_RUN.finditer(stretch):
            candidate = run.group()
            if DATE_LIKE.match(candidate):
                continue
            before = stretch[run.start() - 1 : run.start()]
            after = stretch[run.end() : run.end() + 1]
            if before.isalnum() or after.isalnum():
                return None  # «abc8005001234», a hex digest: the matcher's own checks decide
            match = next((m for r in self.regions if (m := _prefixed_number(candidate, run.start(), r))), None)
            if match is None:
                return None
            if self._is_phone(match):
                found.append(self._result(match, offset, match.region))
        return found

    def _is_phone(self, match: phonenumbers.PhoneNumberMatch) -> bool:
        return not (self._is_personal_number(match.raw_string, match.number) or DATE_LIKE.match(match.raw_string))

    def _result(self, match: phonenumbers.PhoneNumberMatch, offset: int, region: str) -> RecognizerResult:
        return RecognizerResult(
            entity_type="PHONE_NUMBER",
            start=offset + match.start,
            end=offset + match.end,
            score=self.SCORE,
            analysis_explanation=AnalysisExplanation(
                recognizer=type(self).__name__,
                original_score=self.SCORE,
                textual_explanation=f"phone number valid in region {region}",
            ),
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )

    @staticmethod
    def _is_personal_number(raw: str, number: phonenumbers.PhoneNumber) -> bool:
        """Return whether the match is a valid ЕГН or ЛНЧ written with neither ``+`` nor a trunk prefix."""
        digits = "".join(ch for ch in raw if ch.isdigit())
        if raw.lstrip().startswith("+") or digits != phonenumbers.national_significant_number(number):
            return False
        return egn.is_valid(digits) or lnc.is_valid(digits)


@lru_cache(maxsize=16)
def _numbering(region: str) -> tuple[str, str, tuple[str, ...], frozenset[int]]:
    """Return (country code, trunk prefix, international prefixes, possible national lengths) of a region,
    from phonenumbers' metadata."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if meta is None:
        raise ValueError(f"phonenumbers has no metadata for region {region!r}")
    idd = tuple({"00", meta.international_prefix or "00"} if (meta.international_prefix or "").isdigit() else {"00"})
    lengths = meta.general_desc.possible_length if meta.general_desc is not None else ()
    return str(meta.country_code), meta.national_prefix or "", idd, frozenset(lengths)


def _plausible(candidate: str, region: str) -> bool:
    """Return whether the digits of ``candidate`` have a length a number of ``region`` can have, written
    nationally, with its trunk prefix, or internationally (a cheap test before phonenumbers reads it)."""
    country, trunk, idd, lengths = _numbering(region)
    digits = "".join(ch for ch in candidate if ch.isdigit())
    n = len(digits)
    if candidate.lstrip("( ").startswith("+"):
        return digits.startswith(country) and n - len(country) in lengths
    return (
        n in lengths
        or (bool(trunk) and digits.startswith(trunk) and n - len(trunk) in lengths)
        or (digits.startswith(country) and n - len(country) in lengths)
        or any(digits.startswith(p + country) and n - len(p) - len(country) in lengths for p in idd)
    )


class _Parsed(phonenumbers.PhoneNumberMatch):
    """A number read by ``phonenumbers.parse`` from one digit run, shaped as the matcher's matches."""

    def __init__(self, start: int, raw: str, number: phonenumbers.PhoneNumber, region: str) -> None:
        super().__init__(start, raw, number)
        self.region = region


def _prefixed_number(candidate: str, start: int, region: str) -> _Parsed | None:
    """Return the run as a valid number of ``region`` if it is written with ``+``, an international
    prefix or the region's trunk prefix (so the matcher's national-prefix check has nothing to add)."""
    country, trunk, idd, _ = _numbering(region)
    raw = candidate.rstrip(" ")
    digits = raw.lstrip("( ")
    if not (digits.startswith("+") or (trunk and digits.startswith(trunk)) or digits.startswith(idd)):
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return _Parsed(start, raw, number, region)


def _stretches(text: str, regions: tuple[str, ...]) -> list[tuple[int, str]]:
    """Return (offset, text) of the stretches of ``text`` around its digit runs, those close together joined.

    A stretch never cuts a run of digits and separators, so phonenumbers sees each candidate whole. Runs
    that cannot be a phone are left out: dates, and runs whose length no number of the regions has
    (an ИНН has twelve digits, a СНИЛС eleven, an IBAN's groups fourteen or more), unless a slash may
    join two numbers.
    """
    spans: list[list[int]] = []
    for run in DIGIT_RUN.finditer(text):
        candidate = run.group()
        if DATE_LIKE.match(candidate):
            continue  # a date alone is never taken for a phone (see ``_is_phone``)
        if "/" not in candidate and not any(_plausible(candidate, region) for region in regions):
            continue
        start, end = max(0, run.start() - MARGIN), min(len(text), run.end() + MARGIN)
        if spans and start <= spans[-1][1]:
            spans[-1][1] = end
        else:
            spans.append([start, end])
    out = []
    for start, end in spans:
        while start > 0 and not text[start - 1].isspace():
            start -= 1
        while end < len(text) and not text[end].isspace():
            end += 1
        out.append((start, text[start:end]))
    return out
