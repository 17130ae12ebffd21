/* test_coord_clocksync: the coordinator's clock filter. NTP exchanges give the offset within
 * half their round trip and the fastest one wins; one-way samples bound it from below;
 * contradictory samples are dropped; the window forgets old samples; and the decision to
 * store an estimate ignores jitter but not real moves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "clocksync.h"

#define T0 1700000000000000LL /* coordinator time of the first exchange */

/* An exchange with an agent whose clock is `offset` ahead, delays `out` and `back` on the
 * way there and back, and `hold` spent in the coordinator, starting at coordinator time t. */
static int exchange(clocksync_t *c, int64_t t, int64_t offset, int64_t out, int64_t back,
                    int64_t hold)
{
    int64_t t1 = t + offset, t2 = t + out, t3 = t2 + hold, t4 = t3 + back + offset;
    return clocksync_add_exchange(c, t1, t2, t3, t4);
}

static void test_empty(void **state)
{
    (void)state;
    clocksync_t c;
    clocksync_init(&c);
    int64_t off = 11, rtt = 22;
    assert_int_equal(clocksync_estimate(&c, &off, &rtt), -1);
    assert_int_equal(off, 11);
    assert_int_equal(rtt, 22);
}

static void test_symmetric_exchange_is_exact(void **state)
{
    (void)state;
    clocksync_t c;
    clocksync_init(&c);
    /* Five seconds ahead, 10 ms each way, 1 ms in the coordinator. */
    assert_int_equal(exchange(&c, T0, 5000000, 10000, 10000, 1000), 0);
    int64_t off, rtt;
    assert_int_equal(clocksync_estimate(&c, &off, &rtt), 0);
    assert_int_equal(off, 5000000);
    assert_int_equal(rtt, 20000);
}

static void test_behind_and_asymmetric(void **state)
{
    (void)state;
    clocksync_t c;
    clocksync_init(&c);
    /* 3 s behind; 30 ms out, 10 ms back: the error is half the asymmetry (10 ms). */
    assert_int_equal(exchange(&c, T0, -3000000, 30000, 10000, 500), 0);
    int64_t off, rtt;
    assert_int_equal(clocksync_estimate(&c, &off, &rtt), 0);
    assert_int_equal(rtt, 40000);
    assert_true(off >= -3000000 - rtt / 2 && off <= -3000000 + rtt / 2);
    assert_int_equal(off, -3010000);
}

static void test_fastest_exchange_wins(void **state)
{
    (void)state;
    clocksync_t c;
    clocksync_init(&c);
    /* Queued heartbeats: long, lopsided delays give wrong offsets; one fast one is right. */
    assert_int_equal(exchange(&c, T0, 2000000, 400000, 1000, 0), 0);
    assert_int_equal(exchange(&c, T0 + 10000000, 2000000, 2000, 2000, 0), 0);
    assert_int_equal(exchange(&c, T0 + 20000000, 2000000, 1000, 300000, 0), 0);
    int64_t off, rtt;
    assert_int_equal(clocksync_estimate(&c, &off, &rtt), 0);
    assert_int_equal(off, 2000000);
    assert_int_equal(rtt, 4000);
}

static void test_oneway_lower_bound(void **state)
{
    (void)state;
    clocksync_t c;
    clocksync_init(&c);
    /* Agent 4 s ahead; one-way delays 50, 3 and 20 ms: the bound of the fastest is best. */
    int64_t delays[] = {50000, 3000, 20000};
    for (int i = 0; i < 3; i++) {
        int64_t t = T0 + i * 10000000LL;
        assert_int_equal(clocksync_add_oneway(&c, t + 4000000, t + delays[i]), 0);
    }
    int64_t off, rtt;
    assert_int_equal(clocksync_estimate(&c, &off, &rtt), 0);
    assert_int_equal(off, 4000000 - 3000);
    assert_int_equal(rtt, -1);
    /* An exchange, once there is one, is preferred whatever the one-way samples say. */
    assert_int_equal(exchange(&c, T0 + 40000000, 4000000, 9000, 9000, 100), 0);
    assert_int_equal(clocksync_estimate(&c, &off, &rtt), 0);
    assert_int_equal(off, 4000000);
    assert_int_equal(rtt, 18000);
}

static void test_contradictions_dropped(void **state)
{
    (void)state;
    clocksync_t c;
    clocksync_init(&c);
    /* Answered before received; agent receiving before sending; negative round trip;
     * round trip over the limit; zeros; an offset beyond what the column holds. */
    assert_int_equal(clocksync_add_exchange(&c, T0, T0 + 10, T0 + 5, T0 + 20), -1);
    assert_int_equal(clocksync_add_exchange(&c, T0, T0, T0 + 1, T0 - 1), -1);
    assert_int_equal(clocksync_add_exchange(&c, T0, T0, T0 + 1000, T0 + 10), -1);
    assert_int_equal(clocksync_add_exchange(&c, T0, T0, T0, T0 + CLOCKSYNC_MAX_RTT_US + 1), -1);
    assert_int_equal(clocksync_add_exchange(&c, 0, T0, T0, T0), -1);
    assert_int_equal(clocksync_add_oneway(&c, 0, T0), -1);
    assert_int_equal(clocksync_add_oneway(&c, T0, 0), -1);
    assert_int_equal(clocksync_add_oneway(&c, T0 + CLOCKSYNC_MAX_OFFSET_US + 1, T0), -1);
    assert_int_equal(exchange(&c, T0, CLOCKSYNC_MAX_OFFSET_US + 1000000, 10, 10, 0), -1);
    int64_t off, rtt;
    assert_int_equal(clocksync_estimate(&c, &off, &rtt), -1);
    /* Extreme but legal: the agent's clock a full day behind. */
    assert_int_equal(exchange(&c, T0, -86400000000LL, 100, 100, 0), 0);
    assert_int_equal(clocksync_estimate(&c, &off, &rtt), 0);
    assert_int_equal(off, -86400000000LL);
}

static void test_window_forgets(void **state)
{
    (void)state;
    clocksync_t c;
    clocksync_init(&c);
    /* A very fast sample before the clock was stepped by +1 s... */
    assert_int_equal(exchange(&c, T0, 0, 100, 100, 0), 0);
    int64_t off, rtt;
    for (int i = 1; i < CLOCKSYNC_WINDOW; i++) {
        assert_int_equal(exchange(&c, T0 + i * 1000000LL, 1000000, 5000, 5000, 0), 0);
        assert_int_equal(clocksync_estimate(&c, &off, &rtt), 0);
        assert_int_equal(off, 0); /* ...still wins while it is in the window */
    }
    assert_int_equal(exchange(&c, T0 + 99000000LL, 1000000, 5000, 5000, 0), 0);
    assert_int_equal(clocksync_estimate(&c, &off, &rtt), 0);
    assert_int_equal(off, 1000000);
    assert_int_equal(rtt, 10000);
}

static void test_worth_storing(void **state)
{
    (void)state;
    /* Nothing stored yet: always. */
    assert_true(clocksync_worth_storing(0, 0, -1, 0, -1, 20));
    /* Jitter below the step: no. */
    assert_false(clocksync_worth_storing(1, 5000, 10, 5019, 11, 20));
    assert_false(clocksync_worth_storing(1, 5000, 10, 4981, 12, 20));
    /* A move of the step or more, either way: yes. */
    assert_true(clocksync_worth_storing(1, 5000, 10, 5020, 10, 20));
    assert_true(clocksync_worth_storing(1, 5000, 10, 3000, 10, 20));
    /* RTT becoming known: yes; becoming unknown: not by itself. */
    assert_true(clocksync_worth_storing(1, 0, -1, 0, 3, 20));
    assert_false(clocksync_worth_storing(1, 0, 3, 0, -1, 20));
    /* RTT moving by more than half and by more than the step: yes; otherwise no. */
    assert_true(clocksync_worth_storing(1, 0, 40, 0, 100, 20));
    assert_false(clocksync_worth_storing(1, 0, 200, 0, 260, 20));
    assert_false(clocksync_worth_storing(1, 0, 2, 0, 15, 20));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_symmetric_exchange_is_exact),
        cmocka_unit_test(test_behind_and_asymmetric),
        cmocka_unit_test(test_fastest_exchange_wins),
        cmocka_unit_test(test_oneway_lower_bound),
        cmocka_unit_test(test_contradictions_dropped),
        cmocka_unit_test(test_window_forgets),
        cmocka_unit_test(test_worth_storing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
