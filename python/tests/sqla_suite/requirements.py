"""The suite's requirements for sqlite+sqlpool: SQLAlchemy's own SQLite
requirements (test/requirements.py of the installed version's sdist, copied
next to the suite as sqla_requirements.py by scripts/test_python_sqla.sh),
with only the differences sqlpool has, each with its reason."""

from sqla_requirements import DefaultRequirements
from sqlalchemy.testing import exclusions


class Requirements(DefaultRequirements):
    # SQLAlchemy lists the SQLite drivers that give cursor.lastrowid by name;
    # sqlpool.dbapi2 gives it as sqlite3 does (sqlite3_last_insert_rowid).

    @property
    def dbapi_lastrowid(self):
        return exclusions.open()

    @property
    def emulated_lastrowid(self):
        return exclusions.open()

    @property
    def emulated_lastrowid_even_with_sequences(self):
        return exclusions.open()
