/*
 * fuzz_api.c: a libFuzzer harness over the sqlpool C API. Each input is a
 * program: every byte pair picks an operation and an operand, run against a
 * small pool and database, misuse included (stale and NULL handles, calls
 * in the wrong order, invalid UTF-8, bad indexes and sizes). The library
 * must answer each with a code, never crash, leak or trip a sanitizer; after
 * each input every connection is checked in, and the pool's counts must add
 * up. The batch calls (packed parameters, from the input's own bytes too;
 * sqlpool_query, sqlpool_fetch, sqlpool_pool_query, sqlpool_pool_query_call)
 * must write rows that parse back to exactly `*out_used` bytes; a user SQL
 * function answers with a result chosen by the input, and its arguments and
 * context are misused after the call.
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
    "SELECT fz(a), fz(b, c), fz() FROM t LIMIT 3",
    "SELECT fz(?1), ?2, typeof(?3) FROM t LIMIT 4",
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
    /* No fsync: the writes here are for coverage, not durability. A
     * rollback journal on disk and a lingering read snapshot, so that reads
     * leave it open across checkouts for the writes, BEGINs and checkins
     * that follow. */
    sqlpool_options_set_init_sql(o, "PRAGMA synchronous = OFF; PRAGMA journal_mode = TRUNCATE");
    sqlpool_options_set_read_snapshot(o, true);
    sqlpool_options_set_snapshot_linger_ms(o, 5);
    if (sqlpool_open(g_path, o, &g_pool) != SQLPOOL_OK) fail("open");
    sqlpool_options_free(o);
    sqlpool_conn *c;
    if (sqlpool_checkout(g_pool, &c) != SQLPOOL_OK) fail("checkout");
    if (sqlpool_exec(c, "CREATE TABLE IF NOT EXISTS t(a INTEGER, b TEXT, c BLOB)") != SQLPOOL_OK) fail("schema");
    sqlpool_checkin(c);
}

/* The batch row format (sqlpool_fetch): rows of a uint32 size, a uint32
   column count n, n type bytes, n cells, then the TEXT/BLOB bytes. The rows
   written must parse back to exactly `used` bytes. */
static void check_rows(const uint8_t *buf, size_t used, uint32_t rows)
{
    size_t at = 0;
    for (uint32_t r = 0; r < rows; r++) {
        uint32_t row_size, n;
        if (at + 8 > used) fail("a row header past out_used");
        memcpy(&row_size, buf + at, 4);
        memcpy(&n, buf + at + 4, 4);
        if ((size_t)row_size < 8 + (size_t)n || at + row_size > used) fail("a row size past out_used");
        size_t end = at + row_size, cell = at + 8 + n, bytes = 0;
        for (uint32_t c = 0; c < n; c++) {
            uint32_t len;
            switch (buf[at + 8 + c]) {
            case SQLPOOL_INTEGER:
            case SQLPOOL_FLOAT: cell += 8; break;
            case SQLPOOL_TEXT:
            case SQLPOOL_BLOB:
                if (cell + 4 > end) fail("a length cell past its row");
                memcpy(&len, buf + cell, 4);
                cell += 4;
                bytes += len;
                break;
            case SQLPOOL_NULL: break;
            default: fail("a type byte out of range");
            }
            if (cell > end) fail("a cell past its row");
        }
        if (cell + bytes != end) fail("a row size that does not match its cells");
        at = end;
    }
    if (at != used) fail("rows that do not add up to out_used");
}

/* What a batch call wrote: rows that parse, or, when not one row fitted,
   the size that row needs. */
static void check_batch(int rc, const uint8_t *buf, size_t buf_size, uint32_t rows, size_t used)
{
    if (rc != SQLPOOL_ROW && rc != SQLPOOL_DONE) return;
    if (used > buf_size && rows > 0) fail("out_used past the buffer");
    if (rc == SQLPOOL_ROW && rows == 0) {
        if (used <= buf_size) fail("no row written, yet it would have fitted");
        return;
    }
    check_rows(buf, used, rows);
}

/* n packed values (sqlpool_bind_packed's format) of kinds picked by `bits`. */
static size_t pack_values(uint8_t *out, int n, uint8_t bits)
{
    size_t at = 0;
    for (int k = 0; k < n; k++) {
        uint8_t kind = (uint8_t)(1 + (bits + 3 * k) % 5);
        out[at++] = kind;
        int64_t i = (int64_t)bits * 7919 - 1000;
        double d = bits / 7.0;
        uint32_t len = bits % 5;
        switch (kind) {
        case SQLPOOL_INTEGER: memcpy(out + at, &i, 8); at += 8; break;
        case SQLPOOL_FLOAT: memcpy(out + at, &d, 8); at += 8; break;
        case SQLPOOL_TEXT:
        case SQLPOOL_BLOB:
            memcpy(out + at, &len, 4);
            at += 4;
            memset(out + at, kind == SQLPOOL_TEXT ? 'x' : 0xff, len);
            at += len;
            break;
        default: break;
        }
    }
    return at;
}

/* A user function whose answer the input picks (user_data). Its argv and
   ctx are kept to be misused after the call. */
static const sqlpool_value *g_old_arg;
static sqlpool_context *g_old_ctx;
static void fz(sqlpool_context *ctx, int argc, sqlpool_value **argv, void *user_data)
{
    uintptr_t how = (uintptr_t)user_data;
    const sqlpool_value *a = argc > 0 ? argv[0] : NULL;
    if (a) {
        int type = sqlpool_value_type(a);
        if (type < SQLPOOL_INTEGER || type > SQLPOOL_NULL) fail("an argument type out of range");
        const char *t = sqlpool_value_text(a);
        if (t && (int64_t)strlen(t) != sqlpool_value_bytes(a)) fail("argument text and bytes disagree");
        g_old_arg = a;
    }
    g_old_ctx = ctx;
    switch (how % 8) {
    case 0: (void)sqlpool_result_int64(ctx, a ? sqlpool_value_int64(a) : -1); break;
    case 1: (void)sqlpool_result_double(ctx, a ? sqlpool_value_double(a) : 0.5); break;
    case 2: (void)sqlpool_result_text(ctx, a ? sqlpool_value_text(a) : "t", -1); break; /* NULL text: refused */
    case 3: (void)sqlpool_result_blob(ctx, a ? sqlpool_value_blob(a) : NULL, a ? sqlpool_value_bytes(a) : 3); break;
    case 4: (void)sqlpool_result_error(ctx, (how & 8) ? "fz failed \xff" : NULL); break;
    case 5: (void)sqlpool_result_text(ctx, "\xff\xfe", (int64_t)(how % 4) - 2); break;
    case 6: (void)sqlpool_result_null(ctx); (void)sqlpool_value_type(NULL); break;
    default: break; /* no result: NULL */
    }
}

static int g_destroyed;
static void fz_destroy(void *user_data)
{
    (void)user_data;
    g_destroyed++;
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
    static uint8_t buf[4096];
    uint8_t packed[64];
    static const size_t BUF_SIZES[] = {0, 8, 40, 300, sizeof buf};
    for (size_t i = 0; i + 1 < size; i += 2) {
        uint8_t op = data[i], arg = data[i + 1];
        sqlpool_conn **conn = &conns[arg % MAX_CONNS];
        sqlpool_stmt **stmt = &stmts[arg % MAX_STMTS];
        int idx = (int)(arg % 5) - 1; /* -1 .. 3 */
        /* The input's own next bytes, as packed parameters. */
        const uint8_t *raw = data + i + 2;
        size_t raw_len = (size_t)arg % 24 < size - i - 2 ? (size_t)arg % 24 : size - i - 2;
        size_t buf_size = BUF_SIZES[arg % 5];
        uint32_t max_rows = arg % 3, rows = 0;
        size_t used = 0;
        switch (op % 36) {
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
            (void)sqlpool_options_set_snapshot_linger_ms(o, (uint32_t)(arg * 7919u));
            sqlpool_options_free(o);
            (void)sqlpool_options_set_lifo(o, true); /* after free: misuse */
            break;
        }
        case 24: (void)sqlpool_bind_packed(*stmt, raw_len ? raw : NULL, raw_len); break;
        case 25: (void)sqlpool_bind_packed(*stmt, packed, pack_values(packed, arg % 4, arg)); break;
        case 26: {
            int rc = sqlpool_fetch(*stmt, buf_size ? buf : NULL, buf_size, max_rows, &rows, &used);
            check_batch(rc, buf, buf_size, rows, used);
            break;
        }
        case 27: {
            sqlpool_stmt *more = NULL;
            size_t plen = (arg & 16) ? raw_len : pack_values(packed, 1 + arg % 3, arg);
            const void *params = (arg & 16) ? (const void *)raw : (const void *)packed;
            const char *sql = SQL[arg % N_SQL];
            int64_t sql_len = (arg & 32) ? (int64_t)strlen(sql) - (arg % 3) : -1;
            int rc = sqlpool_query(*conn, sql, sql_len, plen ? params : NULL, plen, buf_size ? buf : NULL, buf_size,
                                   max_rows, &more, &rows, &used);
            check_batch(rc, buf, buf_size, rows, used);
            if (rc == SQLPOOL_ROW && !more) fail("sqlpool_query has more rows but no statement");
            if (rc != SQLPOOL_ROW && more) fail("sqlpool_query left a statement behind");
            if (more) {
                if (*stmt) (void)sqlpool_finalize(more);
                else *stmt = more;
            }
            break;
        }
        case 28: {
            size_t plen = (arg & 16) ? raw_len : pack_values(packed, 1 + arg % 3, arg);
            const void *params = (arg & 16) ? (const void *)raw : (const void *)packed;
            int rc = sqlpool_pool_query(g_pool, SQL[arg % N_SQL], -1, plen ? params : NULL, plen,
                                        buf_size ? buf : NULL, buf_size, max_rows, &rows, &used);
            check_batch(rc, buf, buf_size, rows, used);
            break;
        }
        case 29: {
            sqlpool_query_call call;
            memset(&call, 0, sizeof call);
            call.pool = (arg & 64) ? g_pool : NULL;
            call.sql = SQL[arg % N_SQL];
            call.sql_len = -1;
            call.params_len = pack_values(packed, 1 + arg % 3, arg);
            call.params = (const char *)packed;
            call.buf = buf_size ? buf : NULL;
            call.buf_size = buf_size;
            call.max_rows = max_rows;
            int rc = sqlpool_pool_query_call((arg & 128) ? &call : NULL);
            check_batch(rc, buf, buf_size, call.out_rows, call.out_used);
            break;
        }
        case 30: {
            sqlpool_value v[3];
            memset(v, 0, sizeof v);
            for (int k = 0; k < 3; k++) {
                v[k].kind = (int)((arg + k) % 7); /* 0 and 6: no such kind */
                v[k].int_value = arg;
                v[k].float_value = arg / 2.0;
                v[k].bytes = (arg & 8) ? (const void *)"\xc3\x28" : (arg & 4) ? (const void *)"ok" : NULL;
                v[k].len = (int64_t)(arg % 4) - 1;
            }
            (void)sqlpool_bind_values(*stmt, v, (int)(arg % 5) - 1);
            break;
        }
        case 31: {
            int64_t n;
            bool open;
            (void)sqlpool_conn_changes(*conn, (arg & 1) ? &n : NULL);
            (void)sqlpool_conn_last_insert_rowid(*conn, (arg & 2) ? &n : NULL);
            (void)sqlpool_conn_in_transaction(*conn, (arg & 4) ? &open : NULL);
            const char *decl = sqlpool_column_decltype(*stmt, idx);
            if (decl && strlen(decl) > 1000) fail("a declared type longer than any here");
            break;
        }
        case 32:
            (void)sqlpool_conn_create_function(*conn, (arg & 64) ? "fz" : (arg & 32) ? "\xff" : NULL,
                                               (int)(arg % 4) - 1, (arg & 16) ? SQLPOOL_DETERMINISTIC : (arg & 8) ? 0x40 : 0,
                                               (arg & 128) ? NULL : fz, (void *)(uintptr_t)arg,
                                               (arg & 4) ? fz_destroy : NULL);
            break;
        case 33:
            /* After the call: its argument and context are no longer valid. */
            (void)sqlpool_value_int64(g_old_arg);
            (void)sqlpool_value_text(g_old_arg);
            (void)sqlpool_result_int64(g_old_ctx, arg);
            (void)sqlpool_result_error(g_old_ctx, "late");
            break;
        case 34: {
            sqlpool_options *o = sqlpool_options_new();
            static const uint64_t THRESHOLDS[] = {0, 1, 3600000000ULL, 3600000001ULL, UINT64_MAX};
            (void)sqlpool_options_set_fairness(o, (int)(arg % 5) - 1, THRESHOLDS[arg % 5]);
            (void)sqlpool_options_set_fair(o, arg & 1);
            (void)sqlpool_options_add_function(o, (arg & 2) ? "fz" : NULL, (int)(arg % 130) - 1, 0, fz, NULL,
                                               (arg & 4) ? fz_destroy : NULL);
            sqlpool_options_free(o);
            break;
        }
        case 35: (void)sqlpool_stmt_readonly(*stmt); (void)sqlpool_bind_parameter_name(*stmt, idx); break;
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
