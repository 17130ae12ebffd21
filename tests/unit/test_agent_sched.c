/* Unit tests for sched: the round arithmetic (k*I + P on the UTC clock, around round
 * boundaries, phase 0, intervals of 1 s and 1 day), schedule replacement that keeps
 * unchanged probes running, and one real round through the event loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "probe.h"
#include "sched.h"
#include "timeutil.h"

#define S 1000000LL
/* 2026-01-01T00:00:00Z, a whole day in Unix time. */
#define DAY0 (1767225600LL * S)

static void test_slot_arithmetic(void **state)
{
    (void)state;
    static const struct {
        int64_t now;
        uint32_t interval_s;
        uint32_t phase_ms;
        int64_t floor;
        int64_t next;
    } cases[] = {
        /* 1 s, phase 0: whole seconds; exactly on a slot is that slot, next is one later. */
        {DAY0, 1, 0, DAY0, DAY0 + S},
        {DAY0 + 1, 1, 0, DAY0, DAY0 + S},
        {DAY0 - 1, 1, 0, DAY0 - S, DAY0},
        {DAY0 + S - 1, 1, 0, DAY0, DAY0 + S},
        /* 1 s, phase 250 ms. */
        {DAY0, 1, 250, DAY0 - S + 250000, DAY0 + 250000},
        {DAY0 + 250000, 1, 250, DAY0 + 250000, DAY0 + S + 250000},
        {DAY0 + 249999, 1, 250, DAY0 - S + 250000, DAY0 + 250000},
        /* 60 s, phase 59.999 s. */
        {DAY0 + 30 * S, 60, 59999, DAY0 - 1000, DAY0 + 59999000},
        /* 1 day, phase 0: midnight UTC. */
        {DAY0 + 12 * 3600 * S, 86400, 0, DAY0, DAY0 + 86400 * S},
        {DAY0 - 1, 86400, 0, DAY0 - 86400 * S, DAY0},
        /* 1 day, phase 1 h. */
        {DAY0, 86400, 3600000, DAY0 - 23 * 3600 * S, DAY0 + 3600 * S},
        {DAY0 + 3600 * S, 86400, 3600000, DAY0 + 3600 * S, DAY0 + 25 * 3600 * S},
        /* 7 s does not divide a day: alignment is to the epoch, the same for every agent. */
        {7 * S * 1000 + 3, 7, 0, 7 * S * 1000, 7 * S * 1001},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t fl = sched_slot_floor(cases[i].now, cases[i].interval_s, cases[i].phase_ms);
        int64_t nx = sched_slot_next(cases[i].now, cases[i].interval_s, cases[i].phase_ms);
        if (fl != cases[i].floor || nx != cases[i].next)
            fail_msg("case %zu: floor %lld next %lld, expected %lld %lld", i, (long long)fl,
                     (long long)nx, (long long)cases[i].floor, (long long)cases[i].next);
    }
}

static void test_slot_properties(void **state)
{
    (void)state;
    /* For many times: floor <= now < next, next - floor == I, both == P (mod I). */
    static const uint32_t intervals[] = {1, 2, 10, 60, 300, 3600, 86400};
    uint64_t x = 88172645463325252ULL;
    for (size_t k = 0; k < sizeof intervals / sizeof intervals[0]; k++) {
        for (int i = 0; i < 2000; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            int64_t now = DAY0 + (int64_t)(x % (40LL * 86400 * S));
            uint32_t I = intervals[k];
            uint32_t P = (uint32_t)(x >> 40) % (I * 1000);
            int64_t fl = sched_slot_floor(now, I, P), nx = sched_slot_next(now, I, P);
            assert_true(fl <= now && now < nx);
            assert_int_equal(nx - fl, (int64_t)I * S);
            assert_int_equal((fl - (int64_t)P * 1000) % ((int64_t)I * S), 0);
        }
    }
}

typedef struct collected {
    int n;
    uint64_t probe_id[16];
    int64_t ts_us[16];
    px_status_t status[16];
    char message[16][PROBE_MSG_MAX];
    struct event_base *base;
} collected_t;

static void collect(const sched_result_t *r, void *arg)
{
    collected_t *c = arg;
    if (c->n < 16) {
        c->probe_id[c->n] = r->probe_id;
        c->ts_us[c->n] = r->ts_us;
        c->status[c->n] = r->result->status;
        snprintf(c->message[c->n], PROBE_MSG_MAX, "%s", r->result->message);
    }
    if (++c->n >= 2)
        event_base_loopbreak(c->base);
}

/* A schedule built from parallel arrays. */
typedef struct sched_fixture {
    Parallax__Probe probes[8];
    Parallax__Probe *ptrs[8];
    Parallax__Schedule sched;
} sched_fixture_t;

static void build(sched_fixture_t *sf, uint64_t version, size_t n, const uint64_t *ids,
                  const char *const *specs, const uint32_t *intervals)
{
    parallax__schedule__init(&sf->sched);
    sf->sched.version = version;
    for (size_t i = 0; i < n; i++) {
        parallax__probe__init(&sf->probes[i]);
        sf->probes[i].probe_id = ids[i];
        sf->probes[i].target = "t";
        sf->probes[i].address = "127.0.0.1";
        sf->probes[i].spec = (char *)specs[i];
        sf->probes[i].interval_s = intervals[i];
        sf->probes[i].phase_ms = 0;
        sf->probes[i].timeout_ms = 1000;
        sf->ptrs[i] = &sf->probes[i];
    }
    sf->sched.n_probes = n;
    sf->sched.probes = sf->ptrs;
}

static void test_replacement_keeps_unchanged(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    probe_env_t *env = probe_env_new(base);
    collected_t c = {.base = base};
    err_t err = {{0}};
    sched_t *s = sched_new(base, env, collect, &c, &err);
    assert_non_null(s);
    assert_int_equal(sched_version(s), 0);

    sched_fixture_t a, b;
    static const uint64_t ids_a[] = {30, 10, 20};
    static const char *const specs_a[] = {"icmp", "tcp:80", "icmp"};
    static const uint32_t iv_a[] = {60, 60, 60};
    build(&a, 1, 3, ids_a, specs_a, iv_a);
    sched_apply_stats_t st;
    assert_int_equal(sched_apply(s, &a.sched, &st, &err), 0);
    assert_int_equal(st.added, 3);
    assert_int_equal(sched_count(s), 3);
    assert_int_equal(sched_version(s), 1);
    sched_probe_info_t i10, i20, i30, after;
    assert_int_equal(sched_probe_info(s, 10, &i10), 0);
    assert_int_equal(sched_probe_info(s, 20, &i20), 0);
    assert_int_equal(sched_probe_info(s, 30, &i30), 0);
    assert_true(i10.next_us > time_now_us() - S && i10.next_us % (60 * S) == 0);

    /* 10 unchanged (timeout changes in place), 20 gets a new spec, 30 a new interval,
     * 40 is new, and 40 is listed twice. */
    static const uint64_t ids_b[] = {40, 10, 20, 30, 40};
    static const char *const specs_b[] = {"tcp:22", "tcp:80", "tcp:443", "icmp", "icmp"};
    static const uint32_t iv_b[] = {60, 60, 60, 120, 60};
    build(&b, 2, 5, ids_b, specs_b, iv_b);
    b.probes[1].timeout_ms = 2500;
    assert_int_equal(sched_apply(s, &b.sched, &st, &err), 0);
    assert_int_equal(st.kept, 1);
    assert_int_equal(st.added, 3);
    assert_int_equal(st.removed, 2);
    assert_int_equal(st.ignored, 1);
    assert_int_equal(sched_count(s), 4);
    assert_int_equal(sched_probe_info(s, 10, &after), 0);
    assert_int_equal(after.serial, i10.serial);
    assert_int_equal(after.next_us, i10.next_us);
    assert_int_equal(after.timeout_ms, 2500);
    assert_int_equal(sched_probe_info(s, 20, &after), 0);
    assert_true(after.serial != i20.serial);
    assert_int_equal(sched_probe_info(s, 30, &after), 0);
    assert_true(after.serial != i30.serial);
    assert_int_equal(after.next_us % (120 * S), 0);
    assert_int_equal(sched_probe_info(s, 40, &after), 0);
    assert_int_equal(sched_probe_info(s, 99, &after), -1);

    /* An empty schedule removes everything. */
    build(&a, 3, 0, NULL, NULL, NULL);
    assert_int_equal(sched_apply(s, &a.sched, &st, &err), 0);
    assert_int_equal(st.removed, 4);
    assert_int_equal(sched_count(s), 0);
    assert_int_equal(c.n, 0);

    sched_destroy(&s);
    assert_null(s);
    probe_env_destroy(&env);
    event_base_free(base);
}

/* Two 1 s probes that cannot measure anything (an out-of-range port and an unknown kind)
 * still run on whole seconds and report LOCAL_ERROR with a message naming the problem. */
static void test_runs_on_the_round(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    probe_env_t *env = probe_env_new(base);
    collected_t c = {.base = base};
    err_t err = {{0}};
    sched_t *s = sched_new(base, env, collect, &c, &err);
    sched_fixture_t a;
    static const uint64_t ids[] = {1, 2};
    static const char *const specs[] = {"tcp:99999", "bogus"};
    static const uint32_t iv[] = {1, 1};
    build(&a, 5, 2, ids, specs, iv);
    assert_int_equal(sched_apply(s, &a.sched, NULL, &err), 0);
    int64_t start = time_now_us();
    struct timeval limit = {.tv_sec = 3, .tv_usec = 0};
    event_base_loopexit(base, &limit);
    event_base_dispatch(base);
    assert_true(c.n >= 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(c.status[i], PX_STATUS_LOCAL_ERROR);
        assert_int_equal(c.ts_us[i] % S, 0);
        assert_true(c.ts_us[i] > start && c.ts_us[i] <= start + 2 * S);
        assert_non_null(strstr(c.message[i], "bad probe spec"));
        if (c.probe_id[i] == 1)
            assert_non_null(strstr(c.message[i], "tcp:PORT"));
        else
            assert_non_null(strstr(c.message[i], "unknown probe kind 'bogus'"));
    }
    sched_stop(s);
    assert_int_equal(sched_in_flight(s), 0);
    sched_destroy(&s);
    probe_env_destroy(&env);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slot_arithmetic),
        cmocka_unit_test(test_slot_properties),
        cmocka_unit_test(test_replacement_keeps_unchanged),
        cmocka_unit_test(test_runs_on_the_round),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
