"""SQLAlchemy's dialect compliance suite (sqlalchemy.testing.suite) against
sqlite+sqlpool, set up the way third-party dialects run it (SQLAlchemy's
README.dialects.rst): this file, copied as conftest.py next to the suite,
loads the sqla_testing pytest plugin; setup.cfg names the database URL and
the requirements class.

scripts/test_python_sqla.sh runs it from a copy of this directory, with
SQLAlchemy's own test/requirements.py (from the sdist of the installed
version) beside it as sqla_requirements.py: the requirements class starts
from SQLAlchemy's SQLite requirements."""

import os
import sys

# Only when run as the suite (scripts/test_python_sqla.sh sets this).
if os.environ.get("SQLPOOL_SQLA_SUITE") == "1":
    import pytest
    from sqlalchemy.dialects import registry

    HERE = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, HERE)

    registry.register("sqlite.sqlpool", "sqlpool.sqlalchemy.dialect", "SQLPoolDialect")

    # A third-party SQLite dialect must load SQLAlchemy's SQLite provisioning
    # itself (file databases per follower, the test_schema attachment).
    import sqlalchemy.dialects.sqlite.provision  # noqa: F401

    pytest.register_assert_rewrite("sqlalchemy.testing.assertions")

    from sqlalchemy.testing.plugin.pytestplugin import *  # noqa: F401,F403
