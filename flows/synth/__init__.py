"""Synthetic partner batches in interchange format v1, seeded and reproducible, with a truth file.

>>> from flows.synth import generate, SynthSummary  # doctest: +SKIP
>>> summary = generate(Path("inbox"), scale=1.0, seed=0)  # doctest: +SKIP
"""

from flows.synth.generate import SynthSummary, generate

__all__ = ["SynthSummary", "generate"]
