"""Spreading note scanning over all cores: the calling process works too, helpers join when ready.

Scanning a note takes a few milliseconds; starting a helper process takes seconds (a fresh interpreter
imports Presidio, spaCy, natasha and pymorphy3 and builds its analyzers). So helpers are started once
per process and kept (``helpers``), each is first sent a warm-up task, and chunks of work go to a helper
only once it is warm. Meanwhile the calling process takes chunks from the front of the queue, the
helpers from the back, so a large batch uses every core and a small one never waits for a helper that
is still starting: if the caller empties the queue first, it returns without them.

Helpers are *spawned* (never forked): the caller may run Prefect's threads and Polars' thread pool,
whose locks a forked child would inherit in whatever state they were in.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any, TypeVar

T = TypeVar("T")

_LOCK = threading.Lock()
_POOL: ProcessPoolExecutor | None = None
_SIZE = 0
_WARM: dict[str, Future] = {}  # warm-up key → its future, per pool


def cores() -> int:
    """Return the number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _numeric_threads() -> None:
    """Run in each helper as it starts: one thread for numpy's BLAS (natasha), one process per core."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def helpers(size: int) -> ProcessPoolExecutor:
    """Return the process's pool of ``size`` helper processes, started on first use and kept."""
    global _POOL, _SIZE
    with _LOCK:
        if _POOL is None or size != _SIZE:
            if _POOL is not None:
                _POOL.shutdown(wait=False, cancel_futures=True)
            _POOL = ProcessPoolExecutor(max_workers=size, mp_context=get_context("spawn"), initializer=_numeric_threads)
            _SIZE = size
            _WARM.clear()
        return _POOL


def shutdown() -> None:
    """Stop the helper processes (at exit; a later call starts new ones)."""
    global _POOL
    with _LOCK:
        if _POOL is not None:
            _POOL.shutdown(wait=False, cancel_futures=True)
        _POOL = None
        _WARM.clear()


atexit.register(shutdown)


def _warm(pool: ProcessPoolExecutor, size: int, key: str, warm: Callable[..., Any], args: tuple) -> list[Future]:
    """Return one warm-up future per helper for ``key`` (sent once per pool)."""
    with _LOCK:
        futures = [_WARM[f"{key}#{i}"] for i in range(size) if f"{key}#{i}" in _WARM]
        if len(futures) < size:
            for i in range(len(futures), size):
                _WARM[f"{key}#{i}"] = pool.submit(warm, *args)
            futures = [_WARM[f"{key}#{i}"] for i in range(size)]
        return futures


def spread(
    task: Callable[..., T],
    chunks: Sequence[tuple],
    workers: int,
    warm: tuple[str, Callable[..., Any], tuple] | None = None,
    stats: dict[str, int] | None = None,
) -> list[T]:
    """Return ``[task(*chunk) for chunk in chunks]``, computed by this process and ``workers - 1`` helpers.

    ``warm`` = (key, function, args) readies a helper (builds the language's analyzer, say); a helper
    receives chunks only once its warm-up has finished. Results are in the order of ``chunks``. If a
    helper dies, its chunks are computed here. ``stats``, if given, receives how many chunks this
    process (``"here"``) and the helpers (``"helpers"``) computed.
    """
    stats = stats if stats is not None else {}
    if workers <= 1 or len(chunks) < 2:
        stats.update(here=len(chunks), helpers=0)
        return [task(*chunk) for chunk in chunks]
    size = workers - 1
    pool = helpers(size)
    queue = deque(range(len(chunks)))
    results: dict[int, T] = {}
    sent: dict[int, Future] = {}
    lock = threading.Lock()

    def send_next(_ready: Future | None = None) -> None:
        with lock:
            if not queue:
                return
            i = queue.pop()  # helpers take from the back
            try:
                future = pool.submit(task, *chunks[i])
            except (BrokenProcessPool, RuntimeError):  # pool broken or shut down: leave it to this process
                queue.append(i)
                return
            sent[i] = future
        future.add_done_callback(send_next)

    warmups = _warm(pool, size, *warm) if warm else [None] * size
    for ready in warmups:
        if ready is None:
            send_next()
        else:
            ready.add_done_callback(send_next)
    while True:
        with lock:
            if not queue:
                break
            i = queue.popleft()  # this process takes from the front
        results[i] = task(*chunks[i])
    with lock:
        in_flight = dict(sent)
    helped = 0
    for i, future in in_flight.items():
        try:
            results[i] = future.result()
            helped += 1
        except BrokenProcessPool:
            results[i] = task(*chunks[i])
    stats.update(here=len(chunks) - helped, helpers=helped)
    return [results[i] for i in range(len(chunks))]


def wait_until_warm(key: str) -> None:
    """Block until every helper's warm-up for ``key`` has finished (for tests and benchmarks)."""
    with _LOCK:
        futures = [f for k, f in _WARM.items() if k.startswith(f"{key}#")]
    for future in futures:
        future.result()
