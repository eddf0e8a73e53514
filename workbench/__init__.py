"""Dissemination Workbench."""

import os as _os

__version__ = "0.1.0"

# Arrow's allocator, chosen before pyarrow is first imported (here, in the CLI, and in the kernels it starts, which
# inherit the environment). Measured at 1M posts on 2 cores (benchmarks/run.py workers, quiet machine, 2 runs each):
# with jemalloc ingest took 3.4-3.6 s (mimalloc, Arrow's default: 4.1-4.3 s; about 1 s less system time, from
# fewer pages handed back and faulted in again) and feature coding 2.4-2.8 s (3.0 s), the models the same, at a
# peak of 1.27-1.49 GB for ingest (1.17 GB) and 1.0 GB for features (1.15 GB). jemalloc hands freed pages back
# after a delay, so its peak varied with the run's speed; purging dirty pages after 250 ms (muzzy at once) held
# ingest's peak at 1.18-1.26 GB over 6 runs at the same speed (3.4-3.9 s). A user's own settings are kept, and a
# pyarrow imported before workbench keeps the allocator it started with.
# Only on Linux, where pyarrow's wheels are built with jemalloc (elsewhere Arrow would warn on every import that
# the backend is unsupported, and keep its default).
if __import__("sys").platform.startswith("linux"):
    _os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")
    _os.environ.setdefault("JE_ARROW_MALLOC_CONF", "dirty_decay_ms:250,muzzy_decay_ms:0")
del _os
