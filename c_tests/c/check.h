/*
 * check.h: the assertion helpers shared by the C tests of the sqlpool C API.
 *
 * Define CHECK_TEST_NAME (a string) before including this header. Every
 * passing CHECK counts one pass; the first failing CHECK prints
 *
 *     file:line: CHECK failed: <expression>
 *       last failing call on this thread: sqlpool_errmsg() = "...", sqlpool_sqlite_errcode() = N
 *     <test>: N passed, 1 failed
 *
 * and ends the process with status 1 (_exit, so that no exit handler runs
 * while other test threads are still inside the library).
 * check_summary() prints the closing line of a run that passed.
 */
#ifndef SQLPOOL_C_TESTS_CHECK_H
#define SQLPOOL_C_TESTS_CHECK_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sqlpool.h"

#ifndef CHECK_TEST_NAME
#error "define CHECK_TEST_NAME before including check.h"
#endif

/* CHECK is used from several threads in test_threads.c. */
static pthread_mutex_t check_mutex = PTHREAD_MUTEX_INITIALIZER;
static unsigned long check_passed_count = 0;

static inline void check_pass(void)
{
    pthread_mutex_lock(&check_mutex);
    check_passed_count++;
    pthread_mutex_unlock(&check_mutex);
}

static inline const char *check_code_name(int rc)
{
    const char *name = sqlpool_errstr(rc);
    return name ? name : "(NULL)";
}

static inline void check_fail(const char *file, int line, const char *expr, const char *detail)
{
    /* Read the thread's last error before anything else can change it. */
    const char *msg = sqlpool_errmsg();
    int sqlite_code = sqlpool_sqlite_errcode();
    pthread_mutex_lock(&check_mutex);
    fflush(stdout);
    fprintf(stderr,
            "%s:%d: CHECK failed: %s%s\n  last failing call on this thread: sqlpool_errmsg() = \"%s\", "
            "sqlpool_sqlite_errcode() = %d\n",
            file, line, expr, detail, msg ? msg : "(NULL)", sqlite_code);
    printf("%s: %lu passed, 1 failed\n", CHECK_TEST_NAME, check_passed_count);
    fflush(stdout);
    fflush(stderr);
    _exit(1);
}

static inline void check_fail_rc(const char *file, int line, const char *call, const char *expected_expr, int rc,
                                 int expected)
{
    char detail[512];
    snprintf(detail, sizeof detail, "\n  returned %d (%s), expected %s = %d (%s)", rc, check_code_name(rc),
             expected_expr, expected, check_code_name(expected));
    check_fail(file, line, call, detail);
}

static inline int check_summary(void)
{
    pthread_mutex_lock(&check_mutex);
    printf("%s: %lu passed, 0 failed\n", CHECK_TEST_NAME, check_passed_count);
    fflush(stdout);
    pthread_mutex_unlock(&check_mutex);
    return 0;
}

/* CHECK(cond): cond must hold. */
#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (cond)                                                                                                      \
            check_pass();                                                                                              \
        else                                                                                                           \
            check_fail(__FILE__, __LINE__, #cond, "");                                                                 \
    } while (0)

/* CHECK_RC(call, expected): the int result code of call must be expected;
 * on failure both codes are printed with their names. */
#define CHECK_RC(call, expected)                                                                                       \
    do {                                                                                                               \
        int check_rc_ = (call);                                                                                        \
        int check_expected_ = (expected);                                                                              \
        if (check_rc_ == check_expected_)                                                                              \
            check_pass();                                                                                              \
        else                                                                                                           \
            check_fail_rc(__FILE__, __LINE__, #call, #expected, check_rc_, check_expected_);                           \
    } while (0)

/* CHECK_OK(call): shorthand for CHECK_RC(call, SQLPOOL_OK). */
#define CHECK_OK(call) CHECK_RC(call, SQLPOOL_OK)


/* ---- helpers shared by the tests ---- */

static inline void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static inline double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* Opens a pool with create on and the given sizes (timeout_ms 0: default). */
static inline sqlpool_pool *open_pool(const char *path, uint32_t pool_size, int32_t max_overflow, uint64_t timeout_ms)
{
    sqlpool_options *opts = sqlpool_options_new();
    CHECK(opts != NULL);
    CHECK_OK(sqlpool_options_set_create(opts, true));
    CHECK_OK(sqlpool_options_set_pool_size(opts, pool_size));
    CHECK_OK(sqlpool_options_set_max_overflow(opts, max_overflow));
    if (timeout_ms > 0)
        CHECK_OK(sqlpool_options_set_timeout_ms(opts, timeout_ms));
    sqlpool_pool *pool = NULL;
    CHECK_OK(sqlpool_open(path, opts, &pool));
    CHECK(pool != NULL);
    sqlpool_options_free(opts);
    return pool;
}

static inline sqlpool_conn *checkout(sqlpool_pool *pool)
{
    sqlpool_conn *conn = NULL;
    CHECK_OK(sqlpool_checkout(pool, &conn));
    CHECK(conn != NULL);
    return conn;
}

/* The test program's temporary directory, made by make_test_dir(). */
static inline char *test_dir(void)
{
    static char dir[4096];
    return dir;
}

/* Makes $TMPDIR/sqlpool_<name>_XXXXXX (or under /tmp) as test_dir(). */
static inline void make_test_dir(const char *name)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    int n = snprintf(test_dir(), 4096, "%s/sqlpool_%s_XXXXXX", base, name);
    CHECK(n > 0 && n < 4096);
    CHECK(mkdtemp(test_dir()) != NULL);
}

/* `name` inside test_dir(), into buf. */
static inline void path_in_dir(char *buf, size_t size, const char *name)
{
    int n = snprintf(buf, size, "%s/%s", test_dir(), name);
    CHECK(n > 0 && (size_t)n < size);
}

/* A stand-in object whose address is used to see that an out-parameter is
 * left alone by a failing call. */
static inline void *check_sentinel(void)
{
    static char sentinel;
    return &sentinel;
}
#define POOL_SENTINEL ((sqlpool_pool *)check_sentinel())
#define CONN_SENTINEL ((sqlpool_conn *)check_sentinel())
#define STMT_SENTINEL ((sqlpool_stmt *)check_sentinel())

/* Removes a file or a directory tree (the tests' temporary directories). */
static inline void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d != NULL) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                    continue;
                char child[4096];
                snprintf(child, sizeof child, "%s/%s", path, e->d_name);
                remove_tree(child);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

#endif /* SQLPOOL_C_TESTS_CHECK_H */
