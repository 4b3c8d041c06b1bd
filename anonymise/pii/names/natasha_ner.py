"""Russian person names found by natasha's news NER (Slovnet), for names that are in no list.

The embeddings and tagger weights ship inside the ``navec``/``slovnet`` wheels natasha depends on, so
nothing is downloaded. The models are built once per process (~1 s) and shared.

The NER costs tens of milliseconds a note, and the name lists already read almost every name. As one of
the analyzer's recognizers (``only_unexplained``) it reads only the sentences that hold a capitalised
word which neither the name lists (``word_kind``) nor pymorphy3's dictionary explain: a name no list
has (a rare given name, a surname without a surname ending, a nickname).
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import Any

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from anonymise.pii.names.forms import morph
from anonymise.pii.names.gazetteer import _CAPITALISED, _name_cased, _sentence_start, word_kind

ENTITY = "PERSON"
SCORE = 0.7


@cache
def _natasha() -> tuple[Any, Any]:
    from natasha import NewsEmbedding, NewsNERTagger, Segmenter

    return Segmenter(), NewsNERTagger(NewsEmbedding())


# where a sentence ends: a stop before a capital (or an opening quote or dash), or a line break
_SENTENCE_END = re.compile(r"[.!?…](?=\s+[«\"„(—–-]*[А-ЯЁA-Z])|\n")


@lru_cache(maxsize=100_000)
def unexplained(word: str, sentence_start: bool) -> bool:
    """Return whether a word is capitalised like a name, yet neither the name lists nor the dictionary
    know it (what only a statistical model can still read)."""
    if not _name_cased(word) or word.isupper() or word_kind(word, "ru", sentence_start) is not None:
        return False
    if len(word) < 3 or not any("\u0400" <= ch <= "\u04ff" for ch in word):
        return False
    parts = [part for part in re.split(r"[-‐]", word) if part]
    return not all(any(parse.is_known for parse in morph().parse(part)) for part in parts)


class NatashaNameRecognizer(EntityRecognizer):
    """Presidio recognizer wrapping natasha's NER: ``PER`` spans become ``PERSON`` with score 0.7.

    With ``only_unexplained`` it reads only the sentences with an ``unexplained`` word in them.
    """

    def __init__(self, language: str = "ru", only_unexplained: bool = False) -> None:
        super().__init__(supported_entities=[ENTITY], name="NatashaNameRecognizer", supported_language=language)
        self.only_unexplained = only_unexplained

    def load(self) -> None:
        _natasha()

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if entities and ENTITY not in entities:
            return []
        chunks = _sentences_to_read(text) if self.only_unexplained else [(0, len(text))]
        return [
            RecognizerResult(
                ENTITY,
                start,
                end,
                SCORE,
                recognition_metadata={
                    RecognizerResult.RECOGNIZER_NAME_KEY: "NatashaNameRecognizer",
                    RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                },
            )
            for chunk_start, chunk_end in chunks
            for start, end in _persons(text[chunk_start:chunk_end], chunk_start)
        ]


def _persons(text: str, offset: int) -> list[tuple[int, int]]:
    """Return where natasha's NER finds a person (``PER``) in ``text``, shifted by ``offset``."""
    from natasha import Doc

    segmenter, tagger = _natasha()
    doc = Doc(text)
    doc.segment(segmenter)
    doc.tag_ner(tagger)
    return [(offset + span.start, offset + span.stop) for span in doc.spans if span.type == "PER"]


#: A place word or its abbreviation right before a capitalised word: the word names a street or a
#: settlement («ул. Стара-Загора», «с. Курумоч»), which the address recognizer reads, not a person.
_PLACE_BEFORE = re.compile(
    r"(?:\b(?:ул|г|с|п|д|пос|пгт|пр|пр-т|пер|ш|мкр|б-р|р-н|обл|наб|пл|туп|х|ст)\.|"
    r"\b(?:улиц[аеуы]|город[аеу]?|сел[оае]|посёлк?[аеу]?|поселк?[аеу]?|деревн[яеи]|проспект[аеу]?|"
    r"бульвар[аеу]?|переул[оа]?к[аеу]?|шоссе|микрорайон[аеу]?|станиц[аеы]|хутор[аеу]?))\s{1,3}\Z",
    re.IGNORECASE,
)


def _sentences_to_read(text: str) -> list[tuple[int, int]]:
    """Return (start, end) of each sentence of ``text`` that has an ``unexplained`` word in it, one that
    is not a place named after a place word (``_PLACE_BEFORE``)."""
    chunks: list[tuple[int, int]] = []
    for match in _CAPITALISED.finditer(text):
        start = match.start()
        if chunks and start < chunks[-1][1]:
            continue
        if not unexplained(match.group(), _sentence_start(text, start)):
            continue
        if _PLACE_BEFORE.search(text, max(0, start - 16), start):
            continue
        ends = [m.end() for m in _SENTENCE_END.finditer(text, 0, match.end())]
        begin = ends[-1] if ends else 0
        after = _SENTENCE_END.search(text, match.end())
        chunks.append((begin, after.end() if after else len(text)))
    return chunks
