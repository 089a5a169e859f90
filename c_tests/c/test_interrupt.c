/*
 * test_interrupt.c: sqlpool_conn_interrupt from another thread while the
 * holder runs a long query, a query interrupted by sqlpool_close, and
 * sqlpool_checkout_timeout.
 */
#define CHECK_TEST_NAME "test_interrupt"
#include "check.h"

#include <string.h>
#include <time.h>

#define LONG_QUERY "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"


static void *interrupt_later(void *arg)
{
    sleep_ms(50);
    CHECK_OK(sqlpool_conn_interrupt(arg));
    return NULL;
}

typedef struct {
    sqlpool_pool *pool;
    volatile int started;
    int rc;
    int sqlite_code;
} runner;

static void *run_long_query(void *arg)
{
    runner *r = arg;
    sqlpool_conn *c = NULL;
    CHECK_OK(sqlpool_checkout(r->pool, &c));
    r->started = 1;
    r->rc = sqlpool_exec(c, LONG_QUERY);
    r->sqlite_code = sqlpool_sqlite_errcode();
    CHECK_OK(sqlpool_checkin(c));
    return NULL;
}

int main(void)
{
    char dir[] = "/tmp/sqlpool-interrupt-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/i.db", dir);
    sqlpool_options *o = sqlpool_options_new();
    CHECK_OK(sqlpool_options_set_create(o, true));
    CHECK_OK(sqlpool_options_set_pool_size(o, 1));
    CHECK_OK(sqlpool_options_set_max_overflow(o, 0));
    sqlpool_pool *p = NULL;
    CHECK_OK(sqlpool_open(path, o, &p));
    sqlpool_options_free(o);

    /* Another thread interrupts the holder's query; the connection goes on. */
    sqlpool_conn *c = NULL;
    CHECK_OK(sqlpool_checkout(p, &c));
    pthread_t t;
    CHECK(pthread_create(&t, NULL, interrupt_later, c) == 0);
    CHECK_RC(sqlpool_exec(c, LONG_QUERY), SQLPOOL_SQLITE);
    CHECK(sqlpool_sqlite_errcode() == 9);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK_OK(sqlpool_exec(c, "SELECT 1"));
    CHECK_OK(sqlpool_conn_interrupt(c)); /* nothing running: no effect */
    CHECK_OK(sqlpool_exec(c, "SELECT 1"));

    /* A per-call timeout shorter than the pool's. */
    sqlpool_conn *other = NULL;
    CHECK_RC(sqlpool_checkout_timeout(p, 20, &other), SQLPOOL_TIMEOUT);
    CHECK(strstr(sqlpool_errmsg(), "timeout_ms=20") != NULL);
    CHECK_RC(sqlpool_checkout_timeout(p, 0, &other), SQLPOOL_TIMEOUT);
    CHECK_RC(sqlpool_checkout_timeout(p, 10, NULL), SQLPOOL_INVALID_ARGUMENT);
    CHECK_OK(sqlpool_checkin(c));
    CHECK_RC(sqlpool_conn_interrupt(c), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_conn_interrupt(NULL), SQLPOOL_MISUSE);

    /* Closing the pool interrupts a query still running. */
    runner r = {p, 0, 0, 0};
    CHECK(pthread_create(&t, NULL, run_long_query, &r) == 0);
    while (!r.started) sleep_ms(1);
    sleep_ms(50);
    CHECK_OK(sqlpool_close(p));
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(r.rc == SQLPOOL_SQLITE);
    CHECK(r.sqlite_code == 9);

    remove(path);
    rmdir(dir);
    return check_summary();
}
