"""The suite's requirements for sqlite+sqlpool: SQLAlchemy's own SQLite
requirements (test/requirements.py of the installed version's sdist, copied
here as sqla_requirements.py by scripts/test_python_sqla.sh), with only the
differences sqlpool has, each with its reason."""

from sqla_requirements import DefaultRequirements


class Requirements(DefaultRequirements):
    pass
