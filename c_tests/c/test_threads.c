/*
 * test_threads.c: 8 threads x 2000 checkout/query/checkin on a pool of 3
 * plus 2 overflow. Never more than 5 connections held or open at once, every
 * checkout is counted, and the books balance at the end.
 */
#define _POSIX_C_SOURCE 200809L
#define CHECK_TEST_NAME "test_threads"
#include "check.h"

#include <dirent.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#define THREADS 8
#define ITERATIONS 2000
#define POOL_SIZE 3
#define MAX_OVERFLOW 2
#define CAPACITY (POOL_SIZE + MAX_OVERFLOW)

static char g_db[4096];
static sqlpool_pool *g_pool;

/* Connections held by the threads right now, and the most ever held. */
static pthread_mutex_t g_held_mutex = PTHREAD_MUTEX_INITIALIZER;
static int g_held;
static int g_max_held;
static int g_max_open; /* idle + checked_out seen in stats snapshots */

static void held_add(int delta)
{
    pthread_mutex_lock(&g_held_mutex);
    g_held += delta;
    if (g_held > g_max_held)
        g_max_held = g_held;
    pthread_mutex_unlock(&g_held_mutex);
}

static void note_open(int open_now)
{
    pthread_mutex_lock(&g_held_mutex);
    if (open_now > g_max_open)
        g_max_open = open_now;
    pthread_mutex_unlock(&g_held_mutex);
}

static void *worker(void *arg)
{
    const int64_t id = (int64_t)(intptr_t)arg;
    for (int i = 0; i < ITERATIONS; i++) {
        sqlpool_conn *conn = NULL;
        CHECK_OK(sqlpool_checkout(g_pool, &conn));
        CHECK(conn != NULL);
        held_add(1);

        /* A query whose answer depends on this thread and iteration, so a
         * connection shared with another holder would show. */
        sqlpool_stmt *stmt = NULL;
        CHECK_OK(sqlpool_prepare(conn, "SELECT ?1 * 100000 + ?2, (SELECT count(*) FROM t)", &stmt));
        CHECK_OK(sqlpool_bind_int64(stmt, 1, id));
        CHECK_OK(sqlpool_bind_int64(stmt, 2, i));
        CHECK_RC(sqlpool_step(stmt), SQLPOOL_ROW);
        CHECK(sqlpool_column_int64(stmt, 0) == id * 100000 + i);
        CHECK(sqlpool_column_int64(stmt, 1) == 3);
        CHECK_RC(sqlpool_step(stmt), SQLPOOL_DONE);
        CHECK_OK(sqlpool_finalize(stmt));

        if (i % 100 == 0) {
            sqlpool_stats st;
            CHECK_OK(sqlpool_get_stats(g_pool, &st, sizeof st));
            CHECK(st.checked_out >= 1); /* this thread holds one */
            CHECK(st.checked_out <= CAPACITY);
            CHECK(st.idle + st.checked_out <= CAPACITY);
            note_open((int)(st.idle + st.checked_out));
        }

        held_add(-1);
        CHECK_OK(sqlpool_checkin(conn));
    }
    return NULL;
}

int main(void)
{
    make_test_dir("test_threads");
    path_in_dir(g_db, sizeof g_db, "threads.db");

    /* The table is made through a pool of its own, so that the pool under
     * test counts the threads' checkouts only. */
    sqlpool_options *opts = sqlpool_options_new();
    CHECK(opts != NULL);
    CHECK_OK(sqlpool_options_set_create(opts, true));
    sqlpool_pool *setup_pool = NULL;
    CHECK_OK(sqlpool_open(g_db, opts, &setup_pool));
    sqlpool_conn *setup = NULL;
    CHECK_OK(sqlpool_checkout(setup_pool, &setup));
    CHECK_OK(sqlpool_exec(setup, "CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3)"));
    CHECK_OK(sqlpool_checkin(setup));
    CHECK_OK(sqlpool_close(setup_pool));

    CHECK_OK(sqlpool_options_set_pool_size(opts, POOL_SIZE));
    CHECK_OK(sqlpool_options_set_max_overflow(opts, MAX_OVERFLOW));
    CHECK_OK(sqlpool_options_set_timeout_ms(opts, 60000));
    CHECK_OK(sqlpool_open(g_db, opts, &g_pool));
    sqlpool_options_free(opts);

    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++)
        CHECK(pthread_create(&threads[t], NULL, worker, (void *)(intptr_t)(t + 1)) == 0);
    for (int t = 0; t < THREADS; t++)
        CHECK(pthread_join(threads[t], NULL) == 0);

    sqlpool_stats st;
    CHECK_OK(sqlpool_get_stats(g_pool, &st, sizeof st));
    CHECK(g_held == 0);
    CHECK(g_max_held >= 1);
    CHECK(g_max_held <= CAPACITY);
    CHECK(g_max_open <= CAPACITY);
    CHECK(st.pool_size == POOL_SIZE);
    CHECK(st.max_overflow == MAX_OVERFLOW);
    CHECK(st.checked_out == 0);
    CHECK(st.waiting == 0);
    CHECK((uint64_t)st.idle + st.checked_out == st.connections_created - st.connections_closed);
    CHECK(st.idle <= CAPACITY);
    CHECK(st.connections_created - st.connections_closed <= CAPACITY);
    CHECK((int64_t)st.overflow == (int64_t)st.idle - POOL_SIZE);
    CHECK(st.checkouts == (uint64_t)THREADS * ITERATIONS);
    CHECK(st.timeouts == 0);
    CHECK(st.statement_cache_hits + st.statement_cache_misses >= (uint64_t)THREADS * ITERATIONS);

    CHECK_OK(sqlpool_close(g_pool));
    remove_tree(test_dir());
    return check_summary();
}
