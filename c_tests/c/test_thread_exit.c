/*
 * test_thread_exit.c: calls made while a thread exits (a pthread key's
 * destructor runs after the thread's Rust thread-locals are gone) return
 * their codes; the process never aborts. The message of a failing call may
 * be lost there, the call's result never.
 */
#define CHECK_TEST_NAME "test_thread_exit"
#include "check.h"

static pthread_key_t key;
static sqlpool_pool *open_one;
static sqlpool_pool *closed_one;
static sqlpool_conn *stale_conn;
static volatile int destructor_calls;

static void calls_at_thread_exit(void *value)
{
    (void)value;
    /* Failing calls: their codes come back. */
    sqlpool_conn *conn = CONN_SENTINEL;
    CHECK_RC(sqlpool_checkout(closed_one, &conn), SQLPOOL_CLOSED);
    CHECK(conn == CONN_SENTINEL);
    sqlpool_stats stats;
    CHECK_RC(sqlpool_get_stats(closed_one, &stats, sizeof stats), SQLPOOL_CLOSED);
    CHECK_RC(sqlpool_checkin(stale_conn), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_exec(stale_conn, "SELECT 1"), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_get_stats(open_one, NULL, sizeof stats), SQLPOOL_INVALID_ARGUMENT);
    CHECK(sqlpool_errmsg() != NULL);
    (void)sqlpool_sqlite_errcode();

    /* A checkout that has to wait (and parks this exiting thread). */
    sqlpool_conn *held[4];
    for (int i = 0; i < 4; i++)
        held[i] = checkout(open_one);
    CHECK_RC(sqlpool_checkout_timeout(open_one, 5, &conn), SQLPOOL_TIMEOUT);
    for (int i = 0; i < 4; i++)
        CHECK_OK(sqlpool_checkin(held[i]));

    /* Succeeding calls still work. */
    CHECK_OK(sqlpool_get_stats(open_one, &stats, sizeof stats));
    CHECK(stats.pool_size == 2);
    for (int i = 0; i < 40; i++) {
        sqlpool_conn *c = NULL;
        CHECK_OK(sqlpool_checkout(open_one, &c));
        CHECK_OK(sqlpool_exec(c, "SELECT 1"));
        sqlpool_stmt *stmt = NULL;
        CHECK_OK(sqlpool_prepare(c, "SELECT 41 + 1", &stmt));
        CHECK_RC(sqlpool_step(stmt), SQLPOOL_ROW);
        CHECK(sqlpool_column_int64(stmt, 0) == 42);
        CHECK_OK(sqlpool_finalize(stmt));
        CHECK_OK(sqlpool_checkin(c));
    }
    destructor_calls++;
}

static void *thread_main(void *arg)
{
    (void)arg;
    /* Use the library first, so that its thread-locals exist and are
     * destroyed before the key's destructor runs. */
    sqlpool_conn *conn = NULL;
    CHECK_RC(sqlpool_checkout(closed_one, &conn), SQLPOOL_CLOSED);
    for (int i = 0; i < 40; i++) {
        conn = checkout(open_one);
        sqlpool_stmt *stmt = NULL;
        CHECK_OK(sqlpool_prepare(conn, "SELECT 1", &stmt));
        CHECK_OK(sqlpool_finalize(stmt));
        CHECK_OK(sqlpool_checkin(conn));
    }
    CHECK(pthread_setspecific(key, (void *)1) == 0);
    return NULL;
}

int main(void)
{
    make_test_dir("thread_exit");
    char path[4200];
    path_in_dir(path, sizeof path, "exit.db");
    open_one = open_pool(path, 2, 2, 0);
    closed_one = open_pool(path, 1, 0, 0);
    stale_conn = checkout(open_one);
    CHECK_OK(sqlpool_checkin(stale_conn));
    CHECK_OK(sqlpool_close(closed_one));
    CHECK(pthread_key_create(&key, calls_at_thread_exit) == 0);

    for (int round = 0; round < 3; round++) {
        pthread_t t;
        CHECK(pthread_create(&t, NULL, thread_main, NULL) == 0);
        CHECK(pthread_join(t, NULL) == 0);
    }
    CHECK(destructor_calls == 3);

    CHECK_OK(sqlpool_close(open_one));
    remove_tree(test_dir());
    return check_summary();
}
