/*
 * test_secret.c — unit tests of the one secret rule (nk_secret): fixed
 * cases, then every line of test/secrets/borderline.tsv, the table the
 * extension, namaskahd and the scripts are held to as well
 * (test/ops/secret_rule.sh).
 */
#include "unit.h"
#include "nk_secret.h"

#include <stdlib.h>

#define JUDGE(lit, min) nk_secret_judge((lit), sizeof(lit) - 1, (min))

static const char *const verdicts[] = {"ok", "invalid", "placeholder",
                                       "too_short", "low_entropy"};

static void
test_fixed_cases(void)
{
    const char *good = "Zq3v9Lr2Tx8Wm1Ks7Pd4Hn6Fb0Yc5Ge2";

    CHECK(JUDGE("Zq3v9Lr2Tx8Wm1Ks7Pd4Hn6Fb0Yc5Ge2", 0) == NK_SECRET_OK);
    CHECK(JUDGE("Zq3v9Lr2Tx8Wm1Ks7Pd4Hn6Fb0Yc5Ge2", 32) == NK_SECRET_OK);
    /* HS384/HS512 keys need their 48/64-byte hash output. */
    CHECK(nk_secret_judge(good, strlen(good), 48) == NK_SECRET_TOO_SHORT);
    CHECK(JUDGE("", 0) == NK_SECRET_TOO_SHORT);
    CHECK(JUDGE("short", 32) == NK_SECRET_TOO_SHORT);
    CHECK(JUDGE("CHANGEME", 0) == NK_SECRET_PLACEHOLDER);
    CHECK(JUDGE("YOUR_SECRET_KEY", 0) == NK_SECRET_PLACEHOLDER);
    CHECK(JUDGE("Zq3v9Lr2Tx8Wm1Ks7Pd4Hn6Fb0Yc5Ge2\n", 0) == NK_SECRET_INVALID);
    CHECK(JUDGE("Zq3v9Lr2Tx8Wm1Ks7Pd4Hn6Fb0Yc5Ge2\xff", 0) ==
          NK_SECRET_INVALID);
    CHECK(JUDGE("Zq3v9Lr2Tx8Wm1Ks7Pd4Hn6Fb0Yc5Ge2\xc2\x85", 0) ==
          NK_SECRET_INVALID);
    CHECK(JUDGE("Zq3v9Lr2Tx8Wm1Ks7\0Pd4Hn6Fb0Yc5Ge2", 0) == NK_SECRET_INVALID);
    CHECK(nk_secret_judge(NULL, 0, 0) == NK_SECRET_INVALID);
    CHECK_STREQ(nk_secret_status_text(NK_SECRET_TOO_SHORT), "is too short");
    CHECK(strstr(nk_secret_rule_text, "32 characters") != NULL);
}

/* One line of the table: "verdict\tsecret"; returns 0 for comments. */
static int
check_table_line(char *line, int lineno)
{
    char *tab = strchr(line, '\t');
    size_t len = strlen(line);
    nk_secret_status got;

    if (len > 0 && line[len - 1] == '\n')
        line[--len] = '\0';
    if (line[0] == '#' || line[0] == '\0')
        return 0;
    if (tab == NULL) {
        fprintf(stderr, "FAIL borderline.tsv:%d: no TAB\n", lineno);
        unit_failed++;
        return 1;
    }
    *tab = '\0';
    got = nk_secret_judge(tab + 1, strlen(tab + 1), 32);
    if (strcmp(verdicts[got], line) == 0) {
        unit_passed++;
    } else {
        fprintf(stderr, "FAIL borderline.tsv:%d: want %s, got %s\n", lineno,
                line, verdicts[got]);
        unit_failed++;
    }
    return 1;
}

static void
test_borderline_table(void)
{
    const char *path = getenv("NK_SECRET_TABLE");
    FILE *f = fopen(path ? path : "test/secrets/borderline.tsv", "r");
    char line[512];
    int lineno = 0, cases = 0;

    CHECK(f != NULL);
    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL)
        cases += check_table_line(line, ++lineno);
    fclose(f);
    CHECK(cases >= 20);
}

int
main(void)
{
    test_fixed_cases();
    test_borderline_table();
    return unit_report();
}
