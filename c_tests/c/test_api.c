/*
 * test_api.c: the core C API end to end, against docs in API.md:
 * result codes and names, version, options, open errors, the query cycle
 * (exec, prepare, bind, step, column_*, reset, finalize), the per-connection
 * statement cache, stats, checkout timeout and waits, checkin cleanup,
 * invalidate, dispose, close, and the thread-local last error.
 */
#define _POSIX_C_SOURCE 200809L
#define CHECK_TEST_NAME "test_api"
#include "check.h"

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ---------------------------------------------------------------- helpers */

static void write_file(const char *path, const char *text, int repeat)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    for (int i = 0; i < repeat; i++)
        CHECK(fputs(text, f) >= 0);
    CHECK(fclose(f) == 0);
}

static int contains(const char *haystack, const char *needle)
{
    return haystack != NULL && strstr(haystack, needle) != NULL;
}

static sqlpool_stats stats_of(sqlpool_pool *pool)
{
    sqlpool_stats st;
    memset(&st, 0xA5, sizeof st);
    CHECK_OK(sqlpool_get_stats(pool, &st, sizeof st));
    return st;
}

/* The open-connection bookkeeping every stats snapshot must satisfy. */
static void check_stats_consistent(const sqlpool_stats *st)
{
    uint64_t open_now = (uint64_t)st->idle + st->checked_out;
    CHECK(st->connections_created >= st->connections_closed);
    CHECK(open_now == st->connections_created - st->connections_closed);
    CHECK((int64_t)st->overflow == (int64_t)open_now - (int64_t)st->pool_size);
}

/* Runs a query that yields exactly one integer row. */
static int64_t query_int64(sqlpool_conn *conn, const char *sql)
{
    sqlpool_stmt *stmt = NULL;
    CHECK_OK(sqlpool_prepare(conn, sql, &stmt));
    CHECK(stmt != NULL);
    CHECK_RC(sqlpool_step(stmt), SQLPOOL_ROW);
    CHECK(sqlpool_column_type(stmt, 0) == SQLPOOL_INTEGER);
    int64_t v = sqlpool_column_int64(stmt, 0);
    CHECK_RC(sqlpool_step(stmt), SQLPOOL_DONE);
    CHECK_OK(sqlpool_finalize(stmt));
    return v;
}

static void copy_errmsg(char *buf, size_t size)
{
    const char *msg = sqlpool_errmsg();
    CHECK(msg != NULL);
    snprintf(buf, size, "%s", msg);
}

/* ------------------------------------------------------------------ tests */

static void test_no_error_before_any_failure(void)
{
    const char *msg = sqlpool_errmsg();
    CHECK(msg != NULL);
    CHECK(msg[0] == '\0');
    CHECK(sqlpool_sqlite_errcode() == 0);
}

static void test_result_code_values(void)
{
    CHECK(SQLPOOL_OK == 0);
    CHECK(SQLPOOL_SQLITE == 1);
    CHECK(SQLPOOL_MISUSE == 2);
    CHECK(SQLPOOL_INVALID_ARGUMENT == 3);
    CHECK(SQLPOOL_TIMEOUT == 4);
    CHECK(SQLPOOL_CLOSED == 5);
    CHECK(SQLPOOL_CANTOPEN == 6);
    CHECK(SQLPOOL_INTERNAL == 7);
    CHECK(SQLPOOL_ROW == 100);
    CHECK(SQLPOOL_DONE == 101);

    CHECK(SQLPOOL_INTEGER == 1);
    CHECK(SQLPOOL_FLOAT == 2);
    CHECK(SQLPOOL_TEXT == 3);
    CHECK(SQLPOOL_BLOB == 4);
    CHECK(SQLPOOL_NULL == 5);
}

static void test_errstr(void)
{
    const int codes[] = {SQLPOOL_OK,      SQLPOOL_SQLITE,   SQLPOOL_MISUSE,   SQLPOOL_INVALID_ARGUMENT,
                         SQLPOOL_TIMEOUT, SQLPOOL_CLOSED,   SQLPOOL_CANTOPEN, SQLPOOL_INTERNAL,
                         SQLPOOL_ROW,     SQLPOOL_DONE};
    const size_t n = sizeof codes / sizeof codes[0];
    const char *names[sizeof codes / sizeof codes[0]];
    for (size_t i = 0; i < n; i++) {
        names[i] = sqlpool_errstr(codes[i]);
        CHECK(names[i] != NULL);
        CHECK(names[i][0] != '\0');
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(names[i], names[j]) != 0);
    }
    /* A value that is no code still gets a name, distinct from the codes'. */
    const char *unknown = sqlpool_errstr(42);
    CHECK(unknown != NULL);
    for (size_t i = 0; i < n; i++)
        CHECK(strcmp(unknown, names[i]) != 0);
    /* Static names: the same text on every call. */
    for (size_t i = 0; i < n; i++)
        CHECK(strcmp(sqlpool_errstr(codes[i]), names[i]) == 0);
}

static void test_version(void)
{
    char expected[64];
    snprintf(expected, sizeof expected, "%d.%d.%d", (int)SQLPOOL_VERSION_MAJOR, (int)SQLPOOL_VERSION_MINOR,
             (int)SQLPOOL_VERSION_PATCH);
    const char *v = sqlpool_version();
    CHECK(v != NULL);
    CHECK(strcmp(v, expected) == 0);
    CHECK(sqlpool_version_number() == SQLPOOL_VERSION_NUMBER);
    CHECK(SQLPOOL_VERSION_NUMBER ==
          SQLPOOL_VERSION_MAJOR * 1000000 + SQLPOOL_VERSION_MINOR * 1000 + SQLPOOL_VERSION_PATCH);
}

/* Other languages mirror sqlpool_stats field by field: its layout is API. */
static void test_stats_layout(void)
{
    CHECK(sizeof(sqlpool_stats) == 6 * 4 + 12 * 8);
    CHECK(offsetof(sqlpool_stats, pool_size) == 0);
    CHECK(offsetof(sqlpool_stats, max_overflow) == 4);
    CHECK(offsetof(sqlpool_stats, checked_out) == 8);
    CHECK(offsetof(sqlpool_stats, idle) == 12);
    CHECK(offsetof(sqlpool_stats, overflow) == 16);
    CHECK(offsetof(sqlpool_stats, waiting) == 20);
    CHECK(offsetof(sqlpool_stats, connections_created) == 24);
    CHECK(offsetof(sqlpool_stats, connections_closed) == 32);
    CHECK(offsetof(sqlpool_stats, checkouts) == 40);
    CHECK(offsetof(sqlpool_stats, waits) == 48);
    CHECK(offsetof(sqlpool_stats, timeouts) == 56);
    CHECK(offsetof(sqlpool_stats, wait_ns_total) == 64);
    CHECK(offsetof(sqlpool_stats, pre_ping_failures) == 72);
    CHECK(offsetof(sqlpool_stats, recycled) == 80);
    CHECK(offsetof(sqlpool_stats, invalidated) == 88);
    CHECK(offsetof(sqlpool_stats, statement_cache_hits) == 96);
    CHECK(offsetof(sqlpool_stats, statement_cache_misses) == 104);
    CHECK(offsetof(sqlpool_stats, resets_on_checkin) == 112);
}

static void test_options(void)
{
    char path[4096];
    path_in_dir(path, sizeof path, "options.db");

    /* Every setter accepts a valid value (the documented defaults among them). */
    sqlpool_options *opts = sqlpool_options_new();
    CHECK(opts != NULL);
    CHECK_OK(sqlpool_options_set_pool_size(opts, 5));
    CHECK_OK(sqlpool_options_set_max_overflow(opts, 10));
    CHECK_OK(sqlpool_options_set_max_overflow(opts, -1));
    CHECK_OK(sqlpool_options_set_max_overflow(opts, 0));
    CHECK_OK(sqlpool_options_set_timeout_ms(opts, 30000));
    CHECK_OK(sqlpool_options_set_pre_ping(opts, true));
    CHECK_OK(sqlpool_options_set_recycle_ms(opts, 3600000));
    CHECK_OK(sqlpool_options_set_recycle_ms(opts, -1));
    CHECK_OK(sqlpool_options_set_recycle_ms(opts, 0));
    CHECK_OK(sqlpool_options_set_lifo(opts, false));
    CHECK_OK(sqlpool_options_set_fair(opts, true));
    CHECK_RC(sqlpool_options_set_fair(NULL, true), SQLPOOL_MISUSE);
    CHECK_OK(sqlpool_options_set_fairness(opts, SQLPOOL_FAIRNESS_STRICT, 0));
    CHECK_OK(sqlpool_options_set_fairness(opts, SQLPOOL_FAIRNESS_BARGING, 0));
    CHECK_OK(sqlpool_options_set_fairness(opts, SQLPOOL_FAIRNESS_BOUNDED, 5000));
    CHECK_RC(sqlpool_options_set_fairness(NULL, SQLPOOL_FAIRNESS_BOUNDED, 0), SQLPOOL_MISUSE);
    CHECK_OK(sqlpool_options_set_read_only(opts, false));
    CHECK_OK(sqlpool_options_set_create(opts, true));
    CHECK_OK(sqlpool_options_set_init_sql(opts, "SELECT 1"));
    CHECK_OK(sqlpool_options_set_init_sql(opts, NULL));
    CHECK_OK(sqlpool_options_set_busy_timeout_ms(opts, 5000));
    CHECK_OK(sqlpool_options_set_statement_cache_capacity(opts, 32));
    CHECK_OK(sqlpool_options_set_read_snapshot(opts, false));
    sqlpool_options_free(opts);

    /* Invalid values are rejected with a message naming the option. */
    opts = sqlpool_options_new();
    CHECK(opts != NULL);
    CHECK_OK(sqlpool_options_set_create(opts, true));
    CHECK_OK(sqlpool_options_set_pool_size(opts, 2));
    CHECK_OK(sqlpool_options_set_max_overflow(opts, 1));

    CHECK_RC(sqlpool_options_set_pool_size(opts, 0), SQLPOOL_INVALID_ARGUMENT);
    CHECK(contains(sqlpool_errmsg(), "pool_size"));
    CHECK(sqlpool_sqlite_errcode() == 0);
    CHECK_RC(sqlpool_options_set_max_overflow(opts, -2), SQLPOOL_INVALID_ARGUMENT);
    CHECK(contains(sqlpool_errmsg(), "max_overflow"));
    CHECK_RC(sqlpool_options_set_max_overflow(opts, INT32_MIN), SQLPOOL_INVALID_ARGUMENT);
    CHECK(contains(sqlpool_errmsg(), "max_overflow"));
    CHECK_RC(sqlpool_options_set_recycle_ms(opts, -2), SQLPOOL_INVALID_ARGUMENT);
    CHECK(contains(sqlpool_errmsg(), "recycle_ms"));
    CHECK_RC(sqlpool_options_set_fairness(opts, 3, 0), SQLPOOL_INVALID_ARGUMENT);
    CHECK(contains(sqlpool_errmsg(), "fairness"));
    CHECK_RC(sqlpool_options_set_fairness(opts, SQLPOOL_FAIRNESS_BOUNDED, UINT64_MAX),
             SQLPOOL_INVALID_ARGUMENT);
    CHECK(contains(sqlpool_errmsg(), "fairness"));

    /* A rejected value leaves the options as they were, and the options are
     * copied at open: freeing them right after open is fine. */
    sqlpool_pool *pool = NULL;
    CHECK_OK(sqlpool_open(path, opts, &pool));
    CHECK(pool != NULL);
    sqlpool_options_free(opts);
    sqlpool_stats st = stats_of(pool);
    CHECK(st.pool_size == 2);
    CHECK(st.max_overflow == 1);
    sqlpool_conn *conn = checkout(pool);
    CHECK_OK(sqlpool_exec(conn, "CREATE TABLE IF NOT EXISTS o(x)"));
    CHECK(query_int64(conn, "SELECT 6 * 7") == 42);
    CHECK_OK(sqlpool_checkin(conn));
    CHECK_OK(sqlpool_close(pool));

    /* Defaults (the QueuePool's): pool_size 5, max_overflow 10, both with
     * NULL options and with untouched options. */
    pool = NULL;
    CHECK_OK(sqlpool_open(path, NULL, &pool));
    CHECK(pool != NULL);
    st = stats_of(pool);
    CHECK(st.pool_size == 5);
    CHECK(st.max_overflow == 10);
    CHECK_OK(sqlpool_close(pool));

    opts = sqlpool_options_new();
    CHECK(opts != NULL);
    pool = NULL;
    CHECK_OK(sqlpool_open(path, opts, &pool));
    sqlpool_options_free(opts);
    st = stats_of(pool);
    CHECK(st.pool_size == 5);
    CHECK(st.max_overflow == 10);
    CHECK_OK(sqlpool_close(pool));

    /* max_overflow -1 (no limit) is reported as -1. */
    pool = open_pool(path, 1, -1, 0);
    st = stats_of(pool);
    CHECK(st.pool_size == 1);
    CHECK(st.max_overflow == -1);
    CHECK_OK(sqlpool_close(pool));

    /* init_sql runs on each new connection; set_init_sql(NULL) clears it.
     * A TEMP table exists only on the connection that created it. */
    opts = sqlpool_options_new();
    CHECK(opts != NULL);
    CHECK_OK(sqlpool_options_set_init_sql(opts, "CREATE TEMP TABLE init_marker(x)"));
    CHECK_OK(sqlpool_options_set_pool_size(opts, 2));
    pool = NULL;
    CHECK_OK(sqlpool_open(path, opts, &pool));
    sqlpool_conn *a = checkout(pool);
    sqlpool_conn *b = checkout(pool); /* a second, newly opened connection */
    CHECK(query_int64(a, "SELECT count(*) FROM temp.init_marker") == 0);
    CHECK(query_int64(b, "SELECT count(*) FROM temp.init_marker") == 0);
    CHECK_OK(sqlpool_checkin(a));
    CHECK_OK(sqlpool_checkin(b));
    CHECK_OK(sqlpool_close(pool));

    CHECK_OK(sqlpool_options_set_init_sql(opts, NULL));
    pool = NULL;
    CHECK_OK(sqlpool_open(path, opts, &pool));
    sqlpool_options_free(opts);
    conn = checkout(pool);
    CHECK_RC(sqlpool_exec(conn, "SELECT count(*) FROM temp.init_marker"), SQLPOOL_SQLITE);
    CHECK(contains(sqlpool_errmsg(), "init_marker"));
    CHECK_OK(sqlpool_checkin(conn));
    CHECK_OK(sqlpool_close(pool));
}

static void test_open_errors(void)
{
    char path[4096];

    /* A missing file, with create off (the default): CANTOPEN naming the path. */
    path_in_dir(path, sizeof path, "missing.db");
    sqlpool_pool *pool = POOL_SENTINEL;
    CHECK_RC(sqlpool_open(path, NULL, &pool), SQLPOOL_CANTOPEN);
    CHECK(pool == POOL_SENTINEL);
    CHECK(contains(sqlpool_errmsg(), path));
    CHECK(sqlpool_sqlite_errcode() == 0 || (sqlpool_sqlite_errcode() & 0xff) == 14 /* SQLITE_CANTOPEN */);

    sqlpool_options *opts = sqlpool_options_new();
    CHECK(opts != NULL);
    CHECK_RC(sqlpool_open(path, opts, &pool), SQLPOOL_CANTOPEN);
    CHECK(pool == POOL_SENTINEL);
    CHECK(contains(sqlpool_errmsg(), path));
    struct stat st;
    CHECK(stat(path, &st) != 0); /* and it was not created */

    /* create on, but the directory does not exist: CANTOPEN. */
    CHECK_OK(sqlpool_options_set_create(opts, true));
    path_in_dir(path, sizeof path, "no-such-dir/x.db");
    CHECK_RC(sqlpool_open(path, opts, &pool), SQLPOOL_CANTOPEN);
    CHECK(pool == POOL_SENTINEL);
    CHECK(contains(sqlpool_errmsg(), path));

    /* A directory: CANTOPEN. */
    path_in_dir(path, sizeof path, "a-directory");
    CHECK(mkdir(path, 0700) == 0);
    CHECK_RC(sqlpool_open(path, opts, &pool), SQLPOOL_CANTOPEN);
    CHECK(pool == POOL_SENTINEL);
    CHECK(contains(sqlpool_errmsg(), path));

    /* An unreadable file: CANTOPEN (root reads anything, so only as a user). */
    if (geteuid() != 0) {
        path_in_dir(path, sizeof path, "unreadable.db");
        write_file(path, "", 1);
        CHECK(chmod(path, 0) == 0);
        CHECK_RC(sqlpool_open(path, opts, &pool), SQLPOOL_CANTOPEN);
        CHECK(pool == POOL_SENTINEL);
        CHECK(contains(sqlpool_errmsg(), path));
    }

    /* A file that is not a database fails at open (not at the first
     * checkout) with SQLITE and SQLITE_NOTADB (26). */
    path_in_dir(path, sizeof path, "not-a-database.txt");
    write_file(path, "This is a plain text file, not an SQLite database.\n", 200);
    CHECK_RC(sqlpool_open(path, NULL, &pool), SQLPOOL_SQLITE);
    CHECK(sqlpool_sqlite_errcode() == 26);
    CHECK(pool == POOL_SENTINEL);
    CHECK(contains(sqlpool_errmsg(), path));
    CHECK_RC(sqlpool_open(path, opts, &pool), SQLPOOL_SQLITE);
    CHECK(sqlpool_sqlite_errcode() == 26);
    CHECK(pool == POOL_SENTINEL);

    /* ":memory:" would give each connection its own database: refused, and
     * the message points to a shared-cache URI. */
    CHECK_RC(sqlpool_open(":memory:", opts, &pool), SQLPOOL_INVALID_ARGUMENT);
    CHECK(pool == POOL_SENTINEL);
    CHECK(contains(sqlpool_errmsg(), "shared"));
    CHECK(sqlpool_sqlite_errcode() == 0);
    CHECK_RC(sqlpool_open(":memory:", NULL, &pool), SQLPOOL_INVALID_ARGUMENT);
    CHECK(pool == POOL_SENTINEL);
    sqlpool_options_free(opts);

    /* The path may be an SQLite URI: a read-only URI reads but cannot write. */
    char db[4096], uri[4200];
    path_in_dir(db, sizeof db, "uri.db");
    pool = open_pool(db, 1, 0, 0);
    sqlpool_conn *conn = checkout(pool);
    CHECK_OK(sqlpool_exec(conn, "CREATE TABLE u(x); INSERT INTO u VALUES (5)"));
    CHECK_OK(sqlpool_checkin(conn));
    CHECK_OK(sqlpool_close(pool));
    snprintf(uri, sizeof uri, "file:%s?mode=ro", db);
    pool = NULL;
    CHECK_OK(sqlpool_open(uri, NULL, &pool));
    CHECK(pool != NULL);
    conn = checkout(pool);
    CHECK(query_int64(conn, "SELECT x FROM u") == 5);
    CHECK_RC(sqlpool_exec(conn, "INSERT INTO u VALUES (6)"), SQLPOOL_SQLITE);
    CHECK((sqlpool_sqlite_errcode() & 0xff) == 8 /* SQLITE_READONLY */);
    CHECK_OK(sqlpool_checkin(conn));
    CHECK_OK(sqlpool_close(pool));
}

static const unsigned char BLOB1[] = {0x00, 0x01, 0xfe, 0xff};
static const unsigned char BLOB2[] = {0x42};
/* Text with an embedded NUL and a two-byte UTF-8 character (U+00E9). */
static const char TEXT2[] = "a\0b\xc3\xa9-not-bound";
#define TEXT2_LEN 5

static void test_query_cycle(void)
{
    char path[4096];
    path_in_dir(path, sizeof path, "api.db");
    sqlpool_pool *pool = open_pool(path, 2, 1, 0);

    sqlpool_conn *conn = checkout(pool);
    sqlpool_stats st = stats_of(pool);
    CHECK(st.pool_size == 2);
    CHECK(st.max_overflow == 1);
    CHECK(st.checked_out == 1);
    CHECK(st.checkouts == 1);
    CHECK(st.waiting == 0);
    check_stats_consistent(&st);

    CHECK_OK(sqlpool_exec(conn, "CREATE TABLE t(id INTEGER PRIMARY KEY, i INTEGER, d REAL, s TEXT, b BLOB, n)"));

    /* Insert two rows through one statement: bind, step, reset, bind again. */
    sqlpool_stmt *ins = NULL;
    CHECK_OK(sqlpool_prepare(conn, "INSERT INTO t(i, d, s, b, n) VALUES (?1, ?2, ?3, ?4, ?5)", &ins));
    CHECK(ins != NULL);
    CHECK(sqlpool_column_count(ins) == 0);
    CHECK_OK(sqlpool_bind_int64(ins, 1, INT64_C(-1234567890123)));
    CHECK_OK(sqlpool_bind_double(ins, 2, 3.25));
    CHECK_OK(sqlpool_bind_text(ins, 3, "hello", -1));
    CHECK_OK(sqlpool_bind_blob(ins, 4, BLOB1, (int64_t)sizeof BLOB1));
    CHECK_OK(sqlpool_bind_null(ins, 5));
    CHECK_RC(sqlpool_step(ins), SQLPOOL_DONE);
    CHECK_OK(sqlpool_reset(ins));
    CHECK_OK(sqlpool_bind_int64(ins, 1, INT64_MAX));
    CHECK_OK(sqlpool_bind_double(ins, 2, -0.5));
    CHECK_OK(sqlpool_bind_text(ins, 3, TEXT2, TEXT2_LEN)); /* explicit length: only 5 bytes */
    CHECK_OK(sqlpool_bind_blob(ins, 4, BLOB2, (int64_t)sizeof BLOB2));
    CHECK_OK(sqlpool_bind_null(ins, 5));
    CHECK_RC(sqlpool_step(ins), SQLPOOL_DONE);
    CHECK_OK(sqlpool_finalize(ins));

    /* Read them back. */
    sqlpool_stmt *sel = NULL;
    CHECK_OK(sqlpool_prepare(conn, "SELECT i, d, s, b, n FROM t ORDER BY id", &sel));
    CHECK(sel != NULL);
    CHECK(sqlpool_column_count(sel) == 5);
    const char *names[] = {"i", "d", "s", "b", "n"};
    for (int c = 0; c < 5; c++) {
        const char *name = sqlpool_column_name(sel, c);
        CHECK(name != NULL);
        CHECK(strcmp(name, names[c]) == 0);
    }

    CHECK_RC(sqlpool_step(sel), SQLPOOL_ROW);
    CHECK(sqlpool_column_type(sel, 0) == SQLPOOL_INTEGER);
    CHECK(sqlpool_column_type(sel, 1) == SQLPOOL_FLOAT);
    CHECK(sqlpool_column_type(sel, 2) == SQLPOOL_TEXT);
    CHECK(sqlpool_column_type(sel, 3) == SQLPOOL_BLOB);
    CHECK(sqlpool_column_type(sel, 4) == SQLPOOL_NULL);
    CHECK(sqlpool_column_int64(sel, 0) == INT64_C(-1234567890123));
    CHECK(sqlpool_column_double(sel, 1) == 3.25);
    const char *text = sqlpool_column_text(sel, 2);
    CHECK(text != NULL);
    CHECK(strcmp(text, "hello") == 0);
    CHECK(sqlpool_column_bytes(sel, 2) == 5);
    const unsigned char *blob = sqlpool_column_blob(sel, 3);
    CHECK(blob != NULL);
    CHECK(sqlpool_column_bytes(sel, 3) == (int64_t)sizeof BLOB1);
    CHECK(memcmp(blob, BLOB1, sizeof BLOB1) == 0);
    CHECK(sqlpool_column_text(sel, 4) == NULL);
    CHECK(sqlpool_column_blob(sel, 4) == NULL);
    CHECK(sqlpool_column_bytes(sel, 4) == 0);
    CHECK(sqlpool_column_int64(sel, 4) == 0);
    CHECK(sqlpool_column_double(sel, 4) == 0.0);

    CHECK_RC(sqlpool_step(sel), SQLPOOL_ROW);
    CHECK(sqlpool_column_int64(sel, 0) == INT64_MAX);
    CHECK(sqlpool_column_double(sel, 1) == -0.5);
    CHECK(sqlpool_column_type(sel, 2) == SQLPOOL_TEXT);
    text = sqlpool_column_text(sel, 2);
    CHECK(text != NULL);
    CHECK(sqlpool_column_bytes(sel, 2) == TEXT2_LEN);
    CHECK(memcmp(text, TEXT2, TEXT2_LEN) == 0);
    CHECK(text[TEXT2_LEN] == '\0'); /* column_text is NUL-terminated */
    blob = sqlpool_column_blob(sel, 3);
    CHECK(blob != NULL);
    CHECK(sqlpool_column_bytes(sel, 3) == 1);
    CHECK(blob[0] == 0x42);
    CHECK(sqlpool_column_type(sel, 4) == SQLPOOL_NULL);

    CHECK_RC(sqlpool_step(sel), SQLPOOL_DONE);

    /* reset: the statement runs again from the first row. */
    CHECK_OK(sqlpool_reset(sel));
    CHECK_RC(sqlpool_step(sel), SQLPOOL_ROW);
    CHECK(sqlpool_column_int64(sel, 0) == INT64_C(-1234567890123));
    CHECK_OK(sqlpool_finalize(sel));

    /* exec runs several statements. */
    CHECK_OK(sqlpool_exec(conn, "INSERT INTO t(i) VALUES (10); INSERT INTO t(i) VALUES (11)"));
    CHECK(query_int64(conn, "SELECT count(*) FROM t") == 4);

    /* exec of a SELECT discards its rows and returns OK ... */
    CHECK_OK(sqlpool_exec(conn, "SELECT * FROM t"));
    /* ... after running it to completion: this one fails only at its last
     * row (abs of the smallest int64 overflows). */
    CHECK_RC(sqlpool_exec(conn, "SELECT CASE WHEN i = 11 THEN abs(-9223372036854775807 - 1) ELSE 1 END "
                                "FROM t ORDER BY id"),
             SQLPOOL_SQLITE);
    CHECK(contains(sqlpool_errmsg(), "overflow"));
    /* The connection is not left inside a statement: a write transaction works. */
    CHECK_OK(sqlpool_exec(conn, "BEGIN IMMEDIATE; DELETE FROM t WHERE i = 11; COMMIT"));
    CHECK(query_int64(conn, "SELECT count(*) FROM t") == 3);

    /* SQL errors carry SQLite's extended code and a message naming them. */
    CHECK_RC(sqlpool_exec(conn, "SELEC 1"), SQLPOOL_SQLITE);
    CHECK(sqlpool_sqlite_errcode() == 1 /* SQLITE_ERROR */);
    CHECK(contains(sqlpool_errmsg(), "syntax error"));
    CHECK(contains(sqlpool_errmsg(), "SELEC"));
    sqlpool_stmt *stmt = STMT_SENTINEL;
    CHECK_RC(sqlpool_prepare(conn, "SELECT * FROM no_such_table", &stmt), SQLPOOL_SQLITE);
    CHECK(stmt == STMT_SENTINEL);
    CHECK(sqlpool_sqlite_errcode() == 1);
    CHECK(contains(sqlpool_errmsg(), "no_such_table"));
    CHECK_RC(sqlpool_exec(conn, "INSERT INTO t(id) VALUES (1)"), SQLPOOL_SQLITE);
    CHECK(sqlpool_sqlite_errcode() == 1555 /* SQLITE_CONSTRAINT_PRIMARYKEY */);
    stmt = NULL;
    CHECK_OK(sqlpool_prepare(conn, "INSERT INTO t(id) VALUES (?1)", &stmt));
    CHECK_OK(sqlpool_bind_int64(stmt, 1, 1));
    CHECK_RC(sqlpool_step(stmt), SQLPOOL_SQLITE);
    CHECK(sqlpool_sqlite_errcode() == 1555);
    CHECK_OK(sqlpool_finalize(stmt));

    /* Bind index out of range: SQLITE with SQLITE_RANGE (25); the statement
     * stays usable. */
    stmt = NULL;
    CHECK_OK(sqlpool_prepare(conn, "SELECT ?1", &stmt));
    CHECK_RC(sqlpool_bind_int64(stmt, 2, 1), SQLPOOL_SQLITE);
    CHECK(sqlpool_sqlite_errcode() == 25);
    CHECK_RC(sqlpool_bind_int64(stmt, 0, 1), SQLPOOL_SQLITE);
    CHECK(sqlpool_sqlite_errcode() == 25);
    CHECK_RC(sqlpool_bind_double(stmt, 3, 1.0), SQLPOOL_SQLITE);
    CHECK(sqlpool_sqlite_errcode() == 25);
    CHECK_RC(sqlpool_bind_text(stmt, 4, "x", -1), SQLPOOL_SQLITE);
    CHECK(sqlpool_sqlite_errcode() == 25);
    CHECK_RC(sqlpool_bind_blob(stmt, 5, BLOB1, 1), SQLPOOL_SQLITE);
    CHECK(sqlpool_sqlite_errcode() == 25);
    CHECK_RC(sqlpool_bind_null(stmt, -1), SQLPOOL_SQLITE);
    CHECK(sqlpool_sqlite_errcode() == 25);
    CHECK_OK(sqlpool_bind_int64(stmt, 1, 77));
    CHECK_RC(sqlpool_step(stmt), SQLPOOL_ROW);
    CHECK(sqlpool_column_int64(stmt, 0) == 77);
    CHECK_OK(sqlpool_finalize(stmt));

    /* An empty BLOB (length 0; the header lets p be NULL then) is a BLOB,
     * not NULL. */
    stmt = NULL;
    CHECK_OK(sqlpool_prepare(conn, "SELECT ?1, ?2, typeof(?1), typeof(?2)", &stmt));
    CHECK_OK(sqlpool_bind_blob(stmt, 1, BLOB1, 0));
    CHECK_OK(sqlpool_bind_blob(stmt, 2, NULL, 0));
    CHECK_RC(sqlpool_step(stmt), SQLPOOL_ROW);
    CHECK(sqlpool_column_type(stmt, 0) == SQLPOOL_BLOB);
    CHECK(sqlpool_column_type(stmt, 1) == SQLPOOL_BLOB);
    CHECK(sqlpool_column_bytes(stmt, 0) == 0);
    CHECK(sqlpool_column_bytes(stmt, 1) == 0);
    CHECK(strcmp(sqlpool_column_text(stmt, 2), "blob") == 0);
    CHECK(strcmp(sqlpool_column_text(stmt, 3), "blob") == 0);
    CHECK_OK(sqlpool_finalize(stmt));

    CHECK_OK(sqlpool_checkin(conn));
    st = stats_of(pool);
    CHECK(st.checked_out == 0);
    CHECK(st.idle >= 1);
    CHECK(st.checkouts == 1);
    check_stats_consistent(&st);

    /* dispose closes the idle connections; new ones open on demand. */
    sqlpool_conn *a = checkout(pool);
    sqlpool_conn *b = checkout(pool);
    CHECK_OK(sqlpool_checkin(a));
    CHECK_OK(sqlpool_checkin(b));
    sqlpool_stats before = stats_of(pool);
    CHECK(before.idle == 2);
    CHECK_OK(sqlpool_dispose(pool));
    st = stats_of(pool);
    CHECK(st.idle == 0);
    CHECK(st.checked_out == 0);
    CHECK(st.connections_closed == before.connections_closed + 2);
    check_stats_consistent(&st);
    conn = checkout(pool);
    CHECK(query_int64(conn, "SELECT count(*) FROM t") == 3);
    CHECK_OK(sqlpool_checkin(conn));
    st = stats_of(pool);
    CHECK(st.connections_created == before.connections_created + 1);
    CHECK(st.checkouts == before.checkouts + 1);
    check_stats_consistent(&st);

    CHECK_OK(sqlpool_close(pool));
}

/* sqlpool_pool_query_call(): sqlpool_pool_query() with its arguments in a
 * struct filled once; only the parameters change between calls. */
static void test_pool_query_call(void)
{
    char path[4096];
    path_in_dir(path, sizeof path, "query_call.db");
    sqlpool_pool *pool = open_pool(path, 1, 0, 0);
    sqlpool_conn *conn = checkout(pool);
    CHECK_OK(sqlpool_exec(conn, "CREATE TABLE k(id INTEGER PRIMARY KEY, v INTEGER); "
                                "INSERT INTO k(v) VALUES (10), (20), (30)"));
    CHECK_OK(sqlpool_checkin(conn));

    unsigned char buf[256];
    unsigned char packed[9];
    const char *sql = "SELECT v FROM k WHERE id = ?";
    sqlpool_query_call call = {0};
    call.pool = pool;
    call.sql = sql;
    call.sql_len = -1;
    call.params = (const char *)packed;
    call.params_len = sizeof packed;
    call.buf = buf;
    call.buf_size = sizeof buf;
    for (int64_t id = 1; id <= 3; id++) {
        packed[0] = SQLPOOL_INTEGER;
        memcpy(packed + 1, &id, sizeof id);
        CHECK_RC(sqlpool_pool_query_call(&call), SQLPOOL_DONE);
        CHECK(call.out_rows == 1);
        /* One row: size, column count, type, then the INTEGER cell. */
        uint32_t ncols;
        int64_t v;
        memcpy(&ncols, buf + 4, sizeof ncols);
        memcpy(&v, buf + 9, sizeof v);
        CHECK(ncols == 1 && buf[8] == SQLPOOL_INTEGER && v == id * 10);
        CHECK(call.out_used == 17);
    }
    CHECK(stats_of(pool).checked_out == 0);
    CHECK_RC(sqlpool_pool_query_call(NULL), SQLPOOL_INVALID_ARGUMENT);
    CHECK(strstr(sqlpool_errmsg(), "args") != NULL);
    CHECK_OK(sqlpool_close(pool));
}

/* Stats are read after each checkin: API.md does not promise that the
 * cache counters of a checkout in progress are already counted. */
static void test_statement_cache(void)
{
    char path[4096];
    path_in_dir(path, sizeof path, "cache.db");
    sqlpool_pool *pool = open_pool(path, 1, 0, 0); /* one connection: the same one every checkout */
    const char *sql = "SELECT ?1 + 1";

    sqlpool_stats s0 = stats_of(pool);
    sqlpool_conn *conn = checkout(pool);
    sqlpool_stmt *stmt = NULL;
    CHECK_OK(sqlpool_prepare(conn, sql, &stmt));
    CHECK_OK(sqlpool_bind_int64(stmt, 1, 1));
    CHECK_RC(sqlpool_step(stmt), SQLPOOL_ROW);
    CHECK(sqlpool_column_int64(stmt, 0) == 2);
    CHECK_OK(sqlpool_finalize(stmt));
    CHECK_OK(sqlpool_checkin(conn));
    sqlpool_stats s1 = stats_of(pool);
    CHECK(s1.statement_cache_misses == s0.statement_cache_misses + 1); /* first time: compiled */
    CHECK(s1.statement_cache_hits == s0.statement_cache_hits);

    conn = checkout(pool);
    stmt = NULL;
    CHECK_OK(sqlpool_prepare(conn, sql, &stmt));
    /* The cached statement starts clean and works with new bindings. */
    CHECK_OK(sqlpool_bind_int64(stmt, 1, 41));
    CHECK_RC(sqlpool_step(stmt), SQLPOOL_ROW);
    CHECK(sqlpool_column_int64(stmt, 0) == 42);
    CHECK_RC(sqlpool_step(stmt), SQLPOOL_DONE);
    CHECK_OK(sqlpool_finalize(stmt));
    CHECK_OK(sqlpool_checkin(conn));
    sqlpool_stats s2 = stats_of(pool);
    CHECK(s2.statement_cache_hits == s1.statement_cache_hits + 1); /* a later checkout: reused */
    CHECK(s2.statement_cache_misses == s1.statement_cache_misses);
    CHECK(s2.connections_created == 1);

    /* Other SQL is a miss. */
    conn = checkout(pool);
    CHECK(query_int64(conn, "SELECT 2 + 2") == 4);
    CHECK_OK(sqlpool_checkin(conn));
    sqlpool_stats s3 = stats_of(pool);
    CHECK(s3.statement_cache_misses == s2.statement_cache_misses + 1);
    CHECK(s3.statement_cache_hits == s2.statement_cache_hits);
    CHECK_OK(sqlpool_close(pool));
}

static void test_checkout_timeout(void)
{
    char path[4096];
    path_in_dir(path, sizeof path, "api.db");
    sqlpool_pool *pool = open_pool(path, 1, 0, 50);

    sqlpool_conn *held = checkout(pool);
    sqlpool_conn *other = CONN_SENTINEL;
    double t0 = now_ms();
    CHECK_RC(sqlpool_checkout(pool, &other), SQLPOOL_TIMEOUT);
    double waited = now_ms() - t0;
    CHECK(other == CONN_SENTINEL);
    CHECK(waited >= 45.0);
    CHECK(waited < 10000.0);
    CHECK(contains(sqlpool_errmsg(), "50"));
    CHECK(sqlpool_sqlite_errcode() == 0);

    sqlpool_stats st = stats_of(pool);
    CHECK(st.timeouts == 1);
    CHECK(st.checkouts == 1); /* only successful checkouts count */
    CHECK(st.checked_out == 1);
    CHECK(st.waiting == 0);
    check_stats_consistent(&st);

    /* The holder is unaffected, and once it checks in a checkout succeeds. */
    CHECK(query_int64(held, "SELECT 1") == 1);
    CHECK_OK(sqlpool_checkin(held));
    other = checkout(pool);
    CHECK_OK(sqlpool_checkin(other));
    CHECK_OK(sqlpool_close(pool));
}

struct delayed_checkin {
    sqlpool_conn *conn;
    long delay_ms;
    int rc;
};

static void *checkin_later(void *arg)
{
    struct delayed_checkin *d = arg;
    sleep_ms(d->delay_ms);
    d->rc = sqlpool_checkin(d->conn);
    return NULL;
}

/* A checkout with none free waits, and gets the connection checked in. */
static void test_checkout_waits(void)
{
    char path[4096];
    path_in_dir(path, sizeof path, "api.db");
    sqlpool_pool *pool = open_pool(path, 1, 0, 20000);

    struct delayed_checkin d = {checkout(pool), 100, -1};
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, checkin_later, &d) == 0);
    double t0 = now_ms();
    sqlpool_conn *conn = checkout(pool);
    double waited = now_ms() - t0;
    CHECK(pthread_join(thread, NULL) == 0);
    CHECK_OK(d.rc);
    CHECK(waited >= 50.0);
    CHECK(waited < 15000.0);
    sqlpool_stats st = stats_of(pool);
    CHECK(st.waits >= 1);
    CHECK(st.wait_ns_total > 0);
    CHECK(st.checkouts == 2);
    CHECK(st.connections_created == 1);
    CHECK(st.timeouts == 0);
    CHECK(query_int64(conn, "SELECT 2") == 2);
    CHECK_OK(sqlpool_checkin(conn));
    CHECK_OK(sqlpool_close(pool));
}

struct waiting_checkout {
    sqlpool_pool *pool;
    sqlpool_conn *out;
    int rc;
    double waited_ms;
};

static void *checkout_and_wait(void *arg)
{
    struct waiting_checkout *w = arg;
    double t0 = now_ms();
    w->rc = sqlpool_checkout(w->pool, &w->out);
    w->waited_ms = now_ms() - t0;
    return NULL;
}

static void test_close(void)
{
    char path[4096], lock_path[4096];
    path_in_dir(path, sizeof path, "api.db");

    /* Checkout after close: CLOSED, out untouched. */
    sqlpool_pool *pool = open_pool(path, 2, 0, 0);
    sqlpool_conn *conn = checkout(pool);
    CHECK_OK(sqlpool_checkin(conn));
    CHECK_OK(sqlpool_close(pool));
    conn = CONN_SENTINEL;
    CHECK_RC(sqlpool_checkout(pool, &conn), SQLPOOL_CLOSED);
    CHECK(conn == CONN_SENTINEL);

    /* Threads waiting in checkout wake with CLOSED. */
    pool = open_pool(path, 1, 0, 20000);
    sqlpool_conn *held = checkout(pool);
    struct waiting_checkout w = {pool, CONN_SENTINEL, -1, 0.0};
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, checkout_and_wait, &w) == 0);
    double deadline = now_ms() + 10000.0;
    while (stats_of(pool).waiting == 0 && now_ms() < deadline)
        sleep_ms(1);
    CHECK(stats_of(pool).waiting == 1);
    CHECK_OK(sqlpool_close(pool));
    CHECK(pthread_join(thread, NULL) == 0);
    CHECK_RC(w.rc, SQLPOOL_CLOSED);
    CHECK(w.out == CONN_SENTINEL);
    CHECK(w.waited_ms < 10000.0);
    CHECK(query_int64(held, "SELECT 3") == 3);
    CHECK_OK(sqlpool_checkin(held));

    /* A connection checked out before close stays usable, and is closed at
     * its checkin. Seen through a lock: the held connection takes an
     * EXCLUSIVE lock it keeps until it is closed (locking_mode=EXCLUSIVE),
     * so another pool's reads are BUSY until then. */
    path_in_dir(lock_path, sizeof lock_path, "lock.db");
    sqlpool_pool *a = open_pool(lock_path, 1, 1, 0);
    sqlpool_conn *a1 = checkout(a);
    CHECK_OK(sqlpool_exec(a1, "CREATE TABLE lk(x); INSERT INTO lk VALUES (1)"));

    sqlpool_options *opts = sqlpool_options_new();
    CHECK(opts != NULL);
    CHECK_OK(sqlpool_options_set_busy_timeout_ms(opts, 0));
    sqlpool_pool *b = NULL;
    CHECK_OK(sqlpool_open(lock_path, opts, &b));
    sqlpool_options_free(opts);
    sqlpool_conn *b1 = checkout(b);
    CHECK(query_int64(b1, "SELECT count(*) FROM lk") == 1);

    CHECK_OK(sqlpool_exec(a1, "PRAGMA locking_mode=EXCLUSIVE"));
    CHECK_OK(sqlpool_exec(a1, "INSERT INTO lk VALUES (2)"));
    CHECK_OK(sqlpool_close(a));
    /* A connection is still out, so the pool lives on: checkout is CLOSED. */
    conn = CONN_SENTINEL;
    CHECK_RC(sqlpool_checkout(a, &conn), SQLPOOL_CLOSED);
    CHECK(conn == CONN_SENTINEL);
    CHECK_OK(sqlpool_exec(a1, "INSERT INTO lk VALUES (3)")); /* still usable after close */
    CHECK(query_int64(a1, "SELECT count(*) FROM lk") == 3);

    CHECK_RC(sqlpool_exec(b1, "SELECT count(*) FROM lk"), SQLPOOL_SQLITE);
    CHECK((sqlpool_sqlite_errcode() & 0xff) == 5 /* SQLITE_BUSY */);

    CHECK_OK(sqlpool_checkin(a1)); /* closes it: the lock goes */
    CHECK(query_int64(b1, "SELECT count(*) FROM lk") == 3);
    conn = CONN_SENTINEL;
    CHECK_RC(sqlpool_checkout(a, &conn), SQLPOOL_CLOSED);
    CHECK(conn == CONN_SENTINEL);

    CHECK_OK(sqlpool_checkin(b1));
    CHECK_OK(sqlpool_close(b));
}

static void test_checkin_cleans_up(void)
{
    char path[4096];
    path_in_dir(path, sizeof path, "api.db");
    sqlpool_pool *pool = open_pool(path, 1, 0, 0); /* the same connection each time */

    sqlpool_conn *conn = checkout(pool);
    CHECK_OK(sqlpool_exec(conn, "CREATE TABLE IF NOT EXISTS rb(x)"));
    CHECK_OK(sqlpool_checkin(conn));
    sqlpool_stats s0 = stats_of(pool);

    /* An open transaction is rolled back at checkin, and counted. */
    conn = checkout(pool);
    CHECK_OK(sqlpool_exec(conn, "BEGIN"));
    CHECK_OK(sqlpool_exec(conn, "INSERT INTO rb VALUES (1)"));
    CHECK(query_int64(conn, "SELECT count(*) FROM rb") == 1);
    CHECK_OK(sqlpool_checkin(conn));
    sqlpool_stats s1 = stats_of(pool);
    CHECK(s1.resets_on_checkin == s0.resets_on_checkin + 1);

    conn = checkout(pool);
    CHECK(query_int64(conn, "SELECT count(*) FROM rb") == 0);
    CHECK_OK(sqlpool_exec(conn, "BEGIN")); /* no transaction was left open */
    CHECK_OK(sqlpool_exec(conn, "COMMIT"));
    CHECK_OK(sqlpool_checkin(conn));
    sqlpool_stats s2 = stats_of(pool);
    CHECK(s2.resets_on_checkin == s1.resets_on_checkin); /* a clean checkin is not a reset */
    CHECK(s2.connections_created == s0.connections_created);

    /* A statement left mid-step is reset at checkin, and counted. */
    conn = checkout(pool);
    sqlpool_stmt *stmt = NULL;
    CHECK_OK(sqlpool_prepare(conn, "SELECT 1 UNION ALL SELECT 2", &stmt));
    CHECK_RC(sqlpool_step(stmt), SQLPOOL_ROW);
    CHECK_OK(sqlpool_checkin(conn));
    sqlpool_stats s3 = stats_of(pool);
    CHECK(s3.resets_on_checkin == s2.resets_on_checkin + 1);
    conn = checkout(pool);
    CHECK_OK(sqlpool_exec(conn, "INSERT INTO rb VALUES (9)"));
    CHECK(query_int64(conn, "SELECT count(*) FROM rb") == 1);
    CHECK_OK(sqlpool_checkin(conn));
    CHECK_OK(sqlpool_close(pool));
}

static void test_invalidate(void)
{
    char path[4096];
    path_in_dir(path, sizeof path, "api.db");
    sqlpool_pool *pool = open_pool(path, 1, 0, 0);

    sqlpool_conn *conn = checkout(pool);
    CHECK_OK(sqlpool_checkin(conn));
    sqlpool_stats s0 = stats_of(pool);
    CHECK(s0.idle == 1);

    conn = checkout(pool);
    CHECK_OK(sqlpool_conn_invalidate(conn));
    CHECK(query_int64(conn, "SELECT 5") == 5); /* usable until its checkin */
    sqlpool_stats s1 = stats_of(pool);
    CHECK(s1.invalidated == s0.invalidated); /* counted at the checkin that closes it */
    CHECK_OK(sqlpool_checkin(conn));
    sqlpool_stats s2 = stats_of(pool);
    CHECK(s2.invalidated == s0.invalidated + 1);
    CHECK(s2.connections_closed == s0.connections_closed + 1);
    CHECK(s2.idle == 0);
    CHECK(s2.checked_out == 0);
    check_stats_consistent(&s2);

    conn = checkout(pool); /* a new connection */
    CHECK(query_int64(conn, "SELECT 6") == 6);
    CHECK_OK(sqlpool_checkin(conn));
    sqlpool_stats s3 = stats_of(pool);
    CHECK(s3.connections_created == s0.connections_created + 1);
    CHECK(s3.idle == 1);
    check_stats_consistent(&s3);
    CHECK_OK(sqlpool_close(pool));
}

struct thread_errors {
    const char *path;
    int initial_empty;
    int initial_code;
    int rc;
    int message_names_path;
};

static void *fail_in_thread(void *arg)
{
    struct thread_errors *t = arg;
    const char *msg = sqlpool_errmsg();
    t->initial_empty = msg != NULL && msg[0] == '\0';
    t->initial_code = sqlpool_sqlite_errcode();
    sqlpool_pool *pool = NULL;
    t->rc = sqlpool_open(t->path, NULL, &pool);
    t->message_names_path = contains(sqlpool_errmsg(), t->path);
    return NULL;
}

/* The last error is per thread, set by failing calls only. */
static void test_errmsg_rules(void)
{
    char path[4096], saved[4096];
    path_in_dir(path, sizeof path, "api.db");
    sqlpool_pool *pool = open_pool(path, 1, 0, 0);
    sqlpool_conn *conn = checkout(pool);

    CHECK_RC(sqlpool_exec(conn, "SELEC 1"), SQLPOOL_SQLITE);
    copy_errmsg(saved, sizeof saved);
    CHECK(saved[0] != '\0');
    const char *held_pointer = sqlpool_errmsg();

    /* Successful calls of every kind leave the message and code alone. */
    CHECK_OK(sqlpool_exec(conn, "CREATE TABLE IF NOT EXISTS em(x)"));
    sqlpool_stmt *stmt = NULL;
    CHECK_OK(sqlpool_prepare(conn, "SELECT ?1", &stmt));
    CHECK_OK(sqlpool_bind_text(stmt, 1, "ok", -1));
    CHECK_RC(sqlpool_step(stmt), SQLPOOL_ROW);
    CHECK(sqlpool_column_count(stmt) == 1);
    CHECK(sqlpool_column_type(stmt, 0) == SQLPOOL_TEXT);
    CHECK(strcmp(sqlpool_column_text(stmt, 0), "ok") == 0);
    CHECK_RC(sqlpool_step(stmt), SQLPOOL_DONE);
    CHECK_OK(sqlpool_reset(stmt));
    CHECK_OK(sqlpool_finalize(stmt));
    sqlpool_options *opts = sqlpool_options_new();
    CHECK(opts != NULL);
    CHECK_OK(sqlpool_options_set_pool_size(opts, 3));
    sqlpool_options_free(opts);
    (void)stats_of(pool);
    CHECK(sqlpool_errstr(SQLPOOL_OK) != NULL);
    CHECK(sqlpool_version() != NULL);
    CHECK_OK(sqlpool_checkin(conn));
    conn = checkout(pool);
    CHECK_OK(sqlpool_checkin(conn));
    CHECK_OK(sqlpool_dispose(pool));

    CHECK(strcmp(sqlpool_errmsg(), saved) == 0);
    CHECK(strcmp(held_pointer, saved) == 0); /* still valid: no failing call since */
    CHECK(sqlpool_sqlite_errcode() == 1);

    /* Another thread starts with no error, and its failure is its own. */
    char missing[4096];
    path_in_dir(missing, sizeof missing, "thread-missing.db");
    struct thread_errors t = {missing, 0, -1, -1, 0};
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, fail_in_thread, &t) == 0);
    CHECK(pthread_join(thread, NULL) == 0);
    CHECK(t.initial_empty);
    CHECK(t.initial_code == 0);
    CHECK_RC(t.rc, SQLPOOL_CANTOPEN);
    CHECK(t.message_names_path);
    CHECK(strcmp(sqlpool_errmsg(), saved) == 0);
    CHECK(sqlpool_sqlite_errcode() == 1);

    /* The next failing call replaces the message. */
    CHECK_RC(sqlpool_open(missing, NULL, &pool), SQLPOOL_CANTOPEN);
    CHECK(strcmp(sqlpool_errmsg(), saved) != 0);
    CHECK(contains(sqlpool_errmsg(), missing));

    CHECK_OK(sqlpool_close(pool));
}

int main(void)
{
    make_test_dir("test_api");

    test_no_error_before_any_failure();
    test_result_code_values();
    test_errstr();
    test_version();
    test_stats_layout();
    test_options();
    test_open_errors();
    test_query_cycle();
    test_pool_query_call();
    test_statement_cache();
    test_checkout_timeout();
    test_checkout_waits();
    test_close();
    test_checkin_cleans_up();
    test_invalidate();
    test_errmsg_rules();

    remove_tree(test_dir());
    return check_summary();
}
