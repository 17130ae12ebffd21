/* test_notifier_backoff: a failed delivery's next try comes after a delay that doubles from
 * retry_min_s up to retry_max_s, with jitter keeping it within [half, whole] of that. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "notify_backoff.h"

static void test_doubles_to_cap(void **state)
{
    (void)state;
    static const uint64_t whole[] = {5, 10, 20, 40, 80, 160, 300, 300, 300};
    for (uint32_t a = 1; a <= sizeof whole / sizeof whole[0]; a++) {
        uint64_t w = whole[a - 1];
        /* rnd 0 gives the fixed half, UINT32_MAX some point up to the whole. */
        uint64_t lo = notify_backoff_delay_s(a, 5, 300, 0);
        assert_int_equal(lo, w - w / 2);
        for (uint32_t rnd = 0; rnd < 5000; rnd += 7) {
            uint64_t d = notify_backoff_delay_s(a, 5, 300, rnd * 2654435761u);
            assert_true(d >= w - w / 2);
            assert_true(d <= w);
        }
    }
}

static void test_jitter_spreads(void **state)
{
    (void)state;
    /* Deliveries that failed together must not all come back in the same second. */
    int seen[301] = {0};
    int distinct = 0;
    for (uint32_t rnd = 0; rnd < 1000; rnd++) {
        uint64_t d = notify_backoff_delay_s(8, 5, 300, rnd * 2654435761u);
        assert_true(d <= 300);
        if (!seen[d]++)
            distinct++;
    }
    assert_true(distinct > 50);
}

static void test_odd_bounds(void **state)
{
    (void)state;
    assert_int_equal(notify_backoff_delay_s(0, 5, 300, 0), 3);   /* 0 counts as 1 */
    assert_int_equal(notify_backoff_delay_s(1, 0, 0, 12345), 1); /* never below 1 s */
    assert_int_equal(notify_backoff_delay_s(3, 10, 5, 0), 5);    /* cap below min: min */
    assert_true(notify_backoff_delay_s(UINT32_MAX, 1, 86400, UINT32_MAX) <= 86400);
    assert_true(notify_backoff_delay_s(64, UINT64_MAX / 2, UINT64_MAX, 7) <= UINT64_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doubles_to_cap),
        cmocka_unit_test(test_jitter_spreads),
        cmocka_unit_test(test_odd_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
