"""Fixtures of the ingest tests; the helpers they use live in ingest_helpers.py.

Test modules import helpers from `ingest_helpers`, never from `conftest`: with several
conftest.py files in one run, `import conftest` names whichever was imported last.
"""

from ingest_helpers import dsn, inventory_dsn, publisher, start_ingest  # noqa: F401 - pytest fixtures
