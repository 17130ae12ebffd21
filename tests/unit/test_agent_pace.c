/* Unit tests for the max_pps ceiling: the token bucket's arithmetic as a table, its promise
 * (no one-second window ever sees more than the rate) on simulated time, the FIFO queue on a
 * real event loop (3 x max_pps runs due at once take about 3 s, none lost, in order), and the
 * scheduler using it (late starts keep their scheduled ts_us). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pace.h"
#include "probe.h"
#include "scheduler.h"
#include "timeutil.h"

#define S 1000000LL

static void test_bucket_table(void **state)
{
    (void)state;
    static const struct {
        uint32_t rate;
        uint32_t want_rate;
        int64_t cap_tokens;
        int64_t refill;
    } init[] = {
        {0, 1, 1, 1},
        {1, 1, 1, 1},
        {20, 20, 1, 20},
        {999, 999, 1, 999},
        {1000, 1000, 2, 999},
        {5000, 5000, 6, 4995},
        {1000000, 1000000, 1001, 999000},
        {4000000, 1000000, 1001, 999000},
    };
    for (size_t i = 0; i < sizeof init / sizeof init[0]; i++) {
        pace_bucket_t b;
        pace_bucket_init(&b, init[i].rate, 0);
        assert_int_equal(b.rate, init[i].want_rate);
        assert_int_equal(b.cap, init[i].cap_tokens * S);
        assert_int_equal(b.refill, init[i].refill);
        /* The promise: a full bucket plus a second's refill, minus the last token. */
        assert_true(init[i].cap_tokens + init[i].refill - 1 <= (int64_t)b.rate);
    }

    pace_bucket_t b;
    pace_bucket_init(&b, 1000, 100);
    assert_int_equal(pace_bucket_take(&b, 1, 100), 0); /* the bucket holds 2 */
    assert_int_equal(pace_bucket_take(&b, 1, 100), 0);
    assert_int_equal(pace_bucket_take(&b, 1, 100), 1002); /* ceil(1e6 / 999) */
    assert_int_equal(pace_bucket_take(&b, 1, 1101), 1);   /* one microsecond short */
    assert_int_equal(pace_bucket_take(&b, 1, 1102), 0);
    /* A refused take takes nothing; time never adds more than the capacity. */
    assert_int_equal(pace_bucket_take(&b, 1, 1102 + 3600 * S), 0);
    assert_int_equal(pace_bucket_take(&b, 1, 1102 + 3600 * S), 0);
    assert_true(pace_bucket_take(&b, 1, 1102 + 3600 * S) > 0);

    /* A run that costs more than the bucket holds starts on a full bucket and borrows: a
     * trace of 30 packets at 20 pps delays the next run by 29 / 20 s plus one token. */
    pace_bucket_init(&b, 20, 0);
    assert_int_equal(pace_bucket_take(&b, 30, 0), 0);
    assert_int_equal(pace_bucket_take(&b, 1, 0), 30 * S / 20);
    assert_int_equal(pace_bucket_take(&b, 1, 30 * S / 20), 0);
    /* Cost zero asks "may anything go now?" without taking. */
    pace_bucket_init(&b, 20, 0);
    assert_int_equal(pace_bucket_take(&b, 0, 0), 0);
    assert_int_equal(pace_bucket_take(&b, 1, 0), 0);
    assert_int_equal(pace_bucket_take(&b, 0, 0), 0);
    assert_int_equal(pace_bucket_take(&b, 1, 0), S / 20);
}

/* Greedy demand on simulated time, always starting as soon as allowed, with occasional idle
 * gaps: count every half-open one-second window. */
static void check_windows(uint32_t rate, uint32_t cost_every, int64_t horizon_us)
{
    size_t max_starts = (size_t)(horizon_us / S + 2) * rate + 16;
    int64_t *at = malloc(max_starts * sizeof *at);
    uint32_t *cost = malloc(max_starts * sizeof *cost);
    size_t n = 0;
    pace_bucket_t b;
    int64_t now = 12345;
    pace_bucket_init(&b, rate, now);
    uint64_t rng = 88172645463325252ull;
    uint64_t spent = 0;
    while (now < horizon_us && n < max_starts) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        uint32_t c = cost_every && rng % cost_every == 0 ? 1 + (uint32_t)(rng % 3) : 1;
        int64_t wait = pace_bucket_take(&b, c, now);
        if (wait == 0) {
            at[n] = now;
            cost[n] = c;
            n++;
            spent += c;
            if (rng % (2 * (uint64_t)rate + 1) == 0)
                now += (int64_t)(rng % (S / 2)); /* idle: the bucket refills, up to its cap */
        } else {
            assert_true(wait > 0);
            now += wait;
        }
    }
    /* Every window [at[i], at[i] + 1 s) starting at a start (the worst case). */
    size_t j = 0;
    uint64_t in_window = 0;
    uint32_t max_cost = cost_every ? 3 : 1;
    for (size_t i = 0; i < n; i++) {
        while (j < n && at[j] < at[i] + S)
            in_window += cost[j++];
        /* A run that costs more than the bucket holds may overshoot by its borrowing. */
        if (in_window > rate + (max_cost > b.cap / S ? max_cost - 1 : 0))
            fail_msg("rate %u: %llu tokens in the second from %lld us", rate,
                     (unsigned long long)in_window, (long long)at[i]);
        in_window -= cost[i];
    }
    /* Busy, it does use the rate: at least half of it over the horizon, idle gaps (an
     * eighth of the time on average) included. */
    if (spent < (uint64_t)((double)rate * (double)horizon_us / S * 0.5))
        fail_msg("rate %u: only %llu tokens spent in %lld us", rate, (unsigned long long)spent,
                 (long long)horizon_us);
    free(at);
    free(cost);
}

static void test_bucket_windows(void **state)
{
    (void)state;
    check_windows(1, 0, 30 * S);
    check_windows(20, 0, 30 * S);
    check_windows(1000, 0, 20 * S);
    check_windows(1000, 5, 20 * S);
    check_windows(7919, 0, 5 * S);
    check_windows(1000000, 0, 2 * S);
}

typedef struct starts {
    pace_t *pace;
    int64_t at[256];
    int order[256];
    size_t n;
} starts_t;

typedef struct waiter {
    starts_t *s;
    int id;
} waiter_t;

static void started(void *arg)
{
    waiter_t *w = arg;
    starts_t *s = w->s;
    s->at[s->n] = time_mono_us();
    s->order[s->n] = w->id;
    s->n++;
}

/* 3 x max_pps runs due at the same instant: all start, in order, spread over ~3 s. */
static void test_queue_three_seconds(void **state)
{
    (void)state;
    enum { RATE = 20, RUNS = 3 * RATE };
    struct event_base *base = event_base_new();
    err_t err = {{0}};
    starts_t s;
    memset(&s, 0, sizeof s);
    s.pace = pace_new(base, RATE, &err);
    assert_non_null(s.pace);
    assert_int_equal(pace_rate(s.pace), RATE);
    waiter_t w[RUNS];
    pace_ticket_t *t[RUNS];
    int64_t t0 = time_mono_us();
    for (int i = 0; i < RUNS; i++) {
        w[i] = (waiter_t){.s = &s, .id = i};
        t[i] = NULL;
        if (pace_try(s.pace, 1)) {
            started(&w[i]);
        } else {
            t[i] = pace_wait(s.pace, 1, started, &w[i]);
            assert_non_null(t[i]);
        }
    }
    /* Only the bucket's capacity goes at once; the rest waits. */
    assert_int_equal(s.n, 1);
    assert_int_equal(pace_queued(s.pace), RUNS - 1);
    while (s.n < RUNS && time_mono_us() - t0 < 6 * S)
        event_base_loop(base, EVLOOP_ONCE);
    int64_t took = s.at[s.n - 1] - t0;
    print_message("%d runs at %d pps: last started after %lld ms\n", RUNS, RATE,
                  (long long)(took / 1000));
    assert_int_equal(s.n, RUNS);
    assert_int_equal(pace_queued(s.pace), 0);
    for (int i = 0; i < RUNS; i++)
        assert_int_equal(s.order[i], i);
    /* (RUNS - 1) / RATE = 2.95 s in theory; timers only ever fire late. */
    assert_true(took >= (RUNS - 1) * S / RATE - 1000);
    assert_true(took < (RUNS - 1) * S / RATE + 300000);
    for (size_t i = 0, j = 0; i < s.n; i++) {
        while (j < s.n && s.at[j] < s.at[i] + S)
            j++;
        assert_true(j - i <= RATE);
    }
    pace_destroy(&s.pace);
    assert_null(s.pace);
    event_base_free(base);
}

/* Cancelled tickets never run, the others keep their order; destroy frees what waits. */
static void test_queue_cancel(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    err_t err = {{0}};
    starts_t s;
    memset(&s, 0, sizeof s);
    s.pace = pace_new(base, 100, &err);
    waiter_t w[8];
    pace_ticket_t *t[8];
    assert_true(pace_try(s.pace, 2)); /* empties the bucket (it holds 1 at 100 pps) */
    for (int i = 0; i < 8; i++) {
        w[i] = (waiter_t){.s = &s, .id = i};
        t[i] = pace_wait(s.pace, 1, started, &w[i]);
    }
    assert_false(pace_try(s.pace, 1));
    pace_cancel(s.pace, &t[0]);
    pace_cancel(s.pace, &t[3]);
    pace_cancel(s.pace, &t[7]);
    assert_null(t[0]);
    pace_cancel(s.pace, &t[0]); /* accepts NULL */
    assert_int_equal(pace_queued(s.pace), 5);
    int64_t t0 = time_mono_us();
    while (s.n < 5 && time_mono_us() - t0 < 2 * S)
        event_base_loop(base, EVLOOP_ONCE);
    assert_int_equal(s.n, 5);
    static const int want[] = {1, 2, 4, 5, 6};
    for (int i = 0; i < 5; i++)
        assert_int_equal(s.order[i], want[i]);
    /* Some left waiting when the pacer goes: freed, never called. */
    for (int i = 0; i < 3; i++)
        t[i] = pace_wait(s.pace, 50, started, &w[i]);
    pace_destroy(&s.pace);
    event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(s.n, 5);
    event_base_free(base);
}

typedef struct collected {
    size_t n;
    int64_t ts_us[256];
    int64_t got_mono[256];
    int status[256];
} collected_t;

static void collect(const scheduler_result_t *r, void *arg)
{
    collected_t *c = arg;
    if (c->n < 256) {
        c->ts_us[c->n] = r->ts_us;
        c->got_mono[c->n] = time_mono_us();
        c->status[c->n] = r->result->status;
    }
    c->n++;
}

/* Through the scheduler: 3 x max_pps probes due at one slot all run, over ~3 s, and every
 * result carries the slot's time, not the delayed start. */
static void test_sched_paced(void **state)
{
    (void)state;
    enum { RATE = 20, RUNS = 3 * RATE, INTERVAL = 4 };
    struct event_base *base = event_base_new();
    probe_env_t *env = probe_env_new(base);
    collected_t c;
    memset(&c, 0, sizeof c);
    err_t err = {{0}};
    scheduler_t *s = scheduler_new(base, env, collect, &c, &err);
    assert_non_null(s);
    scheduler_set_max_pps(s, RATE);
    /* A port nobody listens on: tcp runs end at once with REFUSED. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, alen), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    char spec[32];
    snprintf(spec, sizeof spec, "tcp:%u", (unsigned)ntohs(a.sin_port));

    Parallax__Probe probes[RUNS];
    Parallax__Probe *ptrs[RUNS];
    for (int i = 0; i < RUNS; i++) {
        parallax__probe__init(&probes[i]);
        probes[i].probe_id = (uint64_t)i + 1;
        probes[i].target = "t";
        probes[i].address = "127.0.0.1";
        probes[i].allow_internal = 1; /* loopback: on the deny-list but for this */
        probes[i].spec = spec;
        probes[i].interval_s = INTERVAL;
        probes[i].phase_ms = 0;
        probes[i].timeout_ms = 1000;
        ptrs[i] = &probes[i];
    }
    Parallax__Schedule sch = PARALLAX__SCHEDULE__INIT;
    sch.version = 1;
    sch.n_probes = RUNS;
    sch.probes = ptrs;
    assert_int_equal(scheduler_apply(s, &sch, NULL, &err), 0);
    int64_t until = time_mono_us() + (INTERVAL + 4) * S;
    while (c.n < RUNS && time_mono_us() < until)
        event_base_loop(base, EVLOOP_ONCE);
    scheduler_stop(s);
    close(fd);
    assert_int_equal(c.n, RUNS);
    int64_t spread = c.got_mono[RUNS - 1] - c.got_mono[0];
    print_message("%d probes at %d pps: results spread over %lld ms\n", RUNS, RATE,
                  (long long)(spread / 1000));
    assert_true(spread >= (RUNS - 2) * S / RATE);
    assert_true(spread < (RUNS - 1) * S / RATE + 500000);
    for (int i = 0; i < RUNS; i++) {
        assert_int_equal(c.ts_us[i], c.ts_us[0]);
        assert_int_equal(c.ts_us[i] % (INTERVAL * S), 0);
        assert_int_equal(c.status[i], PX_STATUS_REFUSED);
    }
    scheduler_destroy(&s);
    probe_env_destroy(&env);
    event_base_free(base);
}

/* A run that costs many packets (a trace) counts as many. */
static void test_kind_costs(void **state)
{
    (void)state;
    assert_int_equal(probe_max_packets(PROBE_KIND_ICMP), 1);
    assert_int_equal(probe_max_packets(PROBE_KIND_TCP), 1);
    if (probe_ops_find(PROBE_KIND_TRACE))
        assert_int_equal(probe_max_packets(PROBE_KIND_TRACE), 30);
    assert_int_equal(probe_max_packets((probe_kind_t)PROBE_KIND_COUNT), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_table),        cmocka_unit_test(test_bucket_windows),
        cmocka_unit_test(test_queue_three_seconds), cmocka_unit_test(test_queue_cancel),
        cmocka_unit_test(test_sched_paced),         cmocka_unit_test(test_kind_costs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
