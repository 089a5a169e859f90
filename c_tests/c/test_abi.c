/*
 * test_abi.c: a program compiled against an older or a newer header keeps
 * working (API.md, "ABI"). Structs passed with their size are filled as far
 * as the caller's struct reaches: an older, shorter struct is never refused;
 * the bytes of a newer, longer struct beyond the library's are zeroed, and
 * nothing past out_size is touched.
 */
#define CHECK_TEST_NAME "test_abi"
#include "check.h"

#include <stddef.h>
#include <stdint.h>

/* sqlpool_stats as the 0.1 contract defined it: 96 bytes, up to `invalidated`. */
typedef struct stats_0_1 {
    uint32_t pool_size;
    int32_t max_overflow;
    uint32_t checked_out;
    uint32_t idle;
    int32_t overflow;
    uint32_t waiting;
    uint64_t connections_created;
    uint64_t connections_closed;
    uint64_t checkouts;
    uint64_t waits;
    uint64_t timeouts;
    uint64_t wait_ns_total;
    uint64_t pre_ping_failures;
    uint64_t recycled;
    uint64_t invalidated;
} stats_0_1;

#define SENTINEL 0xA5
#define SLACK 64

static int all_bytes(const unsigned char *p, size_t n, unsigned char value)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != value)
            return 0;
    return 1;
}

static void older_stats_struct_is_filled_as_far_as_it_reaches(sqlpool_pool *pool)
{
    CHECK(sizeof(stats_0_1) == 96);
    /* One more byte after the old struct: it must stay untouched. */
    unsigned char buf[sizeof(stats_0_1) + 1];
    memset(buf, SENTINEL, sizeof buf);
    CHECK_OK(sqlpool_get_stats(pool, (sqlpool_stats *)(void *)buf, sizeof(stats_0_1)));
    stats_0_1 old;
    memcpy(&old, buf, sizeof old);
    CHECK(old.pool_size == 3);
    CHECK(old.max_overflow == 2);
    CHECK(old.checked_out == 1);
    CHECK(old.connections_created >= 1);
    CHECK(old.checkouts == 1);
    CHECK(old.invalidated == 0);
    CHECK(buf[sizeof(stats_0_1)] == SENTINEL);

    /* Any size, even one that cuts a field, is filled that far and no further. */
    memset(buf, SENTINEL, sizeof buf);
    CHECK_OK(sqlpool_get_stats(pool, (sqlpool_stats *)(void *)buf, 5));
    CHECK(buf[0] == 3 && buf[1] == 0 && buf[2] == 0 && buf[3] == 0);
    CHECK(all_bytes(buf + 5, sizeof buf - 5, SENTINEL));
}

static void newer_stats_struct_gets_zeros_past_the_librarys_fields(sqlpool_pool *pool)
{
    unsigned char buf[sizeof(sqlpool_stats) + 2 * SLACK];
    memset(buf, SENTINEL, sizeof buf);
    /* A newer header's struct: SLACK bytes longer than this library's. */
    size_t newer = sizeof(sqlpool_stats) + SLACK;
    CHECK_OK(sqlpool_get_stats(pool, (sqlpool_stats *)(void *)buf, newer));
    sqlpool_stats s;
    memcpy(&s, buf, sizeof s);
    CHECK(s.pool_size == 3);
    CHECK(s.checked_out == 1);
    CHECK(all_bytes(buf + sizeof(sqlpool_stats), SLACK, 0));
    CHECK(all_bytes(buf + newer, SLACK, SENTINEL));
}

static void zero_size_is_an_invalid_argument(sqlpool_pool *pool)
{
    unsigned char buf[8];
    memset(buf, SENTINEL, sizeof buf);
    CHECK_RC(sqlpool_get_stats(pool, (sqlpool_stats *)(void *)buf, 0), SQLPOOL_INVALID_ARGUMENT);
    CHECK(strstr(sqlpool_errmsg(), "out_size") != NULL);
    CHECK(all_bytes(buf, sizeof buf, SENTINEL));
    CHECK_RC(sqlpool_shared_get_stats((sqlpool_shared_stats *)(void *)buf, 0), SQLPOOL_INVALID_ARGUMENT);
    CHECK(all_bytes(buf, sizeof buf, SENTINEL));
}

static void shared_stats_follow_the_same_rule(void)
{
    CHECK_OK(sqlpool_shared_set_limits(7, -1));
    /* An older, shorter struct: the first three fields only. */
    unsigned char buf[sizeof(sqlpool_shared_stats) + 2 * SLACK];
    memset(buf, SENTINEL, sizeof buf);
    CHECK_OK(sqlpool_shared_get_stats((sqlpool_shared_stats *)(void *)buf, 3 * sizeof(uint32_t)));
    uint32_t max_connections;
    memcpy(&max_connections, buf + 2 * sizeof(uint32_t), sizeof max_connections);
    CHECK(max_connections == 7);
    CHECK(all_bytes(buf + 3 * sizeof(uint32_t), sizeof buf - 3 * sizeof(uint32_t), SENTINEL));

    /* A newer, longer one. */
    memset(buf, SENTINEL, sizeof buf);
    size_t newer = sizeof(sqlpool_shared_stats) + SLACK;
    CHECK_OK(sqlpool_shared_get_stats((sqlpool_shared_stats *)(void *)buf, newer));
    sqlpool_shared_stats s;
    memcpy(&s, buf, sizeof s);
    CHECK(s.max_connections == 7);
    CHECK(s.idle_timeout_ms == -1);
    CHECK(all_bytes(buf + sizeof(sqlpool_shared_stats), SLACK, 0));
    CHECK(all_bytes(buf + newer, SLACK, SENTINEL));
    CHECK_OK(sqlpool_shared_set_limits(0, 60000));
}

int main(void)
{
    make_test_dir("abi");
    char path[4200];
    path_in_dir(path, sizeof path, "abi.db");
    sqlpool_pool *pool = open_pool(path, 3, 2, 0);
    sqlpool_conn *conn = checkout(pool);

    older_stats_struct_is_filled_as_far_as_it_reaches(pool);
    newer_stats_struct_gets_zeros_past_the_librarys_fields(pool);
    zero_size_is_an_invalid_argument(pool);
    shared_stats_follow_the_same_rule();

    CHECK_OK(sqlpool_checkin(conn));
    CHECK_OK(sqlpool_close(pool));
    remove_tree(test_dir());
    return check_summary();
}
