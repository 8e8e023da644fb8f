"""Benchmarks: scripts that time pvenet's parts and print tables (not tests; nothing asserts).

Run one as a module, e.g. ``.venv/bin/python -m bench.core``; each has a ``main()``.
"""
