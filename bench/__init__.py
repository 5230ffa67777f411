"""Benchmarks of the hub: each module runs with ``python -m bench.<name>`` and writes
``bench/results/<name>.json`` next to a printed table. See ``bench/README.md``."""
