"""PEP 249's compliance suite (dbapi20.py from the dbapi-compliance package)
against sqlpool.dbapi2.

Expected failures, each for a stated reason: nextset and setoutputsize
(SQLite has no multiple result sets nor output sizes: the suite requires a
driver to override them), and test_non_idempotent_close (the suite wants a
second close() to raise; sqlpool.dbapi2 keeps sqlite3's idempotent close,
which issue 12 requires and the suite marks as a matter of taste)."""

import os
import tempfile
import unittest

import pytest

dbapi20 = pytest.importorskip("dbapi20")

from sqlpool import dbapi2  # noqa: E402


class TestDBAPI20(dbapi20.DatabaseAPI20Test):
    driver = dbapi2
    connect_args = ()
    lower_func = None  # no stored procedures in SQLite

    def setUp(self):
        self._dir = tempfile.TemporaryDirectory()
        self.connect_args = (os.path.join(self._dir.name, "dbapi20.db"),)
        self.connect_kw_args = {"create": True}

    def tearDown(self):
        super().tearDown()
        self._dir.cleanup()

    @unittest.expectedFailure
    def test_nextset(self):
        super().test_nextset()

    @unittest.expectedFailure
    def test_setoutputsize(self):
        super().test_setoutputsize()

    @unittest.expectedFailure
    def test_non_idempotent_close(self):
        super().test_non_idempotent_close()
