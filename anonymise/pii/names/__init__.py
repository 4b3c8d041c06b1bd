"""Person-name detection in Bulgarian and Russian case notes (Presidio recognizers).

``name_recognizers(language)`` are the general recognizers (name lists and surname suffixes; natasha's
NER for Russian); ``record_recognizer(known, language)`` finds the known people of one record in every
form of their names (``bg_forms`` / ``ru_forms``).
"""

from __future__ import annotations

from presidio_analyzer import EntityRecognizer

from anonymise.pii.names.forms import bg_forms, ru_forms
from anonymise.pii.names.gazetteer import GazetteerNameRecognizer
from anonymise.pii.names.natasha_ner import NatashaNameRecognizer
from anonymise.pii.names.record import RecordNameRecognizer, record_recognizer


def name_recognizers(language: str) -> list[EntityRecognizer]:
    """Return the general person-name recognizers of ``language`` (``bg`` or ``ru``)."""
    recognizers: list[EntityRecognizer] = [GazetteerNameRecognizer(language)]
    if language == "ru":
        # natasha reads only what the name lists leave unexplained: the NER costs tens of ms a note
        recognizers.append(NatashaNameRecognizer(language, only_unexplained=True))
    return recognizers


__all__ = [
    "GazetteerNameRecognizer",
    "NatashaNameRecognizer",
    "RecordNameRecognizer",
    "bg_forms",
    "name_recognizers",
    "record_recognizer",
    "ru_forms",
]
