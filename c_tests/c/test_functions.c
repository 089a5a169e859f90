/*
 * test_functions.c: the C API additions for the DB-API and SQLAlchemy:
 * changes, last insert rowid, in_transaction (not the read snapshot),
 * declared column types, and user-defined SQL functions per connection and
 * per pool, with their values, results, destroy and misuse.
 */
#define _POSIX_C_SOURCE 200809L
#define CHECK_TEST_NAME "test_functions"
#include "check.h"

#include <stdint.h>
#include <string.h>

static char g_db[4096];

static sqlpool_stmt *prepare(sqlpool_conn *conn, const char *sql)
{
    sqlpool_stmt *stmt = NULL;
    CHECK_OK(sqlpool_prepare(conn, sql, &stmt));
    CHECK(stmt != NULL);
    return stmt;
}

/* Runs `sql` (one row, one column) and returns its step code; the row's
 * integer goes to *out when it has one. */
static int query_int(sqlpool_conn *conn, const char *sql, int64_t *out)
{
    sqlpool_stmt *stmt = prepare(conn, sql);
    int rc = sqlpool_step(stmt);
    if (rc == SQLPOOL_ROW && out != NULL)
        *out = sqlpool_column_int64(stmt, 0);
    CHECK_OK(sqlpool_finalize(stmt));
    return rc;
}

/* Runs `sql` (one row, one column of text) into buf. */
static void query_text(sqlpool_conn *conn, const char *sql, char *buf, size_t size)
{
    sqlpool_stmt *stmt = prepare(conn, sql);
    CHECK_RC(sqlpool_step(stmt), SQLPOOL_ROW);
    const char *text = sqlpool_column_text(stmt, 0);
    CHECK(text != NULL);
    snprintf(buf, size, "%s", text);
    CHECK_OK(sqlpool_finalize(stmt));
}

/* ---------------------------------------------------------------- connection state */

static void test_changes_rowid_and_in_transaction(void)
{
    sqlpool_options *opts = sqlpool_options_new();
    CHECK_OK(sqlpool_options_set_read_snapshot(opts, true));
    sqlpool_pool *pool = NULL;
    CHECK_OK(sqlpool_open(g_db, opts, &pool));
    sqlpool_options_free(opts);
    sqlpool_conn *conn = checkout(pool);
    int64_t n = -1;
    bool in_tx = true;

    CHECK_OK(sqlpool_exec(conn, "INSERT INTO t(name) VALUES ('a'), ('b'), ('c')"));
    CHECK_OK(sqlpool_conn_changes(conn, &n));
    CHECK(n == 3);
    CHECK_OK(sqlpool_conn_last_insert_rowid(conn, &n));
    CHECK(n == 3);
    CHECK_OK(sqlpool_exec(conn, "UPDATE t SET name = 'x' WHERE id > 1"));
    CHECK_OK(sqlpool_conn_changes(conn, &n));
    CHECK(n == 2);
    CHECK_OK(sqlpool_exec(conn, "DELETE FROM t WHERE id = 3"));
    CHECK_OK(sqlpool_conn_changes(conn, &n));
    CHECK(n == 1);

    /* A read opens the snapshot: not the caller's transaction. */
    sqlpool_stmt *stmt = prepare(conn, "SELECT id FROM t");
    CHECK_RC(sqlpool_step(stmt), SQLPOOL_ROW);
    CHECK_OK(sqlpool_conn_in_transaction(conn, &in_tx));
    CHECK(!in_tx);
    CHECK_OK(sqlpool_finalize(stmt));
    CHECK_OK(sqlpool_exec(conn, "BEGIN"));
    CHECK_OK(sqlpool_conn_in_transaction(conn, &in_tx));
    CHECK(in_tx);
    CHECK_OK(sqlpool_exec(conn, "COMMIT"));
    CHECK_OK(sqlpool_conn_in_transaction(conn, &in_tx));
    CHECK(!in_tx);
    CHECK_OK(sqlpool_exec(conn, "BEGIN"));
    CHECK_OK(sqlpool_exec(conn, "ROLLBACK"));
    CHECK_OK(sqlpool_conn_in_transaction(conn, &in_tx));
    CHECK(!in_tx);
    CHECK_OK(sqlpool_exec(conn, "BEGIN"));
    CHECK_OK(sqlpool_checkin(conn));
    conn = checkout(pool);
    in_tx = true;
    CHECK_OK(sqlpool_conn_in_transaction(conn, &in_tx));
    CHECK(!in_tx);

    /* Misuse: NULL out-pointers, NULL and stale handles. */
    CHECK_RC(sqlpool_conn_changes(conn, NULL), SQLPOOL_INVALID_ARGUMENT);
    CHECK_RC(sqlpool_conn_last_insert_rowid(conn, NULL), SQLPOOL_INVALID_ARGUMENT);
    CHECK_RC(sqlpool_conn_in_transaction(conn, NULL), SQLPOOL_INVALID_ARGUMENT);
    CHECK_RC(sqlpool_conn_changes(NULL, &n), SQLPOOL_MISUSE);
    CHECK_OK(sqlpool_checkin(conn));
    n = 77;
    CHECK_RC(sqlpool_conn_last_insert_rowid(conn, &n), SQLPOOL_MISUSE);
    CHECK(n == 77);
    CHECK_RC(sqlpool_conn_in_transaction(conn, &in_tx), SQLPOOL_MISUSE);
    CHECK_OK(sqlpool_close(pool));
}

static void test_decltype(void)
{
    sqlpool_pool *pool = open_pool(g_db, 1, 0, 0);
    sqlpool_conn *conn = checkout(pool);
    sqlpool_stmt *stmt = prepare(conn, "SELECT id, name, data, id + 1 FROM t");
    CHECK(strcmp(sqlpool_column_decltype(stmt, 0), "INTEGER") == 0);
    CHECK(strcmp(sqlpool_column_decltype(stmt, 1), "VARCHAR(20)") == 0);
    CHECK(strcmp(sqlpool_column_decltype(stmt, 2), "BLOB") == 0);
    CHECK(sqlpool_column_decltype(stmt, 3) == NULL);
    CHECK(sqlpool_column_decltype(stmt, 4) == NULL);
    CHECK(strstr(sqlpool_errmsg(), "column 4 is out of range") != NULL);
    CHECK(sqlpool_column_decltype(NULL, 0) == NULL);
    CHECK_OK(sqlpool_finalize(stmt));
    CHECK(sqlpool_column_decltype(stmt, 0) == NULL);
    CHECK_OK(sqlpool_checkin(conn));
    CHECK_OK(sqlpool_close(pool));
}

/* ---------------------------------------------------------------- functions */

/* echo(x): returns its argument, read through the accessors; it also checks
 * that the struct's fields say the same. */
static void echo(sqlpool_context *ctx, int argc, sqlpool_value **argv, void *user_data)
{
    (void)user_data;
    CHECK(argc == 1);
    sqlpool_value *v = argv[0];
    int type = sqlpool_value_type(v);
    CHECK(type == v->kind);
    switch (type) {
    case SQLPOOL_INTEGER:
        CHECK(sqlpool_value_int64(v) == v->int_value);
        CHECK(sqlpool_value_double(v) == (double)v->int_value);
        CHECK_OK(sqlpool_result_int64(ctx, sqlpool_value_int64(v)));
        break;
    case SQLPOOL_FLOAT:
        CHECK(sqlpool_value_double(v) == v->float_value);
        CHECK_OK(sqlpool_result_double(ctx, sqlpool_value_double(v)));
        break;
    case SQLPOOL_TEXT: {
        const char *text = sqlpool_value_text(v);
        CHECK(text != NULL && strlen(text) == (size_t)sqlpool_value_bytes(v));
        CHECK(text == v->bytes);
        CHECK_OK(sqlpool_result_text(ctx, text, -1));
        break;
    }
    case SQLPOOL_BLOB:
        CHECK(sqlpool_value_text(v) == NULL);
        CHECK(sqlpool_value_bytes(v) == v->len);
        CHECK_OK(sqlpool_result_blob(ctx, sqlpool_value_blob(v), sqlpool_value_bytes(v)));
        break;
    default:
        CHECK(type == SQLPOOL_NULL);
        CHECK(sqlpool_value_blob(v) == NULL && sqlpool_value_bytes(v) == 0);
        CHECK_OK(sqlpool_result_null(ctx));
    }
}

static void count_args(sqlpool_context *ctx, int argc, sqlpool_value **argv, void *user_data)
{
    (void)argv;
    CHECK(user_data == (void *)&g_db);
    CHECK_OK(sqlpool_result_int64(ctx, argc));
}

/* Sets no result: the call returns NULL. */
static void no_result(sqlpool_context *ctx, int argc, sqlpool_value **argv, void *user_data)
{
    (void)ctx, (void)argc, (void)argv, (void)user_data;
}

static int g_bad_text_rc;
static void refuse(sqlpool_context *ctx, int argc, sqlpool_value **argv, void *user_data)
{
    (void)argc, (void)argv, (void)user_data;
    CHECK_OK(sqlpool_result_int64(ctx, 1));
    g_bad_text_rc = sqlpool_result_text(ctx, "\xff\xfe", 2);
    CHECK_OK(sqlpool_result_error(ctx, "refused on purpose"));
}

static void test_function_types_arity_null_and_error(void)
{
    sqlpool_pool *pool = open_pool(g_db, 1, 0, 0);
    sqlpool_conn *conn = checkout(pool);
    CHECK_OK(sqlpool_conn_create_function(conn, "echo", 1, SQLPOOL_DETERMINISTIC, echo, NULL, NULL));
    CHECK_OK(sqlpool_conn_create_function(conn, "count_args", -1, 0, count_args, &g_db, NULL));
    CHECK_OK(sqlpool_conn_create_function(conn, "no_result", 0, 0, no_result, NULL, NULL));
    CHECK_OK(sqlpool_conn_create_function(conn, "refuse", 0, 0, refuse, NULL, NULL));

    const char *cases[] = {"7", "-9223372036854775808", "2.5", "'h\xc3\xa9llo'", "''", "X'00FF'", "X''", "NULL"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char sql[256], got[256], want[256];
        snprintf(sql, sizeof sql, "SELECT quote(echo(%s))", cases[i]);
        query_text(conn, sql, got, sizeof got);
        snprintf(sql, sizeof sql, "SELECT quote(%s)", cases[i]);
        query_text(conn, sql, want, sizeof want);
        CHECK(strcmp(got, want) == 0);
    }
    int64_t n = -1;
    CHECK_RC(query_int(conn, "SELECT count_args()", &n), SQLPOOL_ROW);
    CHECK(n == 0);
    CHECK_RC(query_int(conn, "SELECT count_args(1, 'a', NULL, x'00')", &n), SQLPOOL_ROW);
    CHECK(n == 4);
    CHECK_RC(query_int(conn, "SELECT no_result() IS NULL", &n), SQLPOOL_ROW);
    CHECK(n == 1);
    CHECK_RC(query_int(conn, "SELECT refuse()", NULL), SQLPOOL_SQLITE);
    CHECK(sqlpool_sqlite_errcode() == 1);
    CHECK(strstr(sqlpool_errmsg(), "refused on purpose") != NULL);
    CHECK(g_bad_text_rc == SQLPOOL_INVALID_ARGUMENT);
    sqlpool_stmt *stmt = STMT_SENTINEL;
    CHECK_RC(sqlpool_prepare(conn, "SELECT echo(1, 2)", &stmt), SQLPOOL_SQLITE);
    CHECK(stmt == STMT_SENTINEL);
    CHECK(strstr(sqlpool_errmsg(), "wrong number of arguments") != NULL);
    CHECK_OK(sqlpool_checkin(conn));
    CHECK_OK(sqlpool_close(pool));
}

/* ---------------------------------------------------------------- destroy */

static int g_destroyed[4];
static void destroy(void *user_data)
{
    g_destroyed[*(int *)user_data]++;
}

static void constant(sqlpool_context *ctx, int argc, sqlpool_value **argv, void *user_data)
{
    (void)argc, (void)argv;
    CHECK_OK(sqlpool_result_int64(ctx, *(int *)user_data));
}

static void test_connection_function_lasts_and_destroy_runs_once(void)
{
    static int one = 1, two = 2, three = 3;
    memset(g_destroyed, 0, sizeof g_destroyed);
    sqlpool_pool *pool = open_pool(g_db, 1, 0, 0);
    sqlpool_conn *conn = checkout(pool);
    CHECK_OK(sqlpool_conn_create_function(conn, "which", 0, 0, constant, &one, destroy));
    CHECK_OK(sqlpool_conn_create_function(conn, "WHICH", 0, 0, constant, &two, destroy));
    CHECK(g_destroyed[1] == 1 && g_destroyed[2] == 0);
    CHECK_OK(sqlpool_checkin(conn));

    conn = checkout(pool);
    int64_t n = 0;
    CHECK_RC(query_int(conn, "SELECT which()", &n), SQLPOOL_ROW);
    CHECK(n == 2);
    /* Replacing it while a statement runs fails, and destroy runs at once. */
    sqlpool_stmt *stmt = prepare(conn, "SELECT which() FROM t");
    CHECK_RC(sqlpool_step(stmt), SQLPOOL_ROW);
    CHECK_RC(sqlpool_conn_create_function(conn, "which", 0, 0, constant, &three, destroy), SQLPOOL_SQLITE);
    CHECK(sqlpool_sqlite_errcode() == 5);
    CHECK(g_destroyed[3] == 1);
    CHECK_OK(sqlpool_finalize(stmt));
    CHECK_OK(sqlpool_conn_invalidate(conn));
    CHECK_OK(sqlpool_checkin(conn));
    CHECK(g_destroyed[1] == 1 && g_destroyed[2] == 1 && g_destroyed[3] == 1);
    CHECK_OK(sqlpool_close(pool));
}

static void test_invalid_registrations_fail_and_destroy_once(void)
{
    static int zero = 0;
    memset(g_destroyed, 0, sizeof g_destroyed);
    sqlpool_pool *pool = open_pool(g_db, 1, 0, 0);
    sqlpool_conn *conn = checkout(pool);
    CHECK_RC(sqlpool_conn_create_function(conn, "f", 128, 0, constant, &zero, destroy), SQLPOOL_INVALID_ARGUMENT);
    CHECK(strstr(sqlpool_errmsg(), "n_args = 128") != NULL);
    CHECK_RC(sqlpool_conn_create_function(conn, "f", -2, 0, constant, &zero, destroy), SQLPOOL_INVALID_ARGUMENT);
    CHECK_RC(sqlpool_conn_create_function(conn, "f", 0, 0, NULL, &zero, destroy), SQLPOOL_INVALID_ARGUMENT);
    CHECK_RC(sqlpool_conn_create_function(conn, NULL, 0, 0, constant, &zero, destroy), SQLPOOL_INVALID_ARGUMENT);
    CHECK_RC(sqlpool_conn_create_function(conn, "f\xff", 0, 0, constant, &zero, destroy), SQLPOOL_INVALID_ARGUMENT);
    CHECK(strstr(sqlpool_errmsg(), "UTF-8") != NULL);
    CHECK_RC(sqlpool_conn_create_function(conn, "f", 0, 0x1, constant, &zero, destroy), SQLPOOL_INVALID_ARGUMENT);
    CHECK_RC(sqlpool_conn_create_function(NULL, "f", 0, 0, constant, &zero, destroy), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_options_add_function(NULL, "f", 0, 0, constant, &zero, destroy), SQLPOOL_MISUSE);
    CHECK(g_destroyed[0] == 8);
    CHECK_OK(sqlpool_checkin(conn));
    CHECK_OK(sqlpool_close(pool));
}

/* ---------------------------------------------------------------- per pool */

static void test_pool_function_on_every_connection(void)
{
    static int one = 1;
    memset(g_destroyed, 0, sizeof g_destroyed);
    sqlpool_options *opts = sqlpool_options_new();
    CHECK_OK(sqlpool_options_set_pool_size(opts, 1));
    CHECK_OK(sqlpool_options_set_max_overflow(opts, 2));
    CHECK_OK(sqlpool_options_add_function(opts, "which", 0, SQLPOOL_DETERMINISTIC, constant, &one, destroy));
    sqlpool_pool *pool = NULL;
    CHECK_OK(sqlpool_open(g_db, opts, &pool));
    sqlpool_options_free(opts);
    sqlpool_conn *conns[3];
    for (int i = 0; i < 3; i++)
        conns[i] = checkout(pool);
    sqlpool_stats st;
    CHECK_OK(sqlpool_get_stats(pool, &st, sizeof st));
    CHECK(st.overflow == 2);
    for (int i = 0; i < 3; i++) {
        int64_t n = 0;
        CHECK_RC(query_int(conns[i], "SELECT which()", &n), SQLPOOL_ROW);
        CHECK(n == 1);
        CHECK_OK(sqlpool_checkin(conns[i]));
    }
    CHECK(g_destroyed[1] == 0);
    CHECK_OK(sqlpool_close(pool));
    CHECK(g_destroyed[1] == 1);
}

/* ---------------------------------------------------------------- misuse */

static sqlpool_value *g_kept_value;
static sqlpool_context *g_kept_ctx;
struct other_thread_result {
    sqlpool_value *value;
    sqlpool_context *ctx;
    int type, rc_result;
    const char *text;
};

static void *use_from_other_thread(void *arg)
{
    struct other_thread_result *r = arg;
    r->type = sqlpool_value_type(r->value);
    r->text = sqlpool_value_text(r->value);
    r->rc_result = sqlpool_result_int64(r->ctx, 5);
    return NULL;
}

static void keep_pointers(sqlpool_context *ctx, int argc, sqlpool_value **argv, void *user_data)
{
    (void)argc, (void)user_data;
    g_kept_value = argv[0];
    g_kept_ctx = ctx;
    struct other_thread_result r = {argv[0], ctx, -1, -1, "x"};
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, use_from_other_thread, &r) == 0);
    CHECK(pthread_join(thread, NULL) == 0);
    CHECK(r.type == SQLPOOL_NULL && r.text == NULL && r.rc_result == SQLPOOL_MISUSE);
    /* NULL and a pointer next to a real value are not values either. */
    CHECK(sqlpool_value_type(NULL) == SQLPOOL_NULL);
    CHECK(sqlpool_value_int64((const sqlpool_value *)((const char *)argv[0] + 1)) == 0);
    CHECK(strstr(sqlpool_errmsg(), "not one of the running call's arguments") != NULL);
    CHECK_RC(sqlpool_result_null(NULL), SQLPOOL_MISUSE);
    CHECK_OK(sqlpool_result_text(ctx, sqlpool_value_text(argv[0]), -1));
}

static void test_values_and_context_after_the_call_are_misuse(void)
{
    sqlpool_pool *pool = open_pool(g_db, 1, 0, 0);
    sqlpool_conn *conn = checkout(pool);
    CHECK_OK(sqlpool_conn_create_function(conn, "keep", 1, 0, keep_pointers, NULL, NULL));
    char got[64];
    query_text(conn, "SELECT keep('kept')", got, sizeof got);
    CHECK(strcmp(got, "kept") == 0);
    CHECK(g_kept_value != NULL && g_kept_ctx != NULL);
    CHECK(sqlpool_value_type(g_kept_value) == SQLPOOL_NULL);
    CHECK(strstr(sqlpool_errmsg(), "not one of the running call's arguments") != NULL);
    CHECK(sqlpool_value_int64(g_kept_value) == 0);
    CHECK(sqlpool_value_double(g_kept_value) == 0.0);
    CHECK(sqlpool_value_text(g_kept_value) == NULL);
    CHECK(sqlpool_value_blob(g_kept_value) == NULL);
    CHECK(sqlpool_value_bytes(g_kept_value) == 0);
    CHECK_RC(sqlpool_result_int64(g_kept_ctx, 1), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_result_error(g_kept_ctx, "late"), SQLPOOL_MISUSE);
    CHECK(strstr(sqlpool_errmsg(), "not the running call's") != NULL);
    CHECK_OK(sqlpool_checkin(conn));
    CHECK_OK(sqlpool_close(pool));
}

/* ---------------------------------------------------------------- nesting */

static sqlpool_pool *g_inner_pool;
static sqlpool_context *g_inner_ctx;

static void inner(sqlpool_context *ctx, int argc, sqlpool_value **argv, void *user_data)
{
    (void)argc, (void)user_data;
    g_inner_ctx = ctx;
    CHECK_OK(sqlpool_result_int64(ctx, 10 * sqlpool_value_int64(argv[0])));
}

/* outer(x) runs inner(x + 1) on another pool's connection from inside its
 * own call: its arguments are not the inner call's while that runs, and are
 * its own again after. */
static void outer(sqlpool_context *ctx, int argc, sqlpool_value **argv, void *user_data)
{
    (void)argc, (void)user_data;
    sqlpool_conn *conn = checkout(g_inner_pool);
    sqlpool_stmt *stmt = prepare(conn, "SELECT inner(?1)");
    CHECK_OK(sqlpool_bind_int64(stmt, 1, sqlpool_value_int64(argv[0]) + 1));
    CHECK_RC(sqlpool_step(stmt), SQLPOOL_ROW);
    int64_t from_inner = sqlpool_column_int64(stmt, 0);
    CHECK_OK(sqlpool_finalize(stmt));
    CHECK_OK(sqlpool_checkin(conn));
    CHECK_RC(sqlpool_result_int64(g_inner_ctx, 0), SQLPOOL_MISUSE);
    CHECK(sqlpool_value_type(argv[0]) == SQLPOOL_INTEGER);
    CHECK_OK(sqlpool_result_int64(ctx, from_inner + sqlpool_value_int64(argv[0])));
}

static void test_a_function_may_run_a_query_that_calls_a_function(void)
{
    char inner_db[4096];
    path_in_dir(inner_db, sizeof inner_db, "inner.db");
    g_inner_pool = open_pool(inner_db, 1, 0, 0);
    sqlpool_conn *conn = checkout(g_inner_pool);
    CHECK_OK(sqlpool_conn_create_function(conn, "inner", 1, 0, inner, NULL, NULL));
    CHECK_OK(sqlpool_checkin(conn));
    sqlpool_pool *pool = open_pool(g_db, 1, 0, 0);
    conn = checkout(pool);
    CHECK_OK(sqlpool_conn_create_function(conn, "outer", 1, 0, outer, NULL, NULL));
    int64_t n = 0;
    CHECK_RC(query_int(conn, "SELECT outer(4)", &n), SQLPOOL_ROW);
    CHECK(n == 54);
    CHECK_OK(sqlpool_checkin(conn));
    CHECK_OK(sqlpool_close(pool));
    CHECK_OK(sqlpool_close(g_inner_pool));
}

int main(void)
{
    make_test_dir("functions");
    path_in_dir(g_db, sizeof g_db, "f.db");
    sqlpool_pool *pool = open_pool(g_db, 1, 0, 0);
    sqlpool_conn *conn = checkout(pool);
    CHECK_OK(sqlpool_exec(conn, "CREATE TABLE t(id INTEGER PRIMARY KEY, name VARCHAR(20), data BLOB)"));
    CHECK_OK(sqlpool_checkin(conn));
    CHECK_OK(sqlpool_close(pool));

    test_changes_rowid_and_in_transaction();
    test_decltype();
    test_function_types_arity_null_and_error();
    test_connection_function_lasts_and_destroy_runs_once();
    test_invalid_registrations_fail_and_destroy_once();
    test_pool_function_on_every_connection();
    test_values_and_context_after_the_call_are_misuse();
    test_a_function_may_run_a_query_that_calls_a_function();
    remove_tree(test_dir());
    return check_summary();
}
