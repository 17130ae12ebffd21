/* test_coord_log_limit: the bound on repeated log lines. A key gets its first line at once
 * and then one a period, each saying how many were held back; the held-back count is told by
 * the flush once the period is over even if the key never comes back; quiet keys are
 * forgotten; and any number of distinct keys beyond the table share one entry, so memory and
 * lines stay bounded whatever a flood of new public keys does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "log_limit.h"

#define SEC 1000000LL

typedef struct told {
    char key[64];
    unsigned long held;
    int calls;
} told_t;

static void note(void *arg, const char *key, unsigned long held)
{
    told_t *t = arg;
    snprintf(t->key, sizeof t->key, "%s", key ? key : "(shared)");
    t->held += held;
    t->calls++;
}

static void test_one_line_a_period_with_counts(void **state)
{
    (void)state;
    log_limit_t *l = log_limit_new(4, 60 * SEC);
    assert_non_null(l);
    unsigned long held = 99;
    int shared = 9;
    assert_int_equal(log_limit_allow(l, "k1", 0, &held, &shared), 1);
    assert_int_equal(held, 0);
    assert_int_equal(shared, 0);
    for (int i = 1; i <= 10; i++)
        assert_int_equal(log_limit_allow(l, "k1", i * SEC, &held, &shared), 0);
    /* Another key is not held back by the first. */
    assert_int_equal(log_limit_allow(l, "k2", 5 * SEC, &held, &shared), 1);
    /* After the period: a line again, saying ten were held back. */
    assert_int_equal(log_limit_allow(l, "k1", 60 * SEC, &held, &shared), 1);
    assert_int_equal(held, 10);
    assert_int_equal(log_limit_allow(l, "k1", 61 * SEC, &held, &shared), 0);
    log_limit_destroy(&l);
    assert_null(l);
    log_limit_destroy(&l);
}

static void test_flush_tells_and_forgets(void **state)
{
    (void)state;
    log_limit_t *l = log_limit_new(2, 60 * SEC);
    unsigned long held;
    int shared;
    assert_int_equal(log_limit_allow(l, "noisy", 0, &held, &shared), 1);
    assert_int_equal(log_limit_allow(l, "once", 0, &held, &shared), 1);
    for (int i = 0; i < 5; i++)
        log_limit_allow(l, "noisy", SEC, &held, &shared);
    told_t t = {0};
    log_limit_flush(l, 30 * SEC, note, &t); /* within the period: nothing yet */
    assert_int_equal(t.calls, 0);
    log_limit_flush(l, 60 * SEC, note, &t);
    assert_int_equal(t.calls, 1);
    assert_string_equal(t.key, "noisy");
    assert_int_equal(t.held, 5);
    /* "once" was quiet for a period: forgotten, so a new key fits in the table of two. */
    assert_int_equal(log_limit_allow(l, "new", 61 * SEC, &held, &shared), 1);
    assert_int_equal(shared, 0);
    /* The flush's line counts as noisy's line for a new period. */
    assert_int_equal(log_limit_allow(l, "noisy", 62 * SEC, &held, &shared), 0);
    memset(&t, 0, sizeof t);
    log_limit_flush(l, 120 * SEC, note, &t);
    assert_int_equal(t.calls, 1);
    assert_int_equal(t.held, 1);
    log_limit_destroy(&l);
}

static void test_table_full_shares_one_entry(void **state)
{
    (void)state;
    log_limit_t *l = log_limit_new(3, 60 * SEC);
    unsigned long held;
    int shared;
    int lines = 0;
    /* A flood of 10,000 distinct keys in one second: three named lines and one shared. */
    for (int i = 0; i < 10000; i++) {
        char key[32];
        snprintf(key, sizeof key, "key-%d", i);
        lines += log_limit_allow(l, key, SEC, &held, &shared);
        assert_int_equal(shared, i >= 3);
    }
    assert_int_equal(lines, 4);
    told_t t = {0};
    log_limit_flush(l, 61 * SEC, note, &t);
    assert_int_equal(t.calls, 1);
    assert_string_equal(t.key, "(shared)");
    assert_int_equal(t.held, 10000 - 4);
    /* Long keys are cut, not overrun, and still told apart by their first 63 bytes. */
    char long_key[200];
    memset(long_key, 'x', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    log_limit_flush(l, 200 * SEC, note, &t);
    assert_int_equal(log_limit_allow(l, long_key, 201 * SEC, &held, &shared), 1);
    assert_int_equal(log_limit_allow(l, long_key, 202 * SEC, &held, &shared), 0);
    log_limit_destroy(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_line_a_period_with_counts),
        cmocka_unit_test(test_flush_tells_and_forgets),
        cmocka_unit_test(test_table_full_shares_one_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
