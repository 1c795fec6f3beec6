"""The registry's clock: every decision about time (tag lifetimes, link expiry) reads it here.

Call it through the module (``clock.now_ts()``), so a test that patches
``registry_model.clock.now_ts`` moves time for every wing at once.
"""
import time


def now_ts() -> int:
    """The current time as integer Unix seconds, the unit of pre-OCI tag lifetimes and links."""
    return int(time.time())


def now_ms() -> int:
    """The current time as integer Unix milliseconds, the unit of OCI tag lifetimes."""
    return int(time.time() * 1000)
