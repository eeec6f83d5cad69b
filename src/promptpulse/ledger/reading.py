"""Reading log files for a sync: in this process, or on every core when there is enough to read.

Results stream back as each file (or batch of files) is done, so the sync stores them while the
rest is read. Each file's lines are reduced to the strongest copy of each response
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
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # Balanced batches, biggest files first, each to the lightest batch; small enough that
    # results stream back while the rest is read.
    batches: list[list[int]] = [[] for _ in range(workers * 8)]
    loads = [0] * len(batches)
    for i in sorted(range(len(items)), key=lambda i: -sizes[i]):
        j = loads.index(min(loads))
        batches[j].append(i)
        loads[j] += sizes[i]
    ctx = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    done = 0
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = {
            pool.submit(_read_batch, [items[i] for i in batch]): (batch, load)
            for batch, load in zip(batches, loads, strict=True)
            if batch
        }
        for fut in as_completed(futures):
            batch, load = futures[fut]
            for i, read in zip(batch, fut.result(), strict=True):
                yield i, read
            done += load
            if progress:
                progress(done, total)


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
