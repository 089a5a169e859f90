/*
 * test_misuse.c: what API.md promises for wrong use: NULL pointers, stale
 * and foreign handles, calls in the wrong order, invalid UTF-8, a connection
 * used by two threads at once. Each is a result code (MISUSE or
 * INVALID_ARGUMENT), never a crash, and leaves the pool working.
 */
#define _POSIX_C_SOURCE 200809L
#define CHECK_TEST_NAME "test_misuse"
#include "check.h"

#include <dirent.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static char g_db[4096];

/* ---------------------------------------------------------------- helpers */

static sqlpool_stmt *prepare(sqlpool_conn *conn, const char *sql)
{
    sqlpool_stmt *stmt = NULL;
    CHECK_OK(sqlpool_prepare(conn, sql, &stmt));
    CHECK(stmt != NULL);
    return stmt;
}

static sqlpool_stats stats_of(sqlpool_pool *pool)
{
    sqlpool_stats st;
    memset(&st, 0, sizeof st);
    CHECK_OK(sqlpool_get_stats(pool, &st, sizeof st));
    return st;
}

/* The pool still serves: a checkout, a write, a query, a checkin, and no
 * connection left checked out by the misuse before. */
static void check_pool_works(sqlpool_pool *pool)
{
    sqlpool_stats st = stats_of(pool);
    CHECK(st.checked_out == 0);
    sqlpool_conn *conn = checkout(pool);
    CHECK_OK(sqlpool_exec(conn, "INSERT INTO m(x) VALUES (1)"));
    sqlpool_stmt *stmt = prepare(conn, "SELECT 40 + ?1");
    CHECK_OK(sqlpool_bind_int64(stmt, 1, 2));
    CHECK_RC(sqlpool_step(stmt), SQLPOOL_ROW);
    CHECK(sqlpool_column_int64(stmt, 0) == 42);
    CHECK_RC(sqlpool_step(stmt), SQLPOOL_DONE);
    CHECK_OK(sqlpool_finalize(stmt));
    CHECK_OK(sqlpool_checkin(conn));
    CHECK(stats_of(pool).checked_out == 0);
}

/* Makes the thread's last error a known SQLite error (SQLITE_ERROR, 1), so
 * that a later call can be seen to replace it. */
static void set_known_error(sqlpool_pool *pool, char *saved, size_t size)
{
    sqlpool_conn *conn = checkout(pool);
    CHECK_RC(sqlpool_exec(conn, "SELEC 'known error'"), SQLPOOL_SQLITE);
    CHECK(sqlpool_sqlite_errcode() == 1);
    snprintf(saved, size, "%s", sqlpool_errmsg());
    CHECK(saved[0] != '\0');
    CHECK_OK(sqlpool_checkin(conn));
}

/* After a call that returns no code (column accessors), the last error was
 * set: the known SQLite error was replaced by a non-SQLite one. */
static void check_error_was_set(const char *saved)
{
    const char *msg = sqlpool_errmsg();
    CHECK(msg != NULL);
    CHECK(msg[0] != '\0');
    CHECK(strcmp(msg, saved) != 0);
    CHECK(sqlpool_sqlite_errcode() == 0);
}

/* A call that succeeds as a no-op leaves the last error alone. */
static void check_error_unchanged(const char *saved)
{
    CHECK(strcmp(sqlpool_errmsg(), saved) == 0);
    CHECK(sqlpool_sqlite_errcode() == 1);
}

/* Every column accessor returns SQLite's "no such column" values for
 * (stmt, col) and sets the last error (MISUSE). */
static void check_columns_refused(sqlpool_pool *pool, const sqlpool_stmt *stmt, int col)
{
    char saved[4096];
    set_known_error(pool, saved, sizeof saved);
    CHECK(sqlpool_column_type(stmt, col) == SQLPOOL_NULL);
    check_error_was_set(saved);
    set_known_error(pool, saved, sizeof saved);
    CHECK(sqlpool_column_name(stmt, col) == NULL);
    check_error_was_set(saved);
    set_known_error(pool, saved, sizeof saved);
    CHECK(sqlpool_column_int64(stmt, col) == 0);
    check_error_was_set(saved);
    set_known_error(pool, saved, sizeof saved);
    CHECK(sqlpool_column_double(stmt, col) == 0.0);
    check_error_was_set(saved);
    set_known_error(pool, saved, sizeof saved);
    CHECK(sqlpool_column_text(stmt, col) == NULL);
    check_error_was_set(saved);
    set_known_error(pool, saved, sizeof saved);
    CHECK(sqlpool_column_blob(stmt, col) == NULL);
    check_error_was_set(saved);
    set_known_error(pool, saved, sizeof saved);
    CHECK(sqlpool_column_bytes(stmt, col) == 0);
    check_error_was_set(saved);
}

/* Every statement function refuses a stale or foreign statement. */
static void check_stmt_refused(sqlpool_pool *pool, sqlpool_stmt *stmt)
{
    CHECK_RC(sqlpool_bind_int64(stmt, 1, 1), SQLPOOL_MISUSE);
    CHECK(sqlpool_sqlite_errcode() == 0);
    CHECK_RC(sqlpool_bind_double(stmt, 1, 1.0), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_bind_text(stmt, 1, "x", -1), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_bind_blob(stmt, 1, "x", 1), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_bind_null(stmt, 1), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_step(stmt), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_reset(stmt), SQLPOOL_MISUSE);
    char saved[4096];
    set_known_error(pool, saved, sizeof saved);
    CHECK(sqlpool_column_count(stmt) == 0);
    check_error_was_set(saved);
    check_columns_refused(pool, stmt, 0);
    CHECK_RC(sqlpool_finalize(stmt), SQLPOOL_MISUSE);
}

/* Every connection function refuses a stale or foreign connection. */
static void check_conn_refused(sqlpool_conn *conn)
{
    CHECK_RC(sqlpool_exec(conn, "SELECT 1"), SQLPOOL_MISUSE);
    CHECK(sqlpool_sqlite_errcode() == 0);
    sqlpool_stmt *stmt = STMT_SENTINEL;
    CHECK_RC(sqlpool_prepare(conn, "SELECT 1", &stmt), SQLPOOL_MISUSE);
    CHECK(stmt == STMT_SENTINEL);
    CHECK_RC(sqlpool_conn_invalidate(conn), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_checkin(conn), SQLPOOL_MISUSE);
}

/* ------------------------------------------------------------------ tests */

static void test_null_options(sqlpool_pool *pool)
{
    /* _free of NULL is a no-op. */
    sqlpool_options_free(NULL);

    CHECK_RC(sqlpool_options_set_pool_size(NULL, 1), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_options_set_max_overflow(NULL, 1), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_options_set_timeout_ms(NULL, 1), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_options_set_pre_ping(NULL, true), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_options_set_recycle_ms(NULL, 1), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_options_set_lifo(NULL, true), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_options_set_read_only(NULL, true), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_options_set_create(NULL, true), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_options_set_init_sql(NULL, "SELECT 1"), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_options_set_init_sql(NULL, NULL), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_options_set_busy_timeout_ms(NULL, 1), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_options_set_statement_cache_capacity(NULL, 1), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_options_set_read_snapshot(NULL, true), SQLPOOL_MISUSE);
    CHECK(sqlpool_sqlite_errcode() == 0);
    check_pool_works(pool);
}

static void test_null_pool_functions(sqlpool_pool *pool)
{
    sqlpool_pool *out_pool = POOL_SENTINEL;
    CHECK_RC(sqlpool_open(NULL, NULL, &out_pool), SQLPOOL_INVALID_ARGUMENT);
    CHECK(out_pool == POOL_SENTINEL);
    CHECK_RC(sqlpool_open(g_db, NULL, NULL), SQLPOOL_INVALID_ARGUMENT);

    sqlpool_conn *conn = CONN_SENTINEL;
    CHECK_RC(sqlpool_checkout(NULL, &conn), SQLPOOL_MISUSE);
    CHECK(conn == CONN_SENTINEL);
    CHECK_RC(sqlpool_checkout(pool, NULL), SQLPOOL_INVALID_ARGUMENT);
    /* ... and no connection was taken out and lost. */
    CHECK(stats_of(pool).checked_out == 0);

    CHECK_RC(sqlpool_checkin(NULL), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_conn_invalidate(NULL), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_dispose(NULL), SQLPOOL_MISUSE);

    sqlpool_stats st;
    memset(&st, 0x5A, sizeof st);
    CHECK_RC(sqlpool_get_stats(NULL, &st, sizeof st), SQLPOOL_MISUSE);
    CHECK(((const unsigned char *)&st)[0] == 0x5A); /* out untouched */
    CHECK_RC(sqlpool_get_stats(pool, NULL, sizeof st), SQLPOOL_INVALID_ARGUMENT);

    /* _close of NULL is a no-op: it succeeds and sets no error. */
    char saved[4096];
    set_known_error(pool, saved, sizeof saved);
    CHECK_OK(sqlpool_close(NULL));
    check_error_unchanged(saved);
    check_pool_works(pool);
}

static void test_null_query_functions(sqlpool_pool *pool)
{
    CHECK_RC(sqlpool_exec(NULL, "SELECT 1"), SQLPOOL_MISUSE);
    sqlpool_stmt *stmt = STMT_SENTINEL;
    CHECK_RC(sqlpool_prepare(NULL, "SELECT 1", &stmt), SQLPOOL_MISUSE);
    CHECK(stmt == STMT_SENTINEL);

    sqlpool_conn *conn = checkout(pool);
    CHECK_RC(sqlpool_exec(conn, NULL), SQLPOOL_INVALID_ARGUMENT);
    CHECK_RC(sqlpool_prepare(conn, NULL, &stmt), SQLPOOL_INVALID_ARGUMENT);
    CHECK(stmt == STMT_SENTINEL);
    CHECK_RC(sqlpool_prepare(conn, "SELECT 1", NULL), SQLPOOL_INVALID_ARGUMENT);

    CHECK_RC(sqlpool_bind_int64(NULL, 1, 1), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_bind_double(NULL, 1, 1.0), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_bind_text(NULL, 1, "x", -1), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_bind_blob(NULL, 1, "x", 1), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_bind_null(NULL, 1), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_step(NULL), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_reset(NULL), SQLPOOL_MISUSE);

    /* NULL data pointers to bind: INVALID_ARGUMENT, and the statement is fine. */
    stmt = prepare(conn, "SELECT ?1");
    CHECK_RC(sqlpool_bind_text(stmt, 1, NULL, -1), SQLPOOL_INVALID_ARGUMENT);
    CHECK_RC(sqlpool_bind_text(stmt, 1, NULL, 3), SQLPOOL_INVALID_ARGUMENT);
    CHECK_RC(sqlpool_bind_blob(stmt, 1, NULL, 4), SQLPOOL_INVALID_ARGUMENT);
    /* Lengths below -1 (text) or below 0 (blob) are invalid too. */
    CHECK_RC(sqlpool_bind_text(stmt, 1, "x", -2), SQLPOOL_INVALID_ARGUMENT);
    CHECK_RC(sqlpool_bind_blob(stmt, 1, "x", -1), SQLPOOL_INVALID_ARGUMENT);
    CHECK_OK(sqlpool_bind_int64(stmt, 1, 8));
    CHECK_RC(sqlpool_step(stmt), SQLPOOL_ROW);
    CHECK(sqlpool_column_int64(stmt, 0) == 8);
    CHECK_OK(sqlpool_finalize(stmt));

    /* Column accessors on NULL: "no such column" values, last error set. */
    char saved[4096];
    set_known_error(pool, saved, sizeof saved);
    CHECK(sqlpool_column_count(NULL) == 0);
    check_error_was_set(saved);
    check_columns_refused(pool, NULL, 0);

    /* finalize is the statement's free: NULL is a harmless no-op, as with
     * sqlite3_finalize(NULL). */
    set_known_error(pool, saved, sizeof saved);
    CHECK_OK(sqlpool_finalize(NULL));
    check_error_unchanged(saved);

    CHECK_OK(sqlpool_checkin(conn));
    check_pool_works(pool);
}

static void test_stale_connection(sqlpool_pool *pool)
{
    /* Double checkin. */
    sqlpool_conn *conn = checkout(pool);
    CHECK_OK(sqlpool_checkin(conn));
    CHECK_RC(sqlpool_checkin(conn), SQLPOOL_MISUSE);
    CHECK(sqlpool_errmsg()[0] != '\0');
    check_pool_works(pool);

    /* Every use after checkin. */
    conn = checkout(pool);
    CHECK_OK(sqlpool_checkin(conn));
    check_conn_refused(conn);
    check_pool_works(pool);

    /* The stale handle never aliases a later checkout of the same
     * connection (a pool of one: it is the same connection). */
    sqlpool_pool *single = open_pool(g_db, 1, 0, 10000);
    sqlpool_conn *first = checkout(single);
    CHECK_OK(sqlpool_exec(first, "CREATE TEMP TABLE mine(x)"));
    CHECK_OK(sqlpool_checkin(first));
    sqlpool_conn *second = checkout(single);
    CHECK_OK(sqlpool_exec(second, "SELECT * FROM temp.mine")); /* same connection */
    check_conn_refused(first);
    CHECK_OK(sqlpool_exec(second, "INSERT INTO temp.mine VALUES (1)")); /* the live one is unaffected */
    CHECK_OK(sqlpool_checkin(second));
    CHECK(stats_of(single).checked_out == 0);
    CHECK(stats_of(single).connections_created == 1);
    CHECK_OK(sqlpool_close(single));

    /* Invalidate, then checkin: the handle is stale too. */
    conn = checkout(pool);
    CHECK_OK(sqlpool_conn_invalidate(conn));
    CHECK_OK(sqlpool_checkin(conn));
    check_conn_refused(conn);
    check_pool_works(pool);
}

static void test_stale_statement(sqlpool_pool *pool)
{
    /* After finalize (double finalize included). */
    sqlpool_conn *conn = checkout(pool);
    sqlpool_stmt *stmt = prepare(conn, "SELECT ?1");
    CHECK_OK(sqlpool_finalize(stmt));
    check_stmt_refused(pool, stmt);
    /* The connection is unaffected; the same SQL prepares again (from the
     * cache) and the old handle stays stale. */
    sqlpool_stmt *again = prepare(conn, "SELECT ?1");
    CHECK_RC(sqlpool_step(stmt), SQLPOOL_MISUSE);
    CHECK_OK(sqlpool_bind_int64(again, 1, 3));
    CHECK_RC(sqlpool_step(again), SQLPOOL_ROW);
    CHECK(sqlpool_column_int64(again, 0) == 3);
    CHECK_OK(sqlpool_finalize(again));
    CHECK_OK(sqlpool_checkin(conn));
    check_pool_works(pool);

    /* After its connection's checkin (left mid-step, and never stepped). */
    conn = checkout(pool);
    sqlpool_stmt *stepped = prepare(conn, "SELECT 1 UNION ALL SELECT 2");
    sqlpool_stmt *fresh = prepare(conn, "SELECT 3");
    CHECK_RC(sqlpool_step(stepped), SQLPOOL_ROW);
    CHECK_OK(sqlpool_checkin(conn));
    check_stmt_refused(pool, stepped);
    check_stmt_refused(pool, fresh);
    check_pool_works(pool);
}

static void test_foreign_handles(sqlpool_pool *pool)
{
    /* An address that was never a handle. */
    union {
        unsigned char bytes[256];
        uint64_t words[32];
    } junk;
    memset(&junk, 0, sizeof junk);
    sqlpool_conn *fake_conn = (sqlpool_conn *)(void *)&junk;
    sqlpool_stmt *fake_stmt = (sqlpool_stmt *)(void *)&junk;
    sqlpool_pool *fake_pool = (sqlpool_pool *)(void *)&junk;
    check_conn_refused(fake_conn);
    check_stmt_refused(pool, fake_stmt);
    sqlpool_conn *conn = CONN_SENTINEL;
    CHECK_RC(sqlpool_checkout(fake_pool, &conn), SQLPOOL_MISUSE);
    CHECK(conn == CONN_SENTINEL);
    CHECK_RC(sqlpool_dispose(fake_pool), SQLPOOL_MISUSE);
    check_pool_works(pool);

    /* A handle of one type passed as another. */
    conn = checkout(pool);
    sqlpool_stmt *stmt = prepare(conn, "SELECT 1");
    CHECK_RC(sqlpool_checkin((sqlpool_conn *)(void *)stmt), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_exec((sqlpool_conn *)(void *)stmt, "SELECT 1"), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_step((sqlpool_stmt *)(void *)conn), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_finalize((sqlpool_stmt *)(void *)conn), SQLPOOL_MISUSE);
    sqlpool_conn *wrong = CONN_SENTINEL;
    CHECK_RC(sqlpool_checkout((sqlpool_pool *)(void *)conn, &wrong), SQLPOOL_MISUSE);
    CHECK(wrong == CONN_SENTINEL);
    CHECK_RC(sqlpool_checkin((sqlpool_conn *)(void *)pool), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_options_set_pool_size((sqlpool_options *)(void *)pool, 2), SQLPOOL_MISUSE);
    /* ... and the real handles are untouched. */
    CHECK_RC(sqlpool_step(stmt), SQLPOOL_ROW);
    CHECK(sqlpool_column_int64(stmt, 0) == 1);
    CHECK_OK(sqlpool_finalize(stmt));
    CHECK_OK(sqlpool_checkin(conn));
    check_pool_works(pool);
}

static void test_closed_pool(sqlpool_pool *pool)
{
    sqlpool_pool *other = open_pool(g_db, 2, 0, 10000);
    CHECK_OK(sqlpool_close(other));
    CHECK_RC(sqlpool_close(other), SQLPOOL_MISUSE);
    sqlpool_conn *conn = CONN_SENTINEL;
    CHECK_RC(sqlpool_checkout(other, &conn), SQLPOOL_CLOSED);
    CHECK(conn == CONN_SENTINEL);
    check_pool_works(pool);

    /* Closed with a connection out: still closing twice is MISUSE, and the
     * connection still checks in. */
    other = open_pool(g_db, 2, 0, 10000);
    conn = checkout(other);
    CHECK_OK(sqlpool_close(other));
    CHECK_RC(sqlpool_close(other), SQLPOOL_MISUSE);
    CHECK_OK(sqlpool_exec(conn, "SELECT 1"));
    CHECK_OK(sqlpool_checkin(conn));
    CHECK_RC(sqlpool_checkin(conn), SQLPOOL_MISUSE);
    /* Its last connection is in: the pool is gone, still MISUSE to close. */
    CHECK_RC(sqlpool_close(other), SQLPOOL_MISUSE);
    check_pool_works(pool);
}

static void test_freed_options(sqlpool_pool *pool)
{
    sqlpool_options *opts = sqlpool_options_new();
    CHECK(opts != NULL);
    CHECK_OK(sqlpool_options_set_pool_size(opts, 2));
    sqlpool_options_free(opts);
    CHECK_RC(sqlpool_options_set_pool_size(opts, 3), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_options_set_create(opts, true), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_options_set_init_sql(opts, "SELECT 1"), SQLPOOL_MISUSE);
    sqlpool_pool *out = POOL_SENTINEL;
    CHECK_RC(sqlpool_open(g_db, opts, &out), SQLPOOL_MISUSE);
    CHECK(out == POOL_SENTINEL);
    /* A second free of the stale handle must not crash either. */
    sqlpool_options_free(opts);
    /* New options are unaffected by the stale handle. */
    sqlpool_options *fresh = sqlpool_options_new();
    CHECK(fresh != NULL);
    CHECK_OK(sqlpool_options_set_pool_size(fresh, 4));
    CHECK_RC(sqlpool_options_set_pool_size(opts, 3), SQLPOOL_MISUSE);
    sqlpool_options_free(fresh);
    check_pool_works(pool);
}

static void test_invalid_utf8(sqlpool_pool *pool)
{
    sqlpool_conn *conn = checkout(pool);
    CHECK_RC(sqlpool_exec(conn, "SELECT '\xff\xfe'"), SQLPOOL_INVALID_ARGUMENT);
    CHECK(sqlpool_sqlite_errcode() == 0);
    CHECK_RC(sqlpool_exec(conn, "INSERT INTO m(x) VALUES ('\xc3\x28')"), SQLPOOL_INVALID_ARGUMENT);
    sqlpool_stmt *stmt = STMT_SENTINEL;
    CHECK_RC(sqlpool_prepare(conn, "SELECT '\xc0\xaf'", &stmt), SQLPOOL_INVALID_ARGUMENT);
    CHECK(stmt == STMT_SENTINEL);
    stmt = prepare(conn, "SELECT ?1");
    CHECK_RC(sqlpool_bind_text(stmt, 1, "ok\xff", -1), SQLPOOL_INVALID_ARGUMENT);
    CHECK_RC(sqlpool_bind_text(stmt, 1, "\xe2\x82", 2), SQLPOOL_INVALID_ARGUMENT);
    CHECK_OK(sqlpool_bind_text(stmt, 1, "\xe2\x82\xac", 3)); /* U+20AC is fine */
    CHECK_RC(sqlpool_step(stmt), SQLPOOL_ROW);
    CHECK(strcmp(sqlpool_column_text(stmt, 0), "\xe2\x82\xac") == 0);
    CHECK_OK(sqlpool_finalize(stmt));
    CHECK_OK(sqlpool_checkin(conn));

    char bad_path[4096];
    path_in_dir(bad_path, sizeof bad_path, "bad-\xff-name.db");
    sqlpool_options *opts = sqlpool_options_new();
    CHECK(opts != NULL);
    CHECK_OK(sqlpool_options_set_create(opts, true));
    sqlpool_pool *out = POOL_SENTINEL;
    CHECK_RC(sqlpool_open(bad_path, opts, &out), SQLPOOL_INVALID_ARGUMENT);
    CHECK(out == POOL_SENTINEL);
    struct stat st;
    CHECK(stat(bad_path, &st) != 0); /* nothing was created */
    CHECK_RC(sqlpool_options_set_init_sql(opts, "SELECT '\xff'"), SQLPOOL_INVALID_ARGUMENT);
    sqlpool_options_free(opts);
    check_pool_works(pool);
}

static void test_bind_mid_step(sqlpool_pool *pool)
{
    sqlpool_conn *conn = checkout(pool);
    sqlpool_stmt *stmt = prepare(conn, "SELECT ?1 UNION ALL SELECT 2");
    CHECK_OK(sqlpool_bind_int64(stmt, 1, 1));
    CHECK_RC(sqlpool_step(stmt), SQLPOOL_ROW);
    CHECK_RC(sqlpool_bind_int64(stmt, 1, 5), SQLPOOL_MISUSE);
    CHECK(sqlpool_sqlite_errcode() == 0);
    CHECK_RC(sqlpool_bind_double(stmt, 1, 5.0), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_bind_text(stmt, 1, "5", -1), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_bind_blob(stmt, 1, "5", 1), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_bind_null(stmt, 1), SQLPOOL_MISUSE);
    /* The step in progress goes on as bound. */
    CHECK(sqlpool_column_int64(stmt, 0) == 1);
    CHECK_RC(sqlpool_step(stmt), SQLPOOL_ROW);
    CHECK(sqlpool_column_int64(stmt, 0) == 2);
    /* After reset, binding works again. */
    CHECK_OK(sqlpool_reset(stmt));
    CHECK_OK(sqlpool_bind_int64(stmt, 1, 5));
    CHECK_RC(sqlpool_step(stmt), SQLPOOL_ROW);
    CHECK(sqlpool_column_int64(stmt, 0) == 5);
    CHECK_OK(sqlpool_finalize(stmt));
    CHECK_OK(sqlpool_checkin(conn));
    check_pool_works(pool);
}

static void test_column_out_of_range(sqlpool_pool *pool)
{
    sqlpool_conn *conn = checkout(pool);
    sqlpool_stmt *stmt = prepare(conn, "SELECT 7 AS a, 'x' AS b");
    CHECK_RC(sqlpool_step(stmt), SQLPOOL_ROW);
    check_columns_refused(pool, stmt, 2);
    check_columns_refused(pool, stmt, -1);
    check_columns_refused(pool, stmt, 1000000);
    /* The statement is still fine. */
    CHECK(sqlpool_column_count(stmt) == 2);
    CHECK(sqlpool_column_int64(stmt, 0) == 7);
    CHECK(strcmp(sqlpool_column_text(stmt, 1), "x") == 0);
    CHECK(strcmp(sqlpool_column_name(stmt, 1), "b") == 0);
    CHECK_RC(sqlpool_step(stmt), SQLPOOL_DONE);
    CHECK_OK(sqlpool_finalize(stmt));
    CHECK_OK(sqlpool_checkin(conn));
    check_pool_works(pool);
}

static void test_stats_size(sqlpool_pool *pool)
{
    sqlpool_stats st;
    memset(&st, 0x5A, sizeof st);
    CHECK_RC(sqlpool_get_stats(pool, &st, 0), SQLPOOL_INVALID_ARGUMENT);
    const unsigned char *bytes = (const unsigned char *)&st;
    int untouched = 1;
    for (size_t i = 0; i < sizeof st; i++)
        untouched &= bytes[i] == 0x5A;
    CHECK(untouched);
    CHECK(strstr(sqlpool_errmsg(), "size") != NULL);
    /* A caller built with an older, shorter struct gets it filled as far as
     * it reaches, and nothing beyond (ABI rule). */
    CHECK_OK(sqlpool_get_stats(pool, &st, sizeof st - 1));
    CHECK(st.pool_size == 2);
    CHECK(bytes[sizeof st - 1] == 0x5A);

    /* A caller built with a newer header passes more: the extra bytes are
     * zeroed (header contract). */
    unsigned char bigger[sizeof(sqlpool_stats) + 16];
    memset(bigger, 0x5A, sizeof bigger);
    CHECK_OK(sqlpool_get_stats(pool, (sqlpool_stats *)(void *)bigger, sizeof bigger));
    int zeroed = 1;
    for (size_t i = sizeof(sqlpool_stats); i < sizeof bigger; i++)
        zeroed &= bigger[i] == 0;
    CHECK(zeroed);

    CHECK_OK(sqlpool_get_stats(pool, &st, sizeof st));
    CHECK(st.pool_size == 2);
    CHECK(st.max_overflow == 1);
    CHECK(st.checked_out == 0);
    check_pool_works(pool);
}

/* -------------------------------------------- one connection, two threads */

struct slow_step {
    sqlpool_stmt *stmt;
    volatile int started;
    volatile int finished;
    int rc;
    int64_t value;
    pthread_mutex_t mutex;
};

static void *run_slow_step(void *arg)
{
    struct slow_step *s = arg;
    pthread_mutex_lock(&s->mutex);
    s->started = 1;
    pthread_mutex_unlock(&s->mutex);
    int rc = sqlpool_step(s->stmt);
    int64_t value = rc == SQLPOOL_ROW ? sqlpool_column_int64(s->stmt, 0) : -1;
    pthread_mutex_lock(&s->mutex);
    s->rc = rc;
    s->value = value;
    s->finished = 1;
    pthread_mutex_unlock(&s->mutex);
    return NULL;
}

static int read_flag(struct slow_step *s, volatile int *flag)
{
    pthread_mutex_lock(&s->mutex);
    int v = *flag;
    pthread_mutex_unlock(&s->mutex);
    return v;
}

static void test_two_threads_one_connection(sqlpool_pool *pool)
{
    /* Sum of 1..N through a recursive CTE: one step that runs a while. */
    const int64_t n = 3000000;
    sqlpool_conn *conn = checkout(pool);
    struct slow_step s;
    memset(&s, 0, sizeof s);
    s.rc = -1;
    CHECK(pthread_mutex_init(&s.mutex, NULL) == 0);
    s.stmt = prepare(conn, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?1) "
                           "SELECT sum(x) FROM c");
    CHECK_OK(sqlpool_bind_int64(s.stmt, 1, n));

    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, run_slow_step, &s) == 0);
    while (!read_flag(&s, &s.started))
        sleep_ms(1);
    sleep_ms(20); /* let it get into the step */

    int misuse = 0, ok = 0, other = 0, other_rc = 0, tries = 0;
    double t0 = now_ms();
    while (!read_flag(&s, &s.finished)) {
        int rc = sqlpool_exec(conn, "SELECT 1");
        tries++;
        if (rc == SQLPOOL_MISUSE)
            misuse++;
        else if (rc == SQLPOOL_OK)
            ok++;
        else {
            other++;
            other_rc = rc;
        }
        sleep_ms(2);
    }
    double elapsed = now_ms() - t0;
    CHECK(pthread_join(thread, NULL) == 0);
    if (other != 0)
        fprintf(stderr, "concurrent exec returned %d (%s)\n", other_rc, check_code_name(other_rc));
    CHECK(other == 0);
    CHECK(s.rc == SQLPOOL_ROW || s.rc == SQLPOOL_MISUSE);
    if (s.rc == SQLPOOL_ROW)
        CHECK(s.value == n * (n + 1) / 2);
    if (misuse == 0 && s.rc != SQLPOOL_MISUSE)
        fprintf(stderr, "the step took %.0f ms; %d concurrent exec calls all returned OK (%d)\n", elapsed, tries, ok);
    CHECK(misuse > 0 || s.rc == SQLPOOL_MISUSE);

    /* Afterwards, one thread at a time, the connection and statement work. */
    CHECK_OK(sqlpool_exec(conn, "SELECT 1"));
    CHECK_OK(sqlpool_reset(s.stmt));
    CHECK_OK(sqlpool_bind_int64(s.stmt, 1, 10));
    CHECK_RC(sqlpool_step(s.stmt), SQLPOOL_ROW);
    CHECK(sqlpool_column_int64(s.stmt, 0) == 55);
    CHECK_OK(sqlpool_finalize(s.stmt));
    CHECK_OK(sqlpool_checkin(conn));
    pthread_mutex_destroy(&s.mutex);
    check_pool_works(pool);
}

int main(void)
{
    make_test_dir("test_misuse");
    path_in_dir(g_db, sizeof g_db, "misuse.db");

    sqlpool_pool *pool = open_pool(g_db, 2, 1, 10000);
    sqlpool_conn *conn = checkout(pool);
    CHECK_OK(sqlpool_exec(conn, "CREATE TABLE m(x)"));
    CHECK_OK(sqlpool_checkin(conn));
    check_pool_works(pool);

    test_null_options(pool);
    test_null_pool_functions(pool);
    test_null_query_functions(pool);
    test_stale_connection(pool);
    test_stale_statement(pool);
    test_foreign_handles(pool);
    test_closed_pool(pool);
    test_freed_options(pool);
    test_invalid_utf8(pool);
    test_bind_mid_step(pool);
    test_column_out_of_range(pool);
    test_stats_size(pool);
    test_two_threads_one_connection(pool);

    CHECK_OK(sqlpool_close(pool));
    CHECK_RC(sqlpool_close(pool), SQLPOOL_MISUSE);
    remove_tree(test_dir());
    return check_summary();
}
