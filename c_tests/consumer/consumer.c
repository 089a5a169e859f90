/*
 * A minimal sqlpool consumer: what a C program built against an installed
 * prefix does. scripts/test_native.sh builds it with
 * `pkg-config --cflags --libs sqlpool`, and c_tests/CMakeLists.txt links it
 * statically (sqlpool::sqlpool_static). Exits 0 and prints "consumer: ok".
 */
#define _POSIX_C_SOURCE 200809L

#include <sqlpool.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail(const char *what, int rc) {
    fprintf(stderr, "consumer: %s failed: %s (%d): %s\n", what, sqlpool_errstr(rc), rc,
            sqlpool_errmsg());
    return 1;
}

#define CHECK(what, call)                                                                          \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != SQLPOOL_OK) return fail(what, rc_);                                             \
    } while (0)

static int run(const char *path) {
    char expected[64];
    snprintf(expected, sizeof expected, "%d.%d.%d", SQLPOOL_VERSION_MAJOR, SQLPOOL_VERSION_MINOR,
             SQLPOOL_VERSION_PATCH);
    if (strcmp(expected, sqlpool_version()) != 0) {
        fprintf(stderr, "consumer: header %s but library %s\n", expected, sqlpool_version());
        return 1;
    }

    sqlpool_options *opts = sqlpool_options_new();
    if (opts == NULL) return fail("sqlpool_options_new", SQLPOOL_INTERNAL);
    CHECK("set_create", sqlpool_options_set_create(opts, true));
    CHECK("set_pool_size", sqlpool_options_set_pool_size(opts, 2));
    sqlpool_pool *pool = NULL;
    int rc = sqlpool_open(path, opts, &pool);
    sqlpool_options_free(opts);
    if (rc != SQLPOOL_OK) return fail("sqlpool_open", rc);

    sqlpool_conn *conn = NULL;
    CHECK("checkout", sqlpool_checkout(pool, &conn));
    CHECK("exec", sqlpool_exec(conn, "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT)"));

    sqlpool_stmt *stmt = NULL;
    CHECK("prepare insert", sqlpool_prepare(conn, "INSERT INTO t(id, name) VALUES (?, ?)", &stmt));
    for (int i = 1; i <= 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "row%d", i);
        CHECK("bind_int64", sqlpool_bind_int64(stmt, 1, i));
        CHECK("bind_text", sqlpool_bind_text(stmt, 2, name, -1));
        rc = sqlpool_step(stmt);
        if (rc != SQLPOOL_DONE) return fail("step insert", rc);
        CHECK("reset", sqlpool_reset(stmt));
    }
    CHECK("finalize insert", sqlpool_finalize(stmt));

    CHECK("prepare select", sqlpool_prepare(conn, "SELECT count(*), group_concat(name, ',') FROM t", &stmt));
    rc = sqlpool_step(stmt);
    if (rc != SQLPOOL_ROW) return fail("step select", rc);
    int64_t count = sqlpool_column_int64(stmt, 0);
    const char *names = sqlpool_column_text(stmt, 1);
    if (count != 3 || names == NULL || strcmp(names, "row1,row2,row3") != 0) {
        fprintf(stderr, "consumer: unexpected result %lld '%s'\n", (long long)count,
                names ? names : "(null)");
        return 1;
    }
    CHECK("finalize select", sqlpool_finalize(stmt));
    CHECK("checkin", sqlpool_checkin(conn));

    sqlpool_stats stats;
    CHECK("get_stats", sqlpool_get_stats(pool, &stats, sizeof stats));
    if (stats.checked_out != 0 || stats.checkouts != 1) {
        fprintf(stderr, "consumer: unexpected stats checked_out=%u checkouts=%llu\n",
                stats.checked_out, (unsigned long long)stats.checkouts);
        return 1;
    }
    CHECK("close", sqlpool_close(pool));
    printf("consumer: ok (sqlpool %s)\n", sqlpool_version());
    return 0;
}

int main(void) {
    const char *tmp = getenv("TMPDIR");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/sqlpool-consumer-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("consumer: mkdtemp");
        return 1;
    }
    char path[600];
    snprintf(path, sizeof path, "%s/consumer.db", dir);
    int status = run(path);
    unlink(path);
    rmdir(dir);
    return status;
}
