/*
 * unit.h — the tiny assertion harness of the pure-C unit tests.
 *
 * Each test file is one program: it calls its checks, then returns
 * unit_report(), which prints the plain summary line "N passed, N failed"
 * that test/run_all adds up. Failures print file:line and the expression.
 */
#ifndef NAMASKAH_UNIT_H
#define NAMASKAH_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_passed;
static int unit_failed;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (cond)                                                              \
            unit_passed++;                                                     \
        else {                                                                 \
            unit_failed++;                                                     \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);    \
        }                                                                      \
    } while (0)

#define CHECK_STREQ(got, want)                                                 \
    do {                                                                       \
        const char *unit_g_ = (got), *unit_w_ = (want);                        \
        if (unit_g_ && unit_w_ && strcmp(unit_g_, unit_w_) == 0)               \
            unit_passed++;                                                     \
        else {                                                                 \
            unit_failed++;                                                     \
            fprintf(stderr, "FAIL %s:%d: %s\n  got:  %s\n  want: %s\n",        \
                    __FILE__, __LINE__, #got, unit_g_ ? unit_g_ : "(null)",    \
                    unit_w_ ? unit_w_ : "(null)");                             \
        }                                                                      \
    } while (0)

static inline int
unit_report(void)
{
    printf("%d passed, %d failed\n", unit_passed, unit_failed);
    return unit_failed ? 1 : 0;
}

#endif
