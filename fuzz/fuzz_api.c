/*
 * fuzz_api.c: a libFuzzer harness over the sqlpool C API. Each input is a
 * program: every byte pair picks an operation and an operand, run against a
 * small pool and database, misuse included (stale and NULL handles, calls
 * in the wrong order, invalid UTF-8, bad indexes and sizes). The library
 * must answer each with a code, never crash, leak or trip a sanitizer; after
 * each input every connection is checked in, and the pool's counts must add
 * up.
 *
 * Built and run by scripts/fuzz.sh (clang -fsanitize=fuzzer,address).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sqlpool.h"

#define MAX_CONNS 4
#define MAX_STMTS 8

static sqlpool_pool *g_pool;
static char g_path[256];

static const char *const SQL[] = {
    "SELECT a, b, c FROM t WHERE a > ?",
    "SELECT count(*) FROM t",
    "INSERT INTO t(a, b, c) VALUES (?, ?, ?)",
    "UPDATE t SET b = ? WHERE a = ?",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "SELECT * FROM no_such_table",
    "SELECT ?1, ?2, :name",
    "",
    "   -- only a comment",
    "SELECT \xff\xfe",
    "DELETE FROM t WHERE a % 7 = ?",
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 50) SELECT x FROM c",
};
#define N_SQL (sizeof SQL / sizeof SQL[0])

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_api: invariant broken: %s (%s)\n", what, sqlpool_errmsg());
    abort();
}

static void setup(void)
{
    char dir[] = "/tmp/sqlpool-fuzz-XXXXXX";
    if (!mkdtemp(dir)) fail("mkdtemp");
    snprintf(g_path, sizeof g_path, "%s/fuzz.db", dir);
    sqlpool_options *o = sqlpool_options_new();
    sqlpool_options_set_create(o, true);
    sqlpool_options_set_pool_size(o, 2);
    sqlpool_options_set_max_overflow(o, 1);
    sqlpool_options_set_timeout_ms(o, 0);
    /* Connections here block each other's writes on purpose: wait 1 ms, not
     * 5 s, for a lock (SQLITE_BUSY is one of the answers being fuzzed). */
    sqlpool_options_set_busy_timeout_ms(o, 1);
    /* No fsync: the writes here are for coverage, not durability. */
    sqlpool_options_set_init_sql(o, "PRAGMA synchronous = OFF; PRAGMA journal_mode = MEMORY");
    if (sqlpool_open(g_path, o, &g_pool) != SQLPOOL_OK) fail("open");
    sqlpool_options_free(o);
    sqlpool_conn *c;
    if (sqlpool_checkout(g_pool, &c) != SQLPOOL_OK) fail("checkout");
    if (sqlpool_exec(c, "CREATE TABLE IF NOT EXISTS t(a INTEGER, b TEXT, c BLOB)") != SQLPOOL_OK) fail("schema");
    sqlpool_checkin(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_pool) setup();
    sqlpool_conn *conns[MAX_CONNS] = {0};
    sqlpool_stmt *stmts[MAX_STMTS] = {0};
    /* Stale copies: handles already released, kept to be misused. */
    sqlpool_conn *stale_conn = NULL;
    sqlpool_stmt *stale_stmt = NULL;
    char text[64];
    for (size_t i = 0; i + 1 < size; i += 2) {
        uint8_t op = data[i], arg = data[i + 1];
        sqlpool_conn **conn = &conns[arg % MAX_CONNS];
        sqlpool_stmt **stmt = &stmts[arg % MAX_STMTS];
        int idx = (int)(arg % 5) - 1; /* -1 .. 3 */
        switch (op % 24) {
        case 0:
            if (!*conn) {
                int rc = sqlpool_checkout(g_pool, conn);
                if (rc != SQLPOOL_OK && rc != SQLPOOL_TIMEOUT) fail("checkout code");
                if (rc != SQLPOOL_OK) *conn = NULL;
            }
            break;
        case 1:
            if (*conn) {
                if (sqlpool_checkin(*conn) != SQLPOOL_OK) fail("checkin");
                stale_conn = *conn;
                *conn = NULL;
                for (int s = 0; s < MAX_STMTS; s++) stmts[s] = NULL; /* may be stale now: kept below */
            }
            break;
        case 2: (void)sqlpool_checkin(stale_conn); break;
        case 3: (void)sqlpool_exec(*conn ? *conn : stale_conn, SQL[arg % N_SQL]); break;
        case 4:
            if (!*stmt) {
                sqlpool_stmt *s = NULL;
                if (sqlpool_prepare(*conn, SQL[arg % N_SQL], &s) == SQLPOOL_OK) *stmt = s;
            }
            break;
        case 5: (void)sqlpool_bind_int64(*stmt, idx, (int64_t)arg * 1000003); break;
        case 6: (void)sqlpool_bind_double(*stmt, idx, arg / 3.0); break;
        case 7:
            memset(text, 'a' + arg % 26, sizeof text - 1);
            text[sizeof text - 1] = '\0';
            (void)sqlpool_bind_text(*stmt, idx, text, (int64_t)(arg % 66) - 2); /* -2 .. 63 */
            break;
        case 8: (void)sqlpool_bind_blob(*stmt, idx, data, (int64_t)(arg % 9) - 1); break;
        case 9: (void)sqlpool_bind_null(*stmt, idx); break;
        case 10: {
            int rc = sqlpool_step(*stmt);
            if (rc == SQLPOOL_ROW) {
                int n = sqlpool_column_count(*stmt);
                for (int col = -1; col <= n; col++) {
                    (void)sqlpool_column_type(*stmt, col);
                    const char *t = sqlpool_column_text(*stmt, col);
                    int64_t len = sqlpool_column_bytes(*stmt, col);
                    if (t && (int64_t)strlen(t) > len) fail("text longer than its bytes");
                    (void)sqlpool_column_int64(*stmt, col);
                    (void)sqlpool_column_double(*stmt, col);
                    (void)sqlpool_column_blob(*stmt, col);
                    (void)sqlpool_column_name(*stmt, col);
                }
            }
            break;
        }
        case 11: (void)sqlpool_reset(*stmt); break;
        case 12:
            if (*stmt) {
                (void)sqlpool_finalize(*stmt);
                stale_stmt = *stmt;
                *stmt = NULL;
            }
            break;
        case 13: (void)sqlpool_step(stale_stmt); break;
        case 14: (void)sqlpool_conn_invalidate(*conn); break;
        case 15:
            /* Rare: every dispose reopens connections, the slowest thing here. */
            if (arg == 0) (void)sqlpool_dispose(g_pool);
            break;
        case 16: {
            /* A shorter struct is filled as far as it reaches (the ABI rule):
               checked_out is only read when the size covers it. */
            sqlpool_stats st;
            memset(&st, 0, sizeof st);
            size_t sizes[] = {0, 8, sizeof st - 1, sizeof st};
            size_t size = sizes[arg % 4];
            int rc = sqlpool_get_stats(g_pool, &st, size);
            if (rc == SQLPOOL_OK && size == 0) fail("out_size 0 accepted");
            if (rc == SQLPOOL_OK && size >= offsetof(sqlpool_stats, checked_out) + sizeof st.checked_out &&
                st.checked_out > 3)
                fail("more than pool_size + max_overflow out");
            break;
        }
        case 17: {
            char buf[32];
            size_t needed;
            (void)sqlpool_status(g_pool, (arg & 1) ? buf : NULL, (arg & 2) ? sizeof buf : 0, &needed);
            break;
        }
        case 18: (void)sqlpool_exec((sqlpool_conn *)(uintptr_t)(arg * 0x100000001ULL), "SELECT 1"); break;
        case 19: (void)sqlpool_step((sqlpool_stmt *)(uintptr_t)(arg + 1)); break;
        case 20: (void)sqlpool_conn_set_tag(*conn, (arg & 1) ? "tag" : "\xc3\x28"); break;
        case 21: (void)sqlpool_bind_parameter_index(*stmt, (arg & 1) ? ":name" : NULL); break;
        case 22: (void)sqlpool_conn_interrupt(*conn); break;
        case 23: {
            sqlpool_options *o = sqlpool_options_new();
            (void)sqlpool_options_set_pool_size(o, arg % 3);
            (void)sqlpool_options_set_max_overflow(o, (int32_t)(arg % 4) - 2);
            (void)sqlpool_options_set_init_sql(o, (arg & 1) ? NULL : "\xff");
            sqlpool_options_free(o);
            (void)sqlpool_options_set_lifo(o, true); /* after free: misuse */
            break;
        }
        }
    }
    for (int c = 0; c < MAX_CONNS; c++)
        if (conns[c] && sqlpool_checkin(conns[c]) != SQLPOOL_OK) fail("final checkin");
    sqlpool_stats st;
    if (sqlpool_get_stats(g_pool, &st, sizeof st) != SQLPOOL_OK) fail("stats");
    if (st.checked_out != 0) fail("a connection was not returned");
    if (st.idle + st.checked_out != st.connections_created - st.connections_closed) fail("connections lost");
    return 0;
}
