"""Benchmarks for openphm: ``python -m bench`` (or ``make bench``).

Every benchmark does one warm-up run, then times ``--repeats`` runs with
``time.perf_counter`` and reports the median. The machines are noisy, so the
ratios measured within one run (Spark against DuckDB on the same transform)
matter more than the absolute seconds. Benchmarks are never timed tests: nothing
here fails because something was slow.
"""

import os

# Benchmark workspaces come from `openphm init`'s template, whose [audit] key_env names this
# variable; every benchmark (and the commands it starts) gets a throwaway key unless one is set.
os.environ.setdefault("OPENPHM_AUDIT_KEY", "bench-audit-key-not-for-real-data-0123456789")
