"""Reading log files for a sync: in this process, or on every core when there is enough to read.

Results stream back, in the files' order, as each file (or run of neighbouring files) is done,
so the sync stores them while the rest is read, and gives every line the id a read in one
process would. Each file's lines are reduced to the strongest copy of each response
(``counting.strongest_copies``) before they travel.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from promptpulse.counting import strongest_copies
from promptpulse.sources import FileRead, read_file

PARALLEL_BYTES = 16 << 20  # below this, one process reads faster than two start
ProgressCallback = Callable[[int, int], None]


def read_all(
    items: list[tuple[str, int, int]], progress: ProgressCallback | None
) -> Iterator[tuple[int, FileRead]]:
    """Read files (path, offset, bytes to read), yielding (index, result) as each is done; on
    every core when there is enough to read."""
    sizes = [size for _path, _start, size in items]
    starts = [(path, start) for path, start, _size in items]
    total = sum(sizes)
    workers = min(os.cpu_count() or 1, 4)
    if total < PARALLEL_BYTES or workers < 2 or len(items) < 2:
        done = 0
        for index, ((path, start), size) in enumerate(zip(starts, sizes, strict=True)):
            yield index, _read_one(path, start)
            done += size
            if progress:
                progress(done, total)
        return
    yield from _read_parallel(starts, sizes, total, workers, progress)


def _read_parallel(
    items: list[tuple[str, int]],
    sizes: list[int],
    total: int,
    workers: int,
    progress: ProgressCallback | None,
) -> Iterator[tuple[int, FileRead]]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    runs = contiguous_runs(sizes, workers * 8)
    ctx = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    done = 0
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        # The pool takes runs first in, first out, so they finish about in order; a run that
        # finishes early waits for the ones before it.
        futures = [pool.submit(_read_batch, items[start:stop]) for start, stop in runs]
        for (start, stop), fut in zip(runs, futures, strict=True):
            yield from enumerate(fut.result(), start)
            done += sum(sizes[start:stop])
            if progress:
                progress(done, total)


def contiguous_runs(sizes: list[int], count: int) -> list[tuple[int, int]]:
    """Split the files into about ``count`` runs of neighbouring files, (start, stop) indices,
    of about equal bytes each: small enough that results stream back while the rest is read,
    and in order, so that a parallel read stores its lines in the order a read in one process
    does (line ids, and with them the order of lines with the same time, do not depend on
    which process finished first)."""
    target = max(sum(sizes) // max(count, 1), 1)
    runs: list[tuple[int, int]] = []
    start, load = 0, 0
    for i, size in enumerate(sizes):
        load += size
        if load >= target:
            runs.append((start, i + 1))
            start, load = i + 1, 0
    if start < len(sizes):
        runs.append((start, len(sizes)))
    return runs


def _read_one(path: str, start: int) -> FileRead:
    read = read_file(path, start)
    read.lines = strongest_copies(read.lines)
    return read


def _read_batch(items: list[tuple[str, int]]) -> list[FileRead]:
    """Read in a worker process; lines travel back as plain tuples, which pickle fast."""
    reads = [_read_one(path, start) for path, start in items]
    for read in reads:
        read.lines = [tuple(line) for line in read.lines]  # type: ignore[misc]
    return reads
