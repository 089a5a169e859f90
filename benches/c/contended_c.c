/* Contended checkout from C: sqlpool's C API (bounded, its default; and
 * strict) against the pool a C or C++ user writes by hand (idle connections
 * in an array under a pthread mutex, a condition variable, signal at
 * checkin: the waiter it wakes competes with newcomers). T threads share
 * one pool, each doing its share of checkout (timed: the wait) + hold +
 * checkin. Pools 5+0 and 5+10 (the hand pool opens up to 15 on demand),
 * holds none and a point query, 1/2/8/64 threads; each configuration runs
 * REPS times, interleaved, and the run with the median ops/s is reported
 * with its wait percentiles, in the JSON shape of benches/contended.rs.
 *
 *   contended_c DB OUT_JSON [--quick]
 *
 * Built and run by scripts/bench.sh (linked with libsqlpool.a, so both
 * pools use the same SQLite).
 */
#include <sqlpool.h>
#include <sqlite3.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CONNS 15

static const char *POINT_SQL = "SELECT timestamp FROM lidar_pc WHERE token = ?";

#define BENCH_PROGRAM "contended_c"
#include "check.h"

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The frames' tokens, for the point query. */
static unsigned char (*tokens)[8];
static int ntokens;

static void load_tokens(const char *path) {
    sqlite3 *db;
    sqlite3_stmt *st;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) die("open for tokens", 0);
    if (sqlite3_prepare_v2(db, "SELECT token FROM lidar_pc ORDER BY timestamp LIMIT 4096", -1, &st, NULL) != SQLITE_OK)
        die("prepare tokens", 0);
    tokens = malloc(4096 * sizeof *tokens);
    while (sqlite3_step(st) == SQLITE_ROW && ntokens < 4096) {
        if (sqlite3_column_bytes(st, 0) != 8) die("token length", 0);
        memcpy(tokens[ntokens++], sqlite3_column_blob(st, 0), 8);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (ntokens == 0) die("no frames", 0);
}

/* --- the pool written by hand */
struct hand_conn {
    sqlite3 *db;
    sqlite3_stmt *point;
};

struct hand_pool {
    pthread_mutex_t mu;
    pthread_cond_t returned;
    struct hand_conn *idle[MAX_CONNS];
    int nidle, opened, capacity;
    const char *path;
};

static struct hand_conn *hand_open(const char *path) {
    struct hand_conn *c = malloc(sizeof *c);
    if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
        die("hand pool open", 0);
    if (sqlite3_prepare_v2(c->db, POINT_SQL, -1, &c->point, NULL) != SQLITE_OK) die("hand pool prepare", 0);
    return c;
}

static struct hand_conn *hand_get(struct hand_pool *p) {
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (p->nidle > 0) {
            struct hand_conn *c = p->idle[--p->nidle];
            pthread_mutex_unlock(&p->mu);
            return c;
        }
        if (p->opened < p->capacity) {
            p->opened++;
            pthread_mutex_unlock(&p->mu);
            return hand_open(p->path);
        }
        pthread_cond_wait(&p->returned, &p->mu);
    }
}

static void hand_put(struct hand_pool *p, struct hand_conn *c) {
    pthread_mutex_lock(&p->mu);
    p->idle[p->nidle++] = c;
    pthread_mutex_unlock(&p->mu);
    pthread_cond_signal(&p->returned);
}

static void hand_init(struct hand_pool *p, const char *path, int size, int capacity) {
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->returned, NULL);
    p->nidle = 0;
    p->opened = 0;
    p->capacity = capacity;
    p->path = path;
    struct hand_conn *first[MAX_CONNS];
    for (int i = 0; i < size; ++i) first[i] = hand_get(p);
    for (int i = 0; i < size; ++i) hand_put(p, first[i]);
}

/* --- a run */
enum impl { SQLPOOL_BOUNDED, SQLPOOL_STRICT, HAND };
static const char *impl_names[] = {"c_sqlpool", "c_sqlpool_strict", "c_mutex_condvar"};
enum hold { HOLD_NONE, HOLD_POINT };
static const char *hold_names[] = {"none", "point_query"};

struct any_pool {
    enum impl impl;
    sqlpool_pool *sp;
    struct hand_pool hand;
};

struct worker {
    struct any_pool *pool;
    enum hold hold;
    long ops;
    int index;
    uint64_t *waits;
    pthread_barrier_t *start;
};

static volatile int64_t sink;

static void *work(void *arg) {
    struct worker *w = arg;
    pthread_barrier_wait(w->start);
    for (long i = 0; i < w->ops; ++i) {
        const unsigned char *token = tokens[(w->index * 131 + i) % ntokens];
        uint64_t t0 = now_ns();
        if (w->pool->impl == HAND) {
            struct hand_conn *c = hand_get(&w->pool->hand);
            w->waits[i] = now_ns() - t0;
            if (w->hold == HOLD_POINT) {
                sqlite3_bind_blob(c->point, 1, token, 8, SQLITE_STATIC);
                if (sqlite3_step(c->point) != SQLITE_ROW) die("hand point step", 0);
                sink += sqlite3_column_int64(c->point, 0);
                sqlite3_reset(c->point);
            }
            hand_put(&w->pool->hand, c);
        } else {
            sqlpool_conn *c;
            CHECK(sqlpool_checkout(w->pool->sp, &c));
            w->waits[i] = now_ns() - t0;
            if (w->hold == HOLD_POINT) {
                sqlpool_stmt *st;
                CHECK(sqlpool_prepare(c, POINT_SQL, &st));
                CHECK(sqlpool_bind_blob(st, 1, token, 8));
                if (sqlpool_step(st) != SQLPOOL_ROW) die("sqlpool point step", 0);
                sink += sqlpool_column_int64(st, 0);
                CHECK(sqlpool_finalize(st));
            }
            CHECK(sqlpool_checkin(c));
        }
    }
    return NULL;
}

struct result {
    double ops_per_s;
    uint64_t p50, p99, p999, max;
    uint64_t waits; /* sqlpool: checkouts that queued */
};

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static uint64_t pct(const uint64_t *v, long n, double p) {
    long i = (long)(p / 100.0 * (double)(n - 1) + 0.5);
    return v[i];
}

static struct result run(struct any_pool *pool, int threads, long ops, enum hold hold) {
    long per = (ops + threads - 1) / threads;
    uint64_t *waits = malloc(sizeof *waits * (size_t)(per * threads));
    pthread_t *tids = malloc(sizeof *tids * (size_t)threads);
    struct worker *ws = malloc(sizeof *ws * (size_t)threads);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    sqlpool_stats before = {0}, after = {0};
    if (pool->sp) CHECK(sqlpool_get_stats(pool->sp, &before, sizeof before));
    for (int t = 0; t < threads; ++t) {
        ws[t] = (struct worker){pool, hold, per, t, waits + per * t, &start};
        if (pthread_create(&tids[t], NULL, work, &ws[t])) die("pthread_create", 0);
    }
    /* Timed from before the barrier: on a short run the workers may be done
     * before this thread, released last, reads the clock. */
    uint64_t t0 = now_ns();
    pthread_barrier_wait(&start);
    for (int t = 0; t < threads; ++t) pthread_join(tids[t], NULL);
    double secs = (double)(now_ns() - t0) / 1e9;
    if (pool->sp) CHECK(sqlpool_get_stats(pool->sp, &after, sizeof after));
    long n = per * threads;
    qsort(waits, (size_t)n, sizeof *waits, cmp_u64);
    struct result r = {(double)n / secs, pct(waits, n, 50), pct(waits, n, 99), pct(waits, n, 99.9), waits[n - 1],
                       after.waits - before.waits};
    pthread_barrier_destroy(&start);
    free(waits);
    free(tids);
    free(ws);
    return r;
}

static int cmp_result(const void *a, const void *b) {
    double x = ((const struct result *)a)->ops_per_s, y = ((const struct result *)b)->ops_per_s;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: contended_c DB OUT_JSON [--quick]\n");
        return 2;
    }
    const char *path = argv[1];
    int quick = argc > 3 && !strcmp(argv[3], "--quick");
    load_tokens(path);
    const int thread_counts[] = {1, 2, 8, 64};
    const int sizes[][2] = {{5, 0}, {5, 10}};
    enum { MAXREP = 5 };
    const int reps = quick ? 1 : MAXREP;
    const long ops_none = quick ? 2000 : 200000, ops_point = quick ? 1000 : 200000;

    enum { NIMPL = 3, NPOOL = 2, NHOLD = 2, NT = 4 };
    static struct any_pool pools[NIMPL][NPOOL];
    for (int i = 0; i < NIMPL; ++i)
        for (int s = 0; s < NPOOL; ++s) {
            struct any_pool *p = &pools[i][s];
            p->impl = (enum impl)i;
            p->sp = NULL;
            if (i == HAND) {
                hand_init(&p->hand, path, sizes[s][0], sizes[s][0] + sizes[s][1]);
                continue;
            }
            sqlpool_options *o = sqlpool_options_new();
            CHECK(sqlpool_options_set_pool_size(o, (uint32_t)sizes[s][0]));
            CHECK(sqlpool_options_set_max_overflow(o, sizes[s][1]));
            CHECK(sqlpool_options_set_timeout_ms(o, 600000));
            CHECK(sqlpool_options_set_fairness(o, i == SQLPOOL_STRICT ? SQLPOOL_FAIRNESS_STRICT : SQLPOOL_FAIRNESS_BOUNDED, 0));
            CHECK(sqlpool_open(path, o, &p->sp));
            sqlpool_options_free(o);
        }

    static struct result results[NIMPL][NPOOL][NHOLD][NT][MAXREP];
    for (int rep = 0; rep < reps; ++rep)
        for (int h = 0; h < NHOLD; ++h)
            for (int t = 0; t < NT; ++t)
                for (int s = 0; s < NPOOL; ++s)
                    for (int i = 0; i < NIMPL; ++i) {
                        struct result r = run(&pools[i][s], thread_counts[t], h ? ops_point : ops_none, (enum hold)h);
                        results[i][s][h][t][rep] = r;
                        fprintf(stderr, "rep %d hold=%-11s pool=%d+%-2d threads=%-3d %-16s %10.0f ops/s\n", rep,
                                hold_names[h], sizes[s][0], sizes[s][1], thread_counts[t], impl_names[i], r.ops_per_s);
                    }

    FILE *out = fopen(argv[2], "w");
    if (!out) die("open the JSON output", 0);
    fprintf(out, "{\"runs\": [\n");
    int first = 1;
    for (int i = 0; i < NIMPL; ++i)
        for (int s = 0; s < NPOOL; ++s)
            for (int h = 0; h < NHOLD; ++h)
                for (int t = 0; t < NT; ++t) {
                    struct result *rs = results[i][s][h][t];
                    qsort(rs, (size_t)reps, sizeof *rs, cmp_result);
                    struct result *r = &rs[reps / 2];
                    char waits[24] = "null";
                    if (i != HAND) snprintf(waits, sizeof waits, "%llu", (unsigned long long)r->waits);
                    fprintf(out,
                            "%s {\"impl\": \"%s\", \"pool_size\": %d, \"max_overflow\": %d, \"hold\": \"%s\", "
                            "\"threads\": %d, \"ops_per_s\": %.1f, \"p50_wait_ns\": %llu, \"p99_wait_ns\": %llu, "
                            "\"p999_wait_ns\": %llu, \"max_wait_ns\": %llu, \"pool_waits\": %s}",
                            first ? "" : ",\n", impl_names[i], sizes[s][0], sizes[s][1], hold_names[h],
                            thread_counts[t], r->ops_per_s, (unsigned long long)r->p50, (unsigned long long)r->p99,
                            (unsigned long long)r->p999, (unsigned long long)r->max, waits);
                    first = 0;
                }
    fprintf(out, "\n]}\n");
    fclose(out);
    for (int i = 0; i < NIMPL; ++i)
        for (int s = 0; s < NPOOL; ++s)
            if (pools[i][s].sp) CHECK(sqlpool_close(pools[i][s].sp));
    return 0;
}
