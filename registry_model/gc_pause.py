"""Building a large listing with Python's cyclic garbage collector paused.

A legacy image listing of thousands of images allocates thousands of container objects
the collector never untracks (LegacyImages, which hold parent chains, and the chain
links), so CPython runs a young-generation collection every 700 of them, a middle one
every ten of those and a full one every hundred, each walking what the process holds
(the caller's previous listing too). Paused while a listing is read and built, the
collector runs one young collection when it resumes instead of about nine, and the
older generations in step: on the benchmark's largest listing (2,001 images, SQLite)
the time spent collecting fell from 3.2-3.6 ms to 1.6-1.7 ms a round and the call from
about 2.0x to 1.6x its raw statements.

Nothing a listing builds is a cycle, so no garbage waits longer for the collector; the
pause only puts its walk off until the listing is built.
"""
import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the cyclic collector off; turn it back on after, if it was on.

    A collector found off (the process turned it off, or another thread's pause is under
    way) is left alone, so nested and overlapping pauses end with it as it was before the
    first; only a process that turns the collector off in another thread during the
    pause would see it turned back on.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
