"""The offline Presidio analyzer for Bulgarian and Russian case notes, assembled in one place.

Nothing here touches the network: the NLP engine is a blank spaCy pipeline per language (a tokenizer,
and a lemma that is the lower-cased word), the registry holds only our recognizers
(``anonymise.pii.recognizers``) and the e-mail check reads tldextract's bundled suffix list.

Every recognizer of ours reads the raw text, so ``analyze`` does not run the spaCy pipeline unless an
ad-hoc recognizer of another kind asks for its tokens. Context words are checked by
``KeywordContextEnhancer`` on the raw text: a recognizer's context word among the three words (stop
words not counted) before a match raises its score, as Presidio's lemma enhancer does over spaCy tokens.

``analyze`` returns one reading per stretch of text: where two results overlap the higher score wins,
and on a tie a checksummed identifier wins over a phone number made of the same digits.
"""

from __future__ import annotations

import bisect
import functools
import importlib
import re
from collections.abc import Callable, Sequence
from typing import cast

import spacy
from presidio_analyzer import (
    AnalyzerEngine,
    EntityRecognizer,
    PatternRecognizer,
    RecognizerRegistry,
    RecognizerResult,
)
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts, SpacyNlpEngine
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
from anonymise.pii.recognizers.common.email import ZakrilaEmailRecognizer
from anonymise.pii.recognizers.common.iban import ZakrilaIbanRecognizer
from anonymise.pii.recognizers.common.phone import ZakrilaPhoneRecognizer
from anonymise.pii.recognizers.ru.address import RuAddressRecognizer
from anonymise.pii.recognizers.ru.birth_certificate import RuBirthCertificateRecognizer
from anonymise.pii.recognizers.ru.inn import InnRecognizer
from anonymise.pii.recognizers.ru.oms_policy import OmsPolicyRecognizer
from anonymise.pii.recognizers.ru.passport import RuPassportRecognizer
from anonymise.pii.recognizers.ru.snils import SnilsRecognizer

__all__ = [
    "ENTITY_PLACEHOLDERS",
    "LANGUAGES",
    "PLACEHOLDERS",
    "KeywordContextEnhancer",
    "analyze",
    "analyzer",
    "resolve_overlaps",
]

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

#: Language → entity type → the placeholder written in a note of that language: a Russian note reads
#: «[ТЕЛЕФОН]», «[ДАТА РОЖДЕНИЯ]», «[ЭЛ. ПОЧТА]» in Russian.
PLACEHOLDERS: dict[str, dict[str, str]] = {
    "bg": ENTITY_PLACEHOLDERS,
    "ru": {
        "EGN": "[ЕГН]",
        "LNC": "[ЛНЧ]",
        "BG_ID_CARD": "[ЛИЧНАЯ КАРТА]",
        "BG_PASSPORT": "[ПАСПОРТ]",
        "RU_PASSPORT": "[ПАСПОРТ]",
        "IBAN": "[IBAN]",
        "PHONE_NUMBER": "[ТЕЛЕФОН]",
        "EMAIL_ADDRESS": "[ЭЛ. ПОЧТА]",
        "ADDRESS": "[АДРЕС]",
        "DATE_OF_BIRTH": "[ДАТА РОЖДЕНИЯ]",
        "SNILS": "[СНИЛС]",
        "INN": "[ИНН]",
        "OMS_POLICY": "[ПОЛИС ОМС]",
        "RU_BIRTH_CERTIFICATE": "[СВИДЕТЕЛЬСТВО О РОЖДЕНИИ]",
        "PERSON": "[ЛИЦО]",
    },
}

#: Language → the recognizer classes of its analyzer (each built with that language).
RECOGNIZERS: dict[str, tuple[Callable[[str], EntityRecognizer], ...]] = {
    "bg": (
        EgnRecognizer,
        LncRecognizer,
        BgIdCardRecognizer,
        BgPassportRecognizer,
        BgAddressRecognizer,
        ZakrilaIbanRecognizer,
        ZakrilaPhoneRecognizer,
        ZakrilaEmailRecognizer,
        DateOfBirthRecognizer,
    ),
    "ru": (
        SnilsRecognizer,
        InnRecognizer,
        RuPassportRecognizer,
        OmsPolicyRecognizer,
        RuBirthCertificateRecognizer,
        RuAddressRecognizer,
        ZakrilaIbanRecognizer,
        ZakrilaPhoneRecognizer,
        ZakrilaEmailRecognizer,
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
        """Make the blank pipelines available (nothing is read from disk or the network).

        Each is built on first use: our recognizers read the raw text, so a run that gives the analyzer
        no recognizer needing spaCy's tokens never pays the ~0.4 s a pipeline takes to build.
        """
        # Presidio annotates ``nlp`` by its initial None; it holds the pipelines once loaded.
        self.nlp = _Pipelines(self.languages)  # type: ignore[assignment]


class _Pipelines(dict[str, Language]):
    """Blank pipelines by language, each built when first asked for."""

    def __init__(self, languages: Sequence[str]) -> None:
        super().__init__()
        self.languages = tuple(languages)

    def __missing__(self, language: str) -> Language:
        if language not in self.languages:
            raise KeyError(language)
        pipeline = self[language] = _blank_pipeline(language)
        return pipeline

    def keys(self):  # type: ignore[override]
        """Return every language, built or not (Presidio lists the supported languages by the keys)."""
        return dict.fromkeys(self.languages).keys()

    def __bool__(self) -> bool:
        return bool(self.languages)


def _name_recognizers(language: str) -> list[EntityRecognizer]:
    """Return the colleague module's person-name recognizers, or none while it does not exist."""
    try:
        names = importlib.import_module("anonymise.pii.names")
    except ImportError:
        return []
    make = getattr(names, "name_recognizers", None)
    return list(make(language)) if callable(make) else []


# A word of context: letters or digits, joined by inner dots or hyphens («л.к», «г-жа», «12.03.2019»).
_CONTEXT_WORD = re.compile(r"[^\W_]+(?:[.\-‐'’][^\W_]+)*")
# Context stays within its sentence: one ends at a stop before a capital, or at a line break.
_SENTENCE_END = re.compile(r"[.!?…]\s+(?=[«\"„(—–-]*[А-ЯЁA-Z])|\n")


def _context_key(word: str) -> str:
    """Return a context word as it is compared: lower case, without trailing dots and colons («л.к.:» → «л.к»)."""
    return word.lower().rstrip(".:")


class KeywordContextEnhancer(ContextAwareEnhancer):
    """Presidio context enhancer over the raw text: no tokens, lemmas or NLP pipeline needed.

    A result is raised by ``context_similarity_factor`` (to at least ``min_score_with_context_similarity``)
    when one of its recognizer's context words is the word the match starts in or one of the
    ``context_prefix_count`` words before it in its sentence, stop words of the language not counted,
    compared whole and ignoring case. This is what Presidio's ``LemmaContextAwareEnhancer`` does in
    ``whole_word`` mode over a blank spaCy pipeline whose lemmas are the lower-cased words, without
    building a spaCy document per note (and without reaching back into the previous sentence: «1985
    г.р. Встреча на 21.04.2022» is no birth date).
    """

    def __init__(self, stop_words: frozenset[str], context_prefix_count: int = 3) -> None:
        super().__init__(
            context_similarity_factor=0.35,
            min_score_with_context_similarity=0.4,
            context_prefix_count=context_prefix_count,
            context_suffix_count=0,
        )
        self.stop_words = stop_words
        self._keys: dict[str, frozenset[str]] = {}  # recognizer id → its context words, compared form

    def _context_of(self, recognizer: EntityRecognizer) -> frozenset[str]:
        keys = self._keys.get(recognizer.id)
        if keys is None:
            keys = self._keys[recognizer.id] = frozenset(_context_key(w) for w in recognizer.context or ())
        return keys

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts | None,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        """Return ``raw_results`` with the scores of those that have a context word before them raised."""
        by_id = {recognizer.id: recognizer for recognizer in recognizers}
        extra = frozenset(_context_key(w) for w in context or ())
        ends: list[int] = []
        words: list[str] = []  # the text's words, lower case, stop words left out, with their ends
        starts: list[int] = []
        sentences: list[int] = []  # where each sentence after the first starts
        for result in raw_results:
            meta = result.recognition_metadata or {}
            recognizer = by_id.get(meta.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY, ""))
            if (
                recognizer is None
                or not recognizer.context
                or meta.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY)
            ):
                continue
            if not ends:
                for match in _CONTEXT_WORD.finditer(text):
                    word = _context_key(match.group())
                    if word not in self.stop_words:
                        starts.append(match.start())
                        ends.append(match.end())
                        words.append(word)
                if not ends:
                    break
                sentences = [match.end() for match in _SENTENCE_END.finditer(text)]
            # the first word ending after the match's start is the word the match starts in
            last = bisect.bisect_right(ends, result.start)
            first = max(0, last - self.context_prefix_count)
            sentence = bisect.bisect_right(sentences, result.start)
            if sentence:
                first = max(first, bisect.bisect_left(starts, sentences[sentence - 1]))
            window = words[first : last + 1]
            keys = self._context_of(recognizer) | extra
            supportive = next((word for word in reversed(window) if word in keys), None)
            if supportive is None:
                continue
            result.score = min(
                max(result.score + self.context_similarity_factor, self.min_score_with_context_similarity),
                ContextAwareEnhancer.MAX_SCORE,
            )
            if result.analysis_explanation is not None:
                result.analysis_explanation.set_supportive_context_word(supportive)
                result.analysis_explanation.set_improved_score(result.score)
        return raw_results


class _Engine(AnalyzerEngine):
    """Presidio's engine, minus a per-recognizer pass that does nothing for our recognizers.

    Before the context enhancer, Presidio hands every recognizer its own results and everyone else's
    (two list scans per recognizer per text) so that a recognizer may rescore its results; none of
    ours does, so the results go straight to the enhancer unless some recognizer does rescore.
    """

    def _enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        if any(type(r).enhance_using_context is not EntityRecognizer.enhance_using_context for r in recognizers):
            return super()._enhance_using_context(text, raw_results, nlp_artifacts, recognizers, context)
        return self.context_aware_enhancer.enhance_using_context(
            text=text, raw_results=raw_results, nlp_artifacts=nlp_artifacts, recognizers=recognizers, context=context
        )


@functools.cache
def analyzer(language: str) -> AnalyzerEngine:
    """Return the offline analyzer for ``language`` ("bg" or "ru"), built once and cached."""
    if language not in RECOGNIZERS:
        raise ValueError(f"no analyzer for language {language!r}; known: {', '.join(LANGUAGES)}")
    recognizers = [make(language) for make in RECOGNIZERS[language]] + _name_recognizers(language)
    registry = RecognizerRegistry(recognizers=recognizers, supported_languages=[language])
    return _Engine(
        registry=registry,
        nlp_engine=BlankSpacyNlpEngine([language]),
        supported_languages=[language],
        # Whole words only: a substring match would let «инн» fire inside «длинный». Three words back
        # keeps «роден на …» from reaching a service date later in the sentence.
        context_aware_enhancer=KeywordContextEnhancer(_stop_words(language), context_prefix_count=3),
    )


def _stop_words(language: str) -> frozenset[str]:
    """Return spaCy's stop words of ``language`` (what its blank pipeline marks ``is_stop``)."""
    module = importlib.import_module(f"spacy.lang.{language}.stop_words")
    return frozenset(module.STOP_WORDS)


@functools.cache
def _no_artifacts(language: str) -> NlpArtifacts:
    """Return empty NLP artifacts: what a recognizer that reads only the raw text is handed."""
    no_tokens = cast(Doc, [])  # never read: text-only recognizers and our context enhancer ignore tokens
    return NlpArtifacts(entities=[], tokens=no_tokens, tokens_indices=[], lemmas=[], nlp_engine=None, language=language)


@functools.cache
def _text_only_kinds() -> tuple[type[EntityRecognizer], ...]:
    """Return the recognizer classes that find their results in the raw text, without spaCy's tokens."""
    from anonymise.pii.names import GazetteerNameRecognizer, NatashaNameRecognizer, RecordNameRecognizer

    return (
        PatternRecognizer,
        ZakrilaPhoneRecognizer,
        GazetteerNameRecognizer,
        NatashaNameRecognizer,
        RecordNameRecognizer,
    )


def _reads_text_only(recognizer: EntityRecognizer) -> bool:
    """Return whether ``recognizer`` finds its results in the raw text, without spaCy's tokens."""
    return isinstance(recognizer, _text_only_kinds())


def _priority(result: RecognizerResult) -> tuple[float, int, int, int]:
    rank = 2 if result.entity_type in _CHECKSUMMED else _TIE_RANK.get(result.entity_type, 1)
    return (-result.score, -rank, -(result.end - result.start), result.start)


def resolve_overlaps(results: Sequence[RecognizerResult]) -> list[RecognizerResult]:
    """Return the results with no two overlapping, in text order.

    The higher score wins; on a tie a checksummed identifier (ЕГН, ЛНЧ, СНИЛС, ИНН, IBAN) wins over
    any other reading and a phone number loses to anything; then the longer span wins. A name inside a
    longer name is not a reading of its own: «Дарьей» of the record's mother inside «Дарьей Яковлевой»
    (the grandmother) gives way to the whole name, whatever the scores.
    """
    names = [r for r in results if r.entity_type == "PERSON"]
    inside = {
        id(r)
        for r in names
        for other in names
        if other.start <= r.start and r.end <= other.end and other.end - other.start > r.end - r.start
    }
    kept: list[RecognizerResult] = []
    for result in sorted((r for r in results if id(r) not in inside), key=_priority):
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
        # None runs the spaCy pipeline: only an ad-hoc recognizer of another kind may need its tokens.
        nlp_artifacts=_no_artifacts(language) if all(_reads_text_only(r) for r in ad_hoc) else None,
    )
    return resolve_overlaps(results)
