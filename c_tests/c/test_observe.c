/*
 * test_observe.c: events, log callbacks, leak detection, status and
 * Prometheus text through the C API.
 */
#define CHECK_TEST_NAME "test_observe"
#include "check.h"

#include <string.h>
#include <time.h>

static char g_path[256];

typedef struct {
    pthread_mutex_t mutex;
    int events[64];
    uint64_t ids[64];
    int count;
    char logs[8][512];
    int levels[8];
    int log_count;
} recorder;

static void on_event(void *user_data, int event, uint64_t connection_id, uint64_t wait_ns)
{
    recorder *r = user_data;
    (void)wait_ns;
    pthread_mutex_lock(&r->mutex);
    if (r->count < 64) {
        r->events[r->count] = event;
        r->ids[r->count] = connection_id;
        r->count++;
    }
    pthread_mutex_unlock(&r->mutex);
}

static void on_log(void *user_data, int level, const char *message)
{
    recorder *r = user_data;
    pthread_mutex_lock(&r->mutex);
    if (r->log_count < 8) {
        snprintf(r->logs[r->log_count], sizeof r->logs[0], "%s", message);
        r->levels[r->log_count] = level;
        r->log_count++;
    }
    pthread_mutex_unlock(&r->mutex);
}


static void make_database(void)
{
    sqlpool_options *o = sqlpool_options_new();
    CHECK(o != NULL);
    CHECK_OK(sqlpool_options_set_create(o, true));
    sqlpool_pool *p = NULL;
    CHECK_OK(sqlpool_open(g_path, o, &p));
    sqlpool_options_free(o);
    sqlpool_conn *c = NULL;
    CHECK_OK(sqlpool_checkout(p, &c));
    CHECK_OK(sqlpool_exec(c, "CREATE TABLE t(x); INSERT INTO t VALUES (1)"));
    CHECK_OK(sqlpool_checkin(c));
    CHECK_OK(sqlpool_close(p));
}

static void test_events_in_order(void)
{
    recorder r;
    memset(&r, 0, sizeof r);
    pthread_mutex_init(&r.mutex, NULL);
    sqlpool_options *o = sqlpool_options_new();
    CHECK_OK(sqlpool_options_set_pool_size(o, 1));
    CHECK_OK(sqlpool_options_set_max_overflow(o, 0));
    CHECK_OK(sqlpool_options_set_timeout_ms(o, 10));
    CHECK_OK(sqlpool_options_set_event_callback(o, on_event, &r));
    sqlpool_pool *p = NULL;
    CHECK_OK(sqlpool_open(g_path, o, &p));
    sqlpool_options_free(o);
    sqlpool_conn *c = NULL, *other = NULL;
    CHECK_OK(sqlpool_checkout(p, &c));
    CHECK_RC(sqlpool_checkout(p, &other), SQLPOOL_TIMEOUT);
    CHECK_OK(sqlpool_conn_invalidate(c));
    CHECK_OK(sqlpool_checkin(c));
    const int expected[] = {SQLPOOL_EVENT_CONNECT, SQLPOOL_EVENT_CHECKOUT, SQLPOOL_EVENT_TIMEOUT,
                            SQLPOOL_EVENT_CHECKIN, SQLPOOL_EVENT_INVALIDATE};
    const uint64_t expected_ids[] = {1, 1, 0, 1, 1};
    CHECK(r.count == 5);
    for (int i = 0; i < 5; i++) {
        CHECK(r.events[i] == expected[i]);
        CHECK(r.ids[i] == expected_ids[i]);
    }
    /* Clearing the callback stops the events. */
    CHECK_OK(sqlpool_close(p));
    o = sqlpool_options_new();
    CHECK_OK(sqlpool_options_set_event_callback(o, on_event, &r));
    CHECK_OK(sqlpool_options_set_event_callback(o, NULL, NULL));
    CHECK_OK(sqlpool_open(g_path, o, &p));
    sqlpool_options_free(o);
    CHECK_OK(sqlpool_checkout(p, &c));
    CHECK_OK(sqlpool_checkin(c));
    CHECK(r.count == 5);
    CHECK_OK(sqlpool_close(p));
    pthread_mutex_destroy(&r.mutex);
}

static void test_leak_report_names_the_tag(void)
{
    recorder r;
    memset(&r, 0, sizeof r);
    pthread_mutex_init(&r.mutex, NULL);
    sqlpool_options *o = sqlpool_options_new();
    CHECK_RC(sqlpool_options_set_leak_threshold_ms(o, -2), SQLPOOL_INVALID_ARGUMENT);
    CHECK(strstr(sqlpool_errmsg(), "leak_threshold_ms") != NULL);
    CHECK_OK(sqlpool_options_set_leak_threshold_ms(o, 100));
    CHECK_OK(sqlpool_options_set_log_callback(o, on_log, &r));
    sqlpool_pool *p = NULL;
    CHECK_OK(sqlpool_open(g_path, o, &p));
    sqlpool_options_free(o);
    sqlpool_conn *c = NULL;
    CHECK_OK(sqlpool_checkout(p, &c));
    CHECK_RC(sqlpool_conn_set_tag(c, "\xff\xfe"), SQLPOOL_INVALID_ARGUMENT);
    CHECK_OK(sqlpool_conn_set_tag(c, "simulator step 7"));
    sleep_ms(400);
    CHECK_OK(sqlpool_checkin(c));
    CHECK_RC(sqlpool_conn_set_tag(c, "late"), SQLPOOL_MISUSE);
    pthread_mutex_lock(&r.mutex);
    CHECK(r.log_count == 2);
    CHECK(r.levels[0] == SQLPOOL_LOG_WARN);
    CHECK(strstr(r.logs[0], "possible leak") != NULL);
    CHECK(strstr(r.logs[0], "simulator step 7") != NULL);
    CHECK(r.levels[1] == SQLPOOL_LOG_INFO);
    CHECK(strstr(r.logs[1], "returned after") != NULL);
    pthread_mutex_unlock(&r.mutex);
    CHECK_OK(sqlpool_close(p));
    pthread_mutex_destroy(&r.mutex);
}

static void test_status_and_prometheus_text(void)
{
    sqlpool_options *o = sqlpool_options_new();
    CHECK_OK(sqlpool_options_set_pool_size(o, 2));
    sqlpool_pool *p = NULL;
    CHECK_OK(sqlpool_open(g_path, o, &p));
    sqlpool_options_free(o);
    sqlpool_conn *c = NULL;
    CHECK_OK(sqlpool_checkout(p, &c));

    size_t needed = 0;
    CHECK_OK(sqlpool_status(p, NULL, 0, &needed));
    char status[256];
    CHECK(needed > 1 && needed <= sizeof status);
    CHECK_RC(sqlpool_status(p, status, needed - 1, NULL), SQLPOOL_INVALID_ARGUMENT);
    CHECK_OK(sqlpool_status(p, status, sizeof status, NULL));
    CHECK(strcmp(status, "Pool size: 2  Connections in pool: 0 Current Overflow: -1 "
                         "Current Checked out connections: 1") == 0);
    CHECK(strlen(status) + 1 == needed);

    CHECK_OK(sqlpool_metrics_prometheus(p, NULL, 0, &needed));
    char *text = malloc(needed);
    CHECK(text != NULL);
    CHECK_OK(sqlpool_metrics_prometheus(p, text, needed, NULL));
    CHECK(strstr(text, "# TYPE sqlpool_connections_acquire_seconds histogram\n") != NULL);
    char line[512];
    snprintf(line, sizeof line, "sqlpool_connections_active{pool=\"%s\"} 1\n", g_path);
    CHECK(strstr(text, line) != NULL);
    free(text);
    CHECK_RC(sqlpool_metrics_prometheus(NULL, NULL, 0, &needed), SQLPOOL_MISUSE);
    CHECK_RC(sqlpool_status(p, NULL, 10, NULL), SQLPOOL_INVALID_ARGUMENT);
    CHECK_OK(sqlpool_checkin(c));
    CHECK_OK(sqlpool_close(p));
    CHECK_RC(sqlpool_status(p, status, sizeof status, NULL), SQLPOOL_CLOSED);
}

int main(void)
{
    char dir[] = "/tmp/sqlpool-observe-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    snprintf(g_path, sizeof g_path, "%s/observe.db", dir);
    make_database();
    test_events_in_order();
    test_leak_report_names_the_tag();
    test_status_and_prometheus_text();
    remove(g_path);
    rmdir(dir);
    return check_summary();
}
