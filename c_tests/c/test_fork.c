/*
 * test_fork.c: fork() from a C program while other threads open and close
 * pools and options, check out, and run a long query. fork() returns while
 * the query still runs, and every child (killed by alarm() if it hangs) opens
 * a pool, checks out and queries.
 */
#define CHECK_TEST_NAME "test_fork"
#include "check.h"

#include <signal.h>
#include <sys/wait.h>

#define FORKS 20
#define LONG_QUERY "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c, t"

static char g_db[4096];
static volatile int g_stop = 0;
static volatile int g_query_started = 0;
static volatile int g_query_returned = 0;

/* Opens the pool with fresh options, checks out, queries, closes. */
static void *churn(void *arg)
{
    (void)arg;
    while (!g_stop) {
        sqlpool_pool *pool = open_pool(g_db, 2, 0, 0);
        sqlpool_conn *c = checkout(pool);
        CHECK_OK(sqlpool_exec(c, "SELECT count(*) FROM t"));
        CHECK_OK(sqlpool_checkin(c));
        CHECK_OK(sqlpool_close(pool));
        sqlpool_options_free(sqlpool_options_new());
    }
    return NULL;
}

static void *long_query(void *arg)
{
    sqlpool_conn *c = arg;
    g_query_started = 1;
    int rc = sqlpool_exec(c, LONG_QUERY);
    g_query_returned = 1;
    CHECK_RC(rc, SQLPOOL_SQLITE); /* SQLITE_INTERRUPT */
    return NULL;
}

/* In the child: no CHECK (its mutex may be held by a parent thread), only
 * exit codes. */
static int child_work(void)
{
    alarm(20);
    sqlpool_options *opts = sqlpool_options_new();
    if (opts == NULL)
        return 2;
    sqlpool_pool *pool = NULL;
    if (sqlpool_open(g_db, opts, &pool) != SQLPOOL_OK)
        return 3;
    sqlpool_options_free(opts);
    sqlpool_conn *c = NULL;
    if (sqlpool_checkout(pool, &c) != SQLPOOL_OK)
        return 4;
    sqlpool_stmt *s = NULL;
    if (sqlpool_prepare(c, "SELECT count(*) FROM t", &s) != SQLPOOL_OK)
        return 5;
    if (sqlpool_step(s) != SQLPOOL_ROW || sqlpool_column_int64(s, 0) != 1)
        return 6;
    if (sqlpool_finalize(s) != SQLPOOL_OK || sqlpool_checkin(c) != SQLPOOL_OK || sqlpool_close(pool) != SQLPOOL_OK)
        return 7;
    return 0;
}

int main(void)
{
    make_test_dir("test_fork");
    path_in_dir(g_db, sizeof g_db, "fork.db");
    sqlpool_pool *pool = open_pool(g_db, 2, 0, 0);
    sqlpool_conn *setup = checkout(pool);
    CHECK_OK(sqlpool_exec(setup, "CREATE TABLE t(x); INSERT INTO t VALUES (1)"));
    CHECK_OK(sqlpool_checkin(setup));

    sqlpool_conn *busy = checkout(pool);
    pthread_t churners[2], query;
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&churners[i], NULL, churn, NULL) == 0);
    CHECK(pthread_create(&query, NULL, long_query, busy) == 0);
    while (!g_query_started)
        sleep_ms(1);
    sleep_ms(100); /* inside SQLite now */

    for (int i = 0; i < FORKS; i++) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0)
            _exit(child_work());
        CHECK(!g_query_returned); /* fork() did not wait for the query */
        int status = 0;
        CHECK(waitpid(pid, &status, 0) == pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fprintf(stderr, "fork %d: child status %#x (signal %d: hung and killed by alarm)\n", i, status,
                    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }

    CHECK_OK(sqlpool_conn_interrupt(busy));
    CHECK(pthread_join(query, NULL) == 0);
    g_stop = 1;
    for (int i = 0; i < 2; i++)
        CHECK(pthread_join(churners[i], NULL) == 0);
    CHECK_OK(sqlpool_checkin(busy));
    CHECK_OK(sqlpool_close(pool));
    remove_tree(test_dir());
    return check_summary();
}
