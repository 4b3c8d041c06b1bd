"""Russian person names found by natasha's news NER (Slovnet), for names that are in no list.

The embeddings and tagger weights ship inside the ``navec``/``slovnet`` wheels natasha depends on, so
nothing is downloaded. The models are built once per process (~1 s) and shared.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

ENTITY = "PERSON"
SCORE = 0.7


@cache
def _natasha() -> tuple[Any, Any]:
    from natasha import NewsEmbedding, NewsNERTagger, Segmenter

    return Segmenter(), NewsNERTagger(NewsEmbedding())


class NatashaNameRecognizer(EntityRecognizer):
    """Presidio recognizer wrapping natasha's NER: ``PER`` spans become ``PERSON`` with score 0.7."""

    def __init__(self, language: str = "ru") -> None:
        super().__init__(supported_entities=[ENTITY], name="NatashaNameRecognizer", supported_language=language)

    def load(self) -> None:
        _natasha()

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if entities and ENTITY not in entities:
            return []
        from natasha import Doc

        segmenter, tagger = _natasha()
        doc = Doc(text)
        doc.segment(segmenter)
        doc.tag_ner(tagger)
        return [
            RecognizerResult(
                ENTITY,
                span.start,
                span.stop,
                SCORE,
                recognition_metadata={
                    RecognizerResult.RECOGNIZER_NAME_KEY: "NatashaNameRecognizer",
                    RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                },
            )
            for span in doc.spans
            if span.type == "PER"
        ]
