/* test_coord_backoff: the database reconnect back-off doubles from its minimum, stops at its
 * cap, never lets an attempt through early, and starts over after a success. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "backoff.h"

static void test_first_attempt_at_once(void **state)
{
    (void)state;
    backoff_t b;
    backoff_init(&b, 250, 10000);
    assert_true(backoff_due(&b, 0));
    assert_true(backoff_due(&b, 123456789));
}

static void test_doubles_to_cap(void **state)
{
    (void)state;
    backoff_t b;
    backoff_init(&b, 250, 10000);
    static const int64_t want[] = {250, 500, 1000, 2000, 4000, 8000, 10000, 10000, 10000};
    int64_t now = 1000000;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_true(backoff_due(&b, now));
        int64_t d = backoff_failed(&b, now);
        assert_int_equal(d, want[i]);
        /* Not a microsecond early: no tight loop against a dead database. */
        assert_false(backoff_due(&b, now));
        assert_false(backoff_due(&b, now + d * 1000 - 1));
        now += d * 1000;
        assert_true(backoff_due(&b, now));
    }
}

static void test_reset(void **state)
{
    (void)state;
    backoff_t b;
    backoff_init(&b, 100, 1000);
    for (int i = 0; i < 10; i++)
        backoff_failed(&b, 0);
    assert_false(backoff_due(&b, 0));
    backoff_reset(&b);
    assert_true(backoff_due(&b, 0));
    assert_int_equal(backoff_failed(&b, 0), 100);
}

static void test_odd_bounds(void **state)
{
    (void)state;
    backoff_t b;
    /* A cap that is not a power-of-two multiple, and nonsense bounds made sane. */
    backoff_init(&b, 300, 1000);
    assert_int_equal(backoff_failed(&b, 0), 300);
    assert_int_equal(backoff_failed(&b, 0), 600);
    assert_int_equal(backoff_failed(&b, 0), 1000);
    assert_int_equal(backoff_failed(&b, 0), 1000);
    backoff_init(&b, 0, -5);
    assert_int_equal(backoff_failed(&b, 0), 1);
    assert_int_equal(backoff_failed(&b, 0), 1);
    /* A huge cap does not overflow. */
    backoff_init(&b, 1, INT64_MAX / 1000);
    for (int i = 0; i < 200; i++)
        assert_true(backoff_failed(&b, 0) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_attempt_at_once),
        cmocka_unit_test(test_doubles_to_cap),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_odd_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
