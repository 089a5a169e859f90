/*
 * check.h: what both C benchmark programs do with a failed sqlpool call:
 * name the call, its code and the library's message, and exit. Define
 * BENCH_PROGRAM (the program's name, for the message) before including.
 */
#ifndef SQLPOOL_BENCH_CHECK_H
#define SQLPOOL_BENCH_CHECK_H

#include <sqlpool.h>
#include <stdio.h>
#include <stdlib.h>

static void die(const char *what, int rc) {
    fprintf(stderr, BENCH_PROGRAM ": %s failed: rc %d (%s): %s\n", what, rc, sqlpool_errstr(rc),
            sqlpool_errmsg());
    exit(1);
}

#define CHECK(call)                             \
    do {                                        \
        int rc_ = (call);                       \
        if (rc_ != SQLPOOL_OK) die(#call, rc_); \
    } while (0)

#endif
