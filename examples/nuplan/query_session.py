"""nuPlan's query helpers (nuplan/database/nuplan_db/query_session.py): a new
sqlite3 connection per query. The reference that sqlpool's drop-in
execute_one / execute_many replace; the Python tests and benchmarks compare
against it."""

import sqlite3


def execute_one(query_text, query_parameters, db_file):
    """One row (or None); more than one is an error."""
    connection = sqlite3.connect(db_file)
    connection.row_factory = sqlite3.Row
    cursor = connection.cursor()
    try:
        cursor.execute(query_text, query_parameters)
        result = cursor.fetchone()
        if result is not None and cursor.fetchone() is not None:
            raise RuntimeError("execute_one query returned multiple rows.")
        return result
    finally:
        cursor.close()
        connection.close()


def execute_many(query_text, query_parameters, db_file):
    """Every row, as a generator."""
    connection = sqlite3.connect(db_file)
    connection.row_factory = sqlite3.Row
    cursor = connection.cursor()
    try:
        cursor.execute(query_text, query_parameters)
        for row in cursor:
            yield row
    finally:
        cursor.close()
        connection.close()
