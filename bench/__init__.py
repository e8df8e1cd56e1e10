"""Benchmarks for openphm: ``python -m bench`` (or ``make bench``).

Every benchmark does one warm-up run, then times ``--repeats`` runs with
``time.perf_counter`` and reports the median. The machines are noisy, so the
ratios measured within one run (Spark against DuckDB on the same transform)
matter more than the absolute seconds. Benchmarks are never timed tests: nothing
here fails because something was slow.
"""
