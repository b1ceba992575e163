"""Support shared by the test suite and the benchmarks: throwaway databases, private brokers, free ports.

Installed with the project (editable in `.venv`), so `tests/` and `bench/` import it by name instead of inserting
paths or importing each other's modules.
"""
