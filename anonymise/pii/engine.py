"""The offline Presidio analyzer for Bulgarian and Russian case notes, assembled in one place.

Nothing here touches the network: the NLP engine is a blank spaCy pipeline per language (a tokenizer,
and a lemma that is the lower-cased word so that context words match), the registry holds only our
recognizers (``anonymise.pii.recognizers``) and the e-mail check reads tldextract's bundled suffix list.

``analyze`` returns one reading per stretch of text: where two results overlap the higher score wins,
and on a tie a checksummed identifier wins over a phone number made of the same digits.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable, Sequence
from typing import cast

import spacy
from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry, RecognizerResult
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import SpacyNlpEngine
from spacy.language import Language
from spacy.tokenizer import Tokenizer
from spacy.tokens import Doc
from spacy.util import compile_infix_regex

from anonymise.pii.recognizers.bg.address import BgAddressRecognizer
from anonymise.pii.recognizers.bg.egn import EgnRecognizer
from anonymise.pii.recognizers.bg.id_card import BgIdCardRecognizer
from anonymise.pii.recognizers.bg.lnc import LncRecognizer
from anonymise.pii.recognizers.bg.passport import BgPassportRecognizer
from anonymise.pii.recognizers.common.date_of_birth import DateOfBirthRecognizer
from anonymise.pii.recognizers.common.email import EmailRecognizer
from anonymise.pii.recognizers.common.iban import IbanRecognizer
from anonymise.pii.recognizers.common.phone import PhoneRecognizer
from anonymise.pii.recognizers.ru.address import RuAddressRecognizer
from anonymise.pii.recognizers.ru.birth_certificate import RuBirthCertificateRecognizer
from anonymise.pii.recognizers.ru.inn import InnRecognizer
from anonymise.pii.recognizers.ru.oms_policy import OmsPolicyRecognizer
from anonymise.pii.recognizers.ru.passport import RuPassportRecognizer
from anonymise.pii.recognizers.ru.snils import SnilsRecognizer

__all__ = ["ENTITY_PLACEHOLDERS", "LANGUAGES", "analyze", "analyzer", "resolve_overlaps"]

#: Entity type → the Bulgarian placeholder written in its place.
ENTITY_PLACEHOLDERS: dict[str, str] = {
    "EGN": "[ЕГН]",
    "LNC": "[ЛНЧ]",
    "BG_ID_CARD": "[ЛИЧНА КАРТА]",
    "BG_PASSPORT": "[ПАСПОРТ]",
    "RU_PASSPORT": "[ПАСПОРТ]",
    "IBAN": "[IBAN]",
    "PHONE_NUMBER": "[ТЕЛЕФОН]",
    "EMAIL_ADDRESS": "[ИМЕЙЛ]",
    "ADDRESS": "[АДРЕС]",
    "DATE_OF_BIRTH": "[ДАТА НА РАЖДАНЕ]",
    "SNILS": "[СНИЛС]",
    "INN": "[ИНН]",
    "OMS_POLICY": "[ПОЛИЦА ОМС]",
    "RU_BIRTH_CERTIFICATE": "[СВИДЕТЕЛСТВО]",
    "PERSON": "[ЛИЦЕ]",
}

#: Language → the recognizer classes of its analyzer (each built with that language).
RECOGNIZERS: dict[str, tuple[Callable[[str], EntityRecognizer], ...]] = {
    "bg": (
        EgnRecognizer,
        LncRecognizer,
        BgIdCardRecognizer,
        BgPassportRecognizer,
        BgAddressRecognizer,
        IbanRecognizer,
        PhoneRecognizer,
        EmailRecognizer,
        DateOfBirthRecognizer,
    ),
    "ru": (
        SnilsRecognizer,
        InnRecognizer,
        RuPassportRecognizer,
        OmsPolicyRecognizer,
        RuBirthCertificateRecognizer,
        RuAddressRecognizer,
        IbanRecognizer,
        PhoneRecognizer,
        EmailRecognizer,
        DateOfBirthRecognizer,
    ),
}
LANGUAGES = tuple(RECOGNIZERS)

# Identifiers whose digits carry a check: on a score tie they win over any other reading of the span.
_CHECKSUMMED = frozenset({"EGN", "LNC", "SNILS", "INN", "IBAN"})
_TIE_RANK = {"PHONE_NUMBER": 0}

# «ЕГН:7501010010» is one token to spaCy; split a colon between a word and a digit so «ЕГН» is context.
_COLON_BEFORE_DIGIT = r"(?<=[^\W\d_]):(?=\d)"


@Language.component("zakrila_lower_lemma")
def _lower_lemma(doc: Doc) -> Doc:
    """Set each token's lemma to its lower-cased text: blank pipelines have no lemmatizer."""
    for token in doc:
        token.lemma_ = token.lower_
    return doc


def _blank_pipeline(language: str) -> Language:
    nlp = spacy.blank(language)
    tokenizer = cast(Tokenizer, nlp.tokenizer)
    tokenizer.infix_finditer = compile_infix_regex([*(nlp.Defaults.infixes or ()), _COLON_BEFORE_DIGIT]).finditer
    nlp.add_pipe("zakrila_lower_lemma")
    return nlp


class BlankSpacyNlpEngine(SpacyNlpEngine):
    """A spaCy NLP engine over blank pipelines: tokens and lower-case lemmas, no model, no download."""

    def __init__(self, languages: Sequence[str]) -> None:
        super().__init__(models=[{"lang_code": language, "model_name": f"blank:{language}"} for language in languages])
        self.languages = tuple(languages)

    def load(self) -> None:
        """Build the blank pipelines (nothing is read from disk or the network)."""
        # Presidio annotates ``nlp`` by its initial None; it holds the pipelines once loaded.
        self.nlp = {language: _blank_pipeline(language) for language in self.languages}  # type: ignore[assignment]


def _name_recognizers(language: str) -> list[EntityRecognizer]:
    """Return the colleague module's person-name recognizers, or none while it does not exist."""
    try:
        names = importlib.import_module("anonymise.pii.names")
    except ImportError:
        return []
    make = getattr(names, "name_recognizers", None)
    return list(make(language)) if callable(make) else []


@functools.cache
def analyzer(language: str) -> AnalyzerEngine:
    """Return the offline analyzer for ``language`` ("bg" or "ru"), built once and cached."""
    if language not in RECOGNIZERS:
        raise ValueError(f"no analyzer for language {language!r}; known: {', '.join(LANGUAGES)}")
    recognizers = [make(language) for make in RECOGNIZERS[language]] + _name_recognizers(language)
    registry = RecognizerRegistry(recognizers=recognizers, supported_languages=[language])
    return AnalyzerEngine(
        registry=registry,
        nlp_engine=BlankSpacyNlpEngine([language]),
        supported_languages=[language],
        # Whole words only: a substring match would let «инн» fire inside «длинный». Three words back
        # keeps «роден на …» from reaching a service date later in the sentence.
        context_aware_enhancer=LemmaContextAwareEnhancer(context_prefix_count=3, context_matching_mode="whole_word"),
    )


def _priority(result: RecognizerResult) -> tuple[float, int, int, int]:
    rank = 2 if result.entity_type in _CHECKSUMMED else _TIE_RANK.get(result.entity_type, 1)
    return (-result.score, -rank, -(result.end - result.start), result.start)


def resolve_overlaps(results: Sequence[RecognizerResult]) -> list[RecognizerResult]:
    """Return the results with no two overlapping, in text order.

    The higher score wins; on a tie a checksummed identifier (ЕГН, ЛНЧ, СНИЛС, ИНН, IBAN) wins over
    any other reading and a phone number loses to anything; then the longer span wins.
    """
    kept: list[RecognizerResult] = []
    for result in sorted(results, key=_priority):
        if all(result.end <= other.start or other.end <= result.start for other in kept):
            kept.append(result)
    return sorted(kept, key=lambda result: (result.start, result.end))


def analyze(
    text: str,
    language: str,
    ad_hoc: Sequence[EntityRecognizer] = (),
    entities: Sequence[str] | None = None,
    score_threshold: float = 0.5,
) -> list[RecognizerResult]:
    """Return the personal data found in ``text``, overlaps resolved, in text order.

    ``ad_hoc`` recognizers (the names of the record's own people, say) run beside the registry's for
    this call only; ``entities`` limits the search to those types.
    """
    engine = analyzer(language)
    if entities is not None:
        # Presidio warns on (and will refuse) a type no recognizer of this language finds: drop those.
        known = set(engine.get_supported_entities(language))
        known.update(entity for recognizer in ad_hoc for entity in recognizer.supported_entities)
        entities = [entity for entity in entities if entity in known]
        if not entities:
            return []
    results = engine.analyze(
        text=text,
        language=language,
        entities=list(entities) if entities is not None else None,
        ad_hoc_recognizers=list(ad_hoc) or None,
        score_threshold=score_threshold,
        # Our patterns say themselves where case matters; keep Presidio's case-insensitive default.
        regex_flags=re.DOTALL | re.MULTILINE | re.IGNORECASE,
    )
    return resolve_overlaps(results)
