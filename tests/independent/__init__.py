"""An independent verifier and producer of anonballot v1 round records.

Written only from the protocol texts (/work/shared/design/protocol.md and the project's
refinements R1..R17), without importing or reading the ``anonballot`` package, so that the
acceptance tests in ``tests/test_independent.py`` cross-check the project against the text
in both directions.
"""
