"""Score personal-data detection in free-text case notes: zakrila's analyzer against stock Presidio, same run.

    .venv/bin/python benchmarks/text_pii.py                 # 1,000 notes per language, all cores
    .venv/bin/python benchmarks/text_pii.py --notes 200 --workers 1

The notes are synthetic Bulgarian and Russian social-work notes with exact gold spans
(``benchmarks/pii_corpus.py``). Two detectors read the same notes:

* **zakrila**: ``anonymise.pii.engine.analyze(text, lang, ad_hoc=[record_recognizer(known, lang)])``,
  i.e. with the note's record (child, parents, social worker) given to the name recognizer. Building
  that record recognizer is part of the per-note cost and is timed.
* **stock Presidio**: ``AnalyzerEngine`` with a blank spaCy pipeline for the language (no model is
  downloaded, so its spaCy NER finds no PERSON) and Presidio's own locale-agnostic recognizers
  registered for ``bg``/``ru`` (credit card, crypto, date, e-mail, IBAN, IP, medical licence, MAC, UUID,
  URL, spaCy NER, and phone with ``supported_regions=("BG", "RU")``), tldextract reading its bundled
  suffix list (offline). Its entity names are mapped to ours where they correspond (IBAN_CODE→IBAN;
  PHONE_NUMBER, EMAIL_ADDRESS, PERSON as they are); its other types (DATE_TIME, URL, …) are not scored
  and only counted.

Matching: predictions of one entity type that overlap or are separated only by white space are first
merged (a detector may return «Иван» and «Петров» separately). A predicted span then matches a gold span
of the same entity when they overlap by at least 50 % of the gold span's characters. Recall = gold spans
matched / gold spans; precision = predicted spans matching some gold span / predicted spans (of the
entity types we score); F2 weighs recall four times as much as precision (β = 2).

Throughput is notes per second, measured three ways (the output says which is which):

* **1 core**, both detectors: one process, one ``analyze`` call per note, best of ``--repeat`` passes
  taken in turn. This is how stock Presidio is run, and zakrila's rate on one core.
* **zakrila, N workers (warm)**: the same notes over ``--workers`` processes (``ProcessPoolExecutor`` over
  chunks), workers started and warmed up before the clock starts; their results are checked against
  the one-core run.
* **zakrila, large batch**: the pipeline's own path, ``anonymise.pii.notes.scan_notes``, on ``--batch``
  further notes (another seed), each note its own family with its record, run in a freshly spawned
  process once on 1 core and once on ``--workers`` cores. Modules are imported before the clock starts
  (the pipeline has them loaded); building the analyzers and starting the helper processes are timed.
  On N cores the calling process scans from the start while N − 1 helpers start, and each helper joins
  once warm (``anonymise.pii.workers``); the output says how many chunks each side read.

BLAS/OpenMP thread pools are limited to one thread so that "one core" means one core. On a shared
machine the rates move with the load from other processes; every ratio compares rates measured in the
same run.

Targets of the issue: recall ≥ 0.99 for checksummed identifiers (EGN, LNC, SNILS, INN, IBAN), phones and
e-mails; ≥ 0.95 for PERSON and ADDRESS; precision ≥ 0.90 over all entity types; zakrila's throughput ≥ 2×
stock Presidio's using all cores for a large batch (zakrila's large-batch rate over stock's one-core
rate). The one-core ratio is reported against the same 2× goal as well.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from types import SimpleNamespace
from typing import Any

os.environ.setdefault("TLDEXTRACT_CACHE", os.devnull)
# "1 core" must mean one core: numerical libraries (natasha's NER runs on numpy) would otherwise start a
# thread per core in the main process and in every worker. Set before numpy is first imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.pii_corpus import LANGUAGES, Gold, Note, generate_corpus  # noqa: E402

#: (entity, start, end)
Span = tuple[str, int, int]

#: Every entity type zakrila's schema knows; predictions of other types are not scored.
SCHEMA = (
    "PERSON", "ADDRESS", "DATE_OF_BIRTH", "PHONE_NUMBER", "EMAIL_ADDRESS", "IBAN", "EGN", "LNC", "BG_ID_CARD",
    "BG_PASSPORT", "SNILS", "INN", "OMS_POLICY", "RU_PASSPORT", "RU_BIRTH_CERTIFICATE",
)  # fmt: skip
STOCK_TO_OURS = {
    "PHONE_NUMBER": "PHONE_NUMBER",
    "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "IBAN_CODE": "IBAN",
    "PERSON": "PERSON",
}
RECALL_TARGETS = {
    **dict.fromkeys(("EGN", "LNC", "SNILS", "INN", "IBAN", "PHONE_NUMBER", "EMAIL_ADDRESS"), 0.99),
    **dict.fromkeys(("PERSON", "ADDRESS"), 0.95),
}
PRECISION_TARGET = 0.90
SPEEDUP_TARGET = 2.0
MIN_OVERLAP = 0.5
MATCHING_RULE = (
    "Matching: same-entity predictions that overlap or touch (white space between) are merged; a prediction "
    f"matches a gold span of the same entity when they overlap by >= {MIN_OVERLAP:.0%} of the gold span."
)


# ---------------------------------------------------------------------------------------------- scoring
@dataclass
class Counts:
    gold: int = 0
    found: int = 0  # gold spans matched
    predicted: int = 0
    correct: int = 0  # predictions matching a gold span

    def __iadd__(self, other: Counts) -> Counts:
        self.gold += other.gold
        self.found += other.found
        self.predicted += other.predicted
        self.correct += other.correct
        return self

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else float("nan")

    @property
    def recall(self) -> float:
        return self.found / self.gold if self.gold else float("nan")

    @property
    def f2(self) -> float:
        return f_beta(self.precision, self.recall, 2.0)


def f_beta(precision: float, recall: float, beta: float = 2.0) -> float:
    """F-beta; NaN when either input is undefined, 0 when both are 0."""
    if precision != precision or recall != recall:  # NaN
        return float("nan")
    if precision == 0 and recall == 0:
        return 0.0
    b2 = beta * beta
    return (1 + b2) * precision * recall / (b2 * precision + recall)


def merge_spans(spans: Iterable[Span], text: str) -> list[Span]:
    """Merge same-entity spans that overlap or are separated only by white space."""
    merged: list[Span] = []
    for entity, start, end in sorted(set(spans), key=lambda s: (s[0], s[1], s[2])):
        if merged and merged[-1][0] == entity:
            _, m_start, m_end = merged[-1]
            if start <= m_end or not text[m_end:start].strip():
                merged[-1] = (entity, m_start, max(m_end, end))
                continue
        merged.append((entity, start, end))
    return merged


def _overlap(a_start: int, a_end: int, b_start: int, b_end: int) -> int:
    return max(0, min(a_end, b_end) - max(a_start, b_start))


def _matches(pred: Span, gold: Gold) -> bool:
    return pred[0] == gold.entity and _overlap(pred[1], pred[2], gold.start, gold.end) >= MIN_OVERLAP * (
        gold.end - gold.start
    )


@dataclass
class Errors:
    """Misses (gold spans not found) and false alarms (predictions matching no gold span)."""

    false_negatives: list[tuple[Note, Gold]] = field(default_factory=list)
    false_positives: list[tuple[Note, Span]] = field(default_factory=list)


def score_note(note: Note, predicted: Iterable[Span], errors: Errors | None = None) -> dict[str, Counts]:
    """Per-entity counts for one note (predictions are merged first, see ``merge_spans``)."""
    preds = merge_spans(predicted, note.text)
    counts: dict[str, Counts] = defaultdict(Counts)
    for g in note.spans:
        c = counts[g.entity]
        c.gold += 1
        if any(_matches(p, g) for p in preds):
            c.found += 1
        elif errors is not None:
            errors.false_negatives.append((note, g))
    for p in preds:
        c = counts[p[0]]
        c.predicted += 1
        if any(_matches(p, g) for g in note.spans):
            c.correct += 1
        elif errors is not None:
            errors.false_positives.append((note, p))
    return dict(counts)


def score(
    notes: Sequence[Note], predictions: Sequence[Iterable[Span]], errors: Errors | None = None
) -> dict[str, Counts]:
    """Per-entity counts over a corpus, plus ``"ALL"`` (micro-averaged over every entity type)."""
    if len(notes) != len(predictions):
        raise ValueError("one list of predictions per note")
    total: dict[str, Counts] = defaultdict(Counts)
    for note, predicted in zip(notes, predictions, strict=True):
        for entity, c in score_note(note, predicted, errors).items():
            total[entity] += c
            total["ALL"] += c
    total.setdefault("ALL", Counts())
    return dict(total)


# -------------------------------------------------------------------------------------------- detectors
def _keep(results: Iterable, mapping: dict[str, str] | None, other: Counter | None) -> list[Span]:
    spans = []
    for r in results:
        entity = mapping.get(r.entity_type) if mapping is not None else r.entity_type
        if entity is None or entity not in SCHEMA:
            if other is not None:
                other[r.entity_type] += 1
            continue
        spans.append((entity, r.start, r.end))
    return spans


def zakrila_detector(language: str) -> Callable[[Note], list]:
    """Return a function analysing a note with zakrila (the engine is built and warmed up now)."""
    from anonymise.pii.engine import analyze, analyzer
    from anonymise.pii.names import record_recognizer

    analyzer(language)

    def detect(note: Note) -> list:
        return analyze(note.text, language, ad_hoc=[record_recognizer(note.known, language)])

    detect(Note("Иван Петров, 0888 123 456.", language, [], [("Иван Петров", "child")]))
    return detect


def _offline_tldextract() -> None:
    """Make Presidio's e-mail recognizer read tldextract's bundled suffix list instead of the network."""
    import tldextract
    from presidio_analyzer.predefined_recognizers.generic import email_recognizer

    extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)
    email_recognizer.tldextract = SimpleNamespace(extract=extract)


def stock_engine(language: str):
    """Stock Presidio for ``language``: blank spaCy, its own locale-agnostic recognizers registered for it.

    This is what ``RecognizerRegistry.load_predefined_recognizers(languages=[language])`` loads for a
    language its configuration does not list (crypto, date, e-mail, IBAN, IP, medical licence, MAC, UUID,
    phone, URL and the spaCy NER recognizer), plus the credit-card recognizer, and phones for the regions
    BG and RU instead of Presidio's default eight. The recognizers are constructed here, one by one, so
    that the list is explicit and the phone regions can be set.
    """
    import spacy
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        CryptoRecognizer,
        DateRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        MacAddressRecognizer,
        MedicalLicenseRecognizer,
        PhoneRecognizer,
        UrlRecognizer,
        UuidRecognizer,
    )

    _offline_tldextract()
    nlp_engine = SpacyNlpEngine(models=[{"lang_code": language, "model_name": f"blank:{language}"}])
    nlp_engine.nlp = {language: spacy.blank(language)}
    registry = RecognizerRegistry(supported_languages=[language])
    for cls in (
        CreditCardRecognizer,
        CryptoRecognizer,
        DateRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        MedicalLicenseRecognizer,
        MacAddressRecognizer,
        UrlRecognizer,
        UuidRecognizer,
    ):
        registry.add_recognizer(cls(supported_language=language))
    registry.add_recognizer(PhoneRecognizer(supported_language=language, supported_regions=("BG", "RU")))
    registry.add_nlp_recognizer(nlp_engine=nlp_engine)
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=[language])


def stock_detector(language: str) -> Callable[[Note], list]:
    engine = stock_engine(language)

    def detect(note: Note) -> list:
        return engine.analyze(note.text, language=language)

    detect(Note("Иван Петров, 0888 123 456.", language, [], []))
    return detect


# ------------------------------------------------------------------------------------------- throughput
_WORKER: dict[str, Callable[[Note], list]] = {}


def _worker_warm(language: str) -> int:
    if language not in _WORKER:
        _WORKER[language] = zakrila_detector(language)
    time.sleep(0.2)  # hold this worker so that the other warm-up tasks go to the other workers
    return os.getpid()


def _worker_chunk(language: str, notes: list[Note]) -> list[list[Span]]:
    detect = _WORKER.get(language) or _WORKER.setdefault(language, zakrila_detector(language))
    return [_keep(detect(n), None, None) for n in notes]


def as_batch(notes: Sequence[Note]) -> tuple[object, dict[str, object]]:
    """Return the notes as the pipeline sees a batch: ``(people, raw)`` for ``anonymise.pii.notes.scan_notes``,
    each note its own family whose people are the note's record."""
    import polars as pl

    people = [(f"n{k}p{j}", name, role) for k, note in enumerate(notes) for j, (name, role) in enumerate(note.known)]
    people_frame = pl.DataFrame(people, schema=["person_id", "name", "role"], orient="row")
    members = pl.DataFrame(
        {"family_id": [pid.split("p")[0] for pid, _, _ in people], "person_id": [pid for pid, _, _ in people]}
    )
    cases = pl.DataFrame({"family_id": [f"n{k}" for k in range(len(notes))], "notes": [n.text for n in notes]})
    return people_frame, {"memberships": members, "cases": cases}


def _batch_in_fresh_process(notes: list[Note], language: str, workers: int, out: Any) -> None:
    """Run in a freshly spawned process: time ``scan_notes`` on the batch, as the pipeline calls it.

    Modules are imported before the clock starts (a pipeline process has them loaded); the analyzers
    are not built yet, and no helper process exists: building them, and starting the helpers, is timed.
    """
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    from anonymise.pii import notes as pipeline_notes
    from anonymise.pii import workers as pool

    people, raw = as_batch(notes)
    stats: dict[str, int] = {}
    start = time.perf_counter()
    scan = pipeline_notes.scan_notes(raw, people, language, workers=workers, stats=stats)
    seconds = time.perf_counter() - start
    pool.shutdown()
    found = sum(n for kind, n in scan.counts["cases"].items() if kind != "notes_with_text")
    out.put((seconds, found, stats))


def run_batch(notes: list[Note], language: str, workers: int) -> tuple[float, int, dict[str, int]]:
    """Seconds to scan a large batch the pipeline's way (``scan_notes`` on ``workers`` cores) in a fresh
    process, start-up of analyzers and helpers included; the spans found; chunks done here / by helpers."""
    # the fresh process finds the function by module name, whatever name this file was loaded under
    here = importlib.import_module("benchmarks.text_pii")
    context = get_context("spawn")
    out = context.Queue()
    process = context.Process(target=here._batch_in_fresh_process, args=(notes, language, workers, out))
    process.start()
    seconds, found, stats = out.get()
    process.join()
    return seconds, found, stats


def run_parallel(notes: list[Note], language: str, workers: int) -> tuple[float, list[list[Span]]]:
    """Seconds to analyse ``notes`` with ``workers`` warmed-up processes, and the spans found."""
    size = max(1, -(-len(notes) // (workers * 4)))
    chunks = [notes[i : i + size] for i in range(0, len(notes), size)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_worker_warm, [language] * workers * 2))
        start = time.perf_counter()
        results = list(pool.map(_worker_chunk, [language] * len(chunks), chunks))
        seconds = time.perf_counter() - start
    return seconds, [spans for chunk in results for spans in chunk]


# ----------------------------------------------------------------------------------------------- report
@dataclass
class Row:
    language: str
    system: str
    entity: str
    counts: Counts


@dataclass
class Target:
    language: str
    what: str
    value: float
    goal: float

    @property
    def passed(self) -> bool:
        return self.value >= self.goal


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    throughput: dict[tuple[str, str], float] = field(default_factory=dict)  # (language, path) → notes/s
    errors: dict[str, Errors] = field(default_factory=dict)  # language → zakrila's errors
    other: dict[tuple[str, str], Counter] = field(default_factory=dict)  # unscored types per (lang, system)
    batch_split: dict[str, dict[str, int]] = field(default_factory=dict)  # language → chunks here / by helpers


def _fmt(x: float) -> str:
    return "   —" if x != x else f"{x:.3f}"


def print_table(rows: list[Row]) -> None:
    print(
        f"{'lang':<4} {'entity':<21} {'gold':>5} | {'zakrila P':>9} {'R':>6} {'F2':>6} | "
        f"{'stock P':>8} {'R':>6} {'F2':>6}"
    )
    by_key = {(r.language, r.system, r.entity): r.counts for r in rows}
    seen: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        if r.entity not in seen[r.language]:
            seen[r.language].append(r.entity)
    for lang, entities in seen.items():
        ordered = [e for e in SCHEMA if e in entities] + ["ALL"]
        for entity in ordered:
            z = by_key.get((lang, "zakrila", entity), Counts())
            s = by_key.get((lang, "stock", entity), Counts())
            gold = max(z.gold, s.gold)
            if not gold and not z.predicted and not s.predicted:
                continue
            print(
                f"{lang:<4} {entity:<21} {gold:>5} | {_fmt(z.precision):>9} {_fmt(z.recall):>6} {_fmt(z.f2):>6} | "
                f"{_fmt(s.precision):>8} {_fmt(s.recall):>6} {_fmt(s.f2):>6}"
            )
        print()


def _context(text: str, start: int, end: int, width: int = 30) -> str:
    left = text[max(0, start - width) : start].replace("\n", " ")
    right = text[end : end + width].replace("\n", " ")
    return f"…{left}[[{text[start:end]}]]{right}…"


def _template_of(note: Note, pos: int) -> str:
    for tid, start, end in note.parts:
        if start <= pos < end:
            return tid
    return "?"


def print_errors(language: str, errors: Errors, top: int = 6) -> None:
    """The most frequent misses per (entity, template slot) and false alarms per (entity, template)."""
    print(f"zakrila errors, {language}: false negatives by entity and template slot (most frequent first)")
    fn: dict[tuple[str, str, str], list[tuple[Note, Gold]]] = defaultdict(list)
    for note, g in errors.false_negatives:
        fn[(g.entity, g.template, g.slot)].append((note, g))
    for (entity, tid, slot), items in sorted(fn.items(), key=lambda kv: -len(kv[1]))[: top * 3]:
        note, g = items[0]
        print(f"  FN {entity:<14} {len(items):>5}×  {tid}/{{{slot}}}  e.g. {_context(note.text, g.start, g.end)}")
    print(f"zakrila errors, {language}: false positives by entity and template (most frequent first)")
    fp: dict[tuple[str, str, str], list[tuple[Note, Span]]] = defaultdict(list)
    for note, p in errors.false_positives:
        kinds = {d.entity for d in note.distractors if _overlap(d.start, d.end, p[1], p[2])}
        other = {g.entity for g in note.spans if _overlap(g.start, g.end, p[1], p[2])}
        what = ",".join(sorted(kinds)) or (("overlaps gold " + ",".join(sorted(other))) if other else "literal text")
        fp[(p[0], _template_of(note, p[1]), what)].append((note, p))
    for (entity, tid, what), items in sorted(fp.items(), key=lambda kv: -len(kv[1]))[: top * 3]:
        note, p = items[0]
        print(f"  FP {entity:<14} {len(items):>5}×  {tid} ({what})  e.g. {_context(note.text, p[1], p[2])}")
    print()


def _time_passes(detect: Callable[[Note], list], notes: list[Note]) -> tuple[float, list]:
    start = time.perf_counter()
    results = [detect(n) for n in notes]
    return time.perf_counter() - start, results


def evaluate(
    language: str, notes: list[Note], workers: int, repeat: int, report: Report, batch: list[Note] | None = None
) -> None:
    zakrila = zakrila_detector(language)
    stock = stock_detector(language)
    z_best = s_best = float("inf")
    z_results: list = []
    s_results: list = []
    for _ in range(repeat):  # the two take turns so that load from elsewhere does not fall on one alone
        seconds, z_results = _time_passes(zakrila, notes)
        z_best = min(z_best, seconds)
        seconds, s_results = _time_passes(stock, notes)
        s_best = min(s_best, seconds)
    z_other: Counter = Counter()
    s_other: Counter = Counter()
    z_spans = [_keep(r, None, z_other) for r in z_results]
    s_spans = [_keep(r, STOCK_TO_OURS, s_other) for r in s_results]
    errors = Errors()
    z_counts = score(notes, z_spans, errors)
    s_counts = score(notes, s_spans)
    for entity in sorted(set(z_counts) | set(s_counts)):
        report.rows.append(Row(language, "zakrila", entity, z_counts.get(entity, Counts())))
        report.rows.append(Row(language, "stock", entity, s_counts.get(entity, Counts())))
    report.errors[language] = errors
    report.other[(language, "zakrila")] = z_other
    report.other[(language, "stock")] = s_other

    n = len(notes)
    report.throughput[(language, "zakrila, 1 core")] = n / z_best
    report.throughput[(language, "stock Presidio, 1 core")] = n / s_best
    if workers > 1:
        seconds, par_spans = run_parallel(notes, language, workers)
        report.throughput[(language, f"zakrila, {workers} workers")] = n / seconds
        if par_spans != z_spans:
            differ = sum(a != b for a, b in zip(par_spans, z_spans, strict=True))
            print(f"WARNING: {language}: {differ} notes analysed differently by the worker processes")
    batch_path = f"zakrila, {len(batch or ()):,}-note batch, {workers} cores"
    if batch:
        seconds, found_1, _ = run_batch(batch, language, 1)
        report.throughput[(language, f"zakrila, {len(batch):,}-note batch, 1 core")] = len(batch) / seconds
        seconds, found_n, stats = run_batch(batch, language, workers)
        report.throughput[(language, batch_path)] = len(batch) / seconds
        report.batch_split[language] = stats
        if found_n != found_1:
            print(f"WARNING: {language}: the batch on {workers} cores found {found_n} spans, on 1 core {found_1}")

    for entity, goal in RECALL_TARGETS.items():
        c = z_counts.get(entity)
        if c is not None and c.gold:
            report.targets.append(Target(language, f"recall {entity}", c.recall, goal))
    report.targets.append(Target(language, "precision, all entities", z_counts["ALL"].precision, PRECISION_TARGET))
    if batch:
        rate = report.throughput[(language, batch_path)]
        report.targets.append(
            Target(language, "throughput × stock, large batch on all cores", rate / (n / s_best), SPEEDUP_TARGET)
        )
    report.targets.append(
        Target(language, "throughput × stock Presidio (1 core each)", s_best / z_best, SPEEDUP_TARGET)
    )


def main(argv: Sequence[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--notes", type=int, default=1000, help="notes per language (default 1000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: all cores)")
    parser.add_argument("--repeat", type=int, default=1, help="timed passes per detector; best is kept")
    parser.add_argument(
        "--batch",
        type=int,
        default=20000,
        help="notes per language of the large-batch runs, start-up timed (0: skip; default 20000)",
    )
    parser.add_argument("--languages", nargs="+", default=list(LANGUAGES), choices=LANGUAGES)
    parser.add_argument("--top", type=int, default=6, help="error groups shown per kind")
    args = parser.parse_args(argv)

    report = Report()
    corpora = {lang: generate_corpus(args.notes, lang, args.seed) for lang in args.languages}
    print(
        f"PII detection in synthetic case notes: {args.notes:,} notes per language, seed {args.seed}, "
        f"{sum(len(n.spans) for ns in corpora.values() for n in ns):,} gold spans"
    )
    print(MATCHING_RULE)
    print("zakrila = anonymise.pii.engine.analyze with the note's record recognizer; stock = Presidio "
          "AnalyzerEngine, blank spaCy, its generic recognizers registered for the language.\n")  # fmt: skip
    workers = max(1, args.workers)
    for lang, notes in corpora.items():
        batch = generate_corpus(args.batch, lang, args.seed + 1) if args.batch > 0 and workers > 1 else None
        evaluate(lang, notes, workers, max(1, args.repeat), report, batch)

    print_table(report.rows)
    for (lang, system), other in report.other.items():
        if other:
            print(f"not scored ({lang}, {system}): " + ", ".join(f"{k} {v}" for k, v in other.most_common()))
    print()
    print(f"{'lang':<4} {'path':<46} {'notes/s':>9} {'× stock (1 core)':>17}")
    for (lang, path), rate in report.throughput.items():
        ratio = rate / report.throughput[(lang, "stock Presidio, 1 core")]
        print(f"{lang:<4} {path:<46} {rate:>9.1f} {ratio:>16.2f}×")
    print(
        "1 core: one process, analyze() per note (stock Presidio as users run it; zakrila builds the note's\n"
        "record recognizer each time). N workers: the same notes over N warm processes. Batch: the pipeline's\n"
        "scan_notes in a fresh process on 1 and on N cores, building analyzers and starting helpers timed."
    )
    for lang, split in report.batch_split.items():
        print(f"{lang}: batch on all cores, chunks of ~100 notes read by the calling process {split.get('here', 0)}, "
              f"by helpers {split.get('helpers', 0)}")  # fmt: skip
    print()
    print("Targets (zakrila):")
    for t in report.targets:
        print(f"  {'PASS' if t.passed else 'MISS'}  {t.language}  {t.what:<46} {t.value:8.3f}  (goal ≥ {t.goal})")
    print()
    for lang, errors in report.errors.items():
        print_errors(lang, errors, args.top)
    return report


if __name__ == "__main__":
    main()
