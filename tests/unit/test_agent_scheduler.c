/* Unit tests for sched: the round arithmetic (k*I + P on the UTC clock, around round
 * boundaries, phase 0, intervals of 1 s and 1 day), schedule replacement that keeps
 * unchanged probes running, one real round through the event loop, what a timer does with
 * its slot (run, skip as late or busy, slots slept through), and runs that cannot start on
 * time reported, counted and logged, never left out silently. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "probe.h"
#include "scheduler.h"
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
        int64_t fl = scheduler_slot_floor(cases[i].now, cases[i].interval_s, cases[i].phase_ms);
        int64_t nx = scheduler_slot_next(cases[i].now, cases[i].interval_s, cases[i].phase_ms);
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
            int64_t fl = scheduler_slot_floor(now, I, P), nx = scheduler_slot_next(now, I, P);
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

static void collect(const scheduler_result_t *r, void *arg)
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
typedef struct scheduler_fixture {
    Parallax__Probe probes[8];
    Parallax__Probe *ptrs[8];
    Parallax__Schedule sched;
} scheduler_fixture_t;

static void build(scheduler_fixture_t *sf, uint64_t version, size_t n, const uint64_t *ids,
                  const char *const *specs, const uint32_t *intervals)
{
    parallax__schedule__init(&sf->sched);
    sf->sched.version = version;
    for (size_t i = 0; i < n; i++) {
        parallax__probe__init(&sf->probes[i]);
        sf->probes[i].probe_id = ids[i];
        sf->probes[i].target = "t";
        sf->probes[i].address = "127.0.0.1";
        sf->probes[i].allow_internal = 1; /* loopback: on the deny-list but for this */
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
    scheduler_t *s = scheduler_new(base, env, collect, &c, &err);
    assert_non_null(s);
    assert_int_equal(scheduler_version(s), 0);

    scheduler_fixture_t a, b;
    static const uint64_t ids_a[] = {30, 10, 20};
    static const char *const specs_a[] = {"icmp", "tcp:80", "icmp"};
    static const uint32_t iv_a[] = {60, 60, 60};
    build(&a, 1, 3, ids_a, specs_a, iv_a);
    scheduler_apply_stats_t st;
    assert_int_equal(scheduler_apply(s, &a.sched, &st, &err), 0);
    assert_int_equal(st.added, 3);
    assert_int_equal(scheduler_count(s), 3);
    assert_int_equal(scheduler_version(s), 1);
    scheduler_probe_info_t i10, i20, i30, after;
    assert_int_equal(scheduler_probe_info(s, 10, &i10), 0);
    assert_int_equal(scheduler_probe_info(s, 20, &i20), 0);
    assert_int_equal(scheduler_probe_info(s, 30, &i30), 0);
    assert_true(i10.next_us > time_now_us() - S && i10.next_us % (60 * S) == 0);

    /* 10 unchanged (timeout changes in place), 20 gets a new spec, 30 a new interval,
     * 40 is new, and 40 is listed twice. */
    static const uint64_t ids_b[] = {40, 10, 20, 30, 40};
    static const char *const specs_b[] = {"tcp:22", "tcp:80", "tcp:443", "icmp", "icmp"};
    static const uint32_t iv_b[] = {60, 60, 60, 120, 60};
    build(&b, 2, 5, ids_b, specs_b, iv_b);
    b.probes[1].timeout_ms = 2500;
    assert_int_equal(scheduler_apply(s, &b.sched, &st, &err), 0);
    assert_int_equal(st.kept, 1);
    assert_int_equal(st.added, 3);
    assert_int_equal(st.removed, 2);
    assert_int_equal(st.ignored, 1);
    assert_int_equal(scheduler_count(s), 4);
    assert_int_equal(scheduler_probe_info(s, 10, &after), 0);
    assert_int_equal(after.serial, i10.serial);
    assert_int_equal(after.next_us, i10.next_us);
    assert_int_equal(after.timeout_ms, 2500);
    assert_int_equal(scheduler_probe_info(s, 20, &after), 0);
    assert_true(after.serial != i20.serial);
    assert_int_equal(scheduler_probe_info(s, 30, &after), 0);
    assert_true(after.serial != i30.serial);
    assert_int_equal(after.next_us % (120 * S), 0);
    assert_int_equal(scheduler_probe_info(s, 40, &after), 0);
    assert_int_equal(scheduler_probe_info(s, 99, &after), -1);

    /* Loopback without the operator's leave: on the deny-list, removed and not run; with it
     * again, scheduled anew. */
    b.probes[1].allow_internal = 0;
    b.sched.version = 3;
    assert_int_equal(scheduler_apply(s, &b.sched, &st, &err), 0);
    assert_int_equal(st.denied, 1);
    assert_int_equal(st.removed, 1);
    assert_int_equal(scheduler_probe_info(s, 10, &after), -1);
    assert_int_equal(scheduler_count(s), 3);
    b.probes[1].allow_internal = 1;
    b.sched.version = 4;
    assert_int_equal(scheduler_apply(s, &b.sched, &st, &err), 0);
    assert_int_equal(st.denied, 0);
    assert_int_equal(st.added, 1);
    assert_int_equal(scheduler_probe_info(s, 10, &after), 0);

    /* An empty schedule removes everything. */
    build(&a, 5, 0, NULL, NULL, NULL);
    assert_int_equal(scheduler_apply(s, &a.sched, &st, &err), 0);
    assert_int_equal(st.removed, 4);
    assert_int_equal(scheduler_count(s), 0);
    assert_int_equal(c.n, 0);

    scheduler_destroy(&s);
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
    scheduler_t *s = scheduler_new(base, env, collect, &c, &err);
    scheduler_fixture_t a;
    static const uint64_t ids[] = {1, 2};
    static const char *const specs[] = {"tcp:99999", "bogus"};
    static const uint32_t iv[] = {1, 1};
    build(&a, 5, 2, ids, specs, iv);
    assert_int_equal(scheduler_apply(s, &a.sched, NULL, &err), 0);
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
    scheduler_stop(s);
    assert_int_equal(scheduler_in_flight(s), 0);
    scheduler_destroy(&s);
    probe_env_destroy(&env);
    event_base_free(base);
}

typedef struct requested {
    int n;
    uint64_t request_id[SCHEDULER_MAX_REQUESTS + 1];
    uint64_t probe_id[SCHEDULER_MAX_REQUESTS + 1];
    int64_t ts_us[SCHEDULER_MAX_REQUESTS + 1];
    int want;
    struct event_base *base;
} requested_t;

static void collect_requested(const scheduler_result_t *r, void *arg)
{
    requested_t *c = arg;
    if (c->n <= SCHEDULER_MAX_REQUESTS) {
        c->request_id[c->n] = r->request_id;
        c->probe_id[c->n] = r->probe_id;
        c->ts_us[c->n] = r->ts_us;
    }
    if (++c->n >= c->want)
        event_base_loopbreak(c->base);
}

/* One-off requests: run once at once with their id on the result, whatever their interval;
 * refused when denied; at most SCHEDULER_MAX_REQUESTS queued or running (here held in the
 * max_pps queue at 1 packet a second), the rest refused and counted; taken again once those
 * have reported; a stop forgets those still waiting. */
static void test_requests(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    probe_env_t *env = probe_env_new(base);
    requested_t c = {.base = base, .want = 3};
    err_t err = {{0}};
    scheduler_t *s = scheduler_new(base, env, collect_requested, &c, &err);
    assert_non_null(s);
    scheduler_fixture_t a;
    static const uint64_t ids[] = {7};
    static const char *const specs[] = {"bogus"};
    static const uint32_t iv[] = {3600};
    build(&a, 1, 1, ids, specs, iv);
    Parallax__Probe *p = &a.probes[0];

    int64_t start = time_now_us();
    for (uint64_t id = 1; id <= 3; id++)
        assert_int_equal(scheduler_request(s, 100 + id, p, &err), 0);
    assert_int_equal(scheduler_requests_pending(s), 3);
    struct timeval limit = {.tv_sec = 5, .tv_usec = 0};
    event_base_loopexit(base, &limit);
    event_base_dispatch(base);
    assert_int_equal(c.n, 3);
    uint64_t seen = 0;
    for (int i = 0; i < 3; i++) {
        assert_true(c.request_id[i] >= 101 && c.request_id[i] <= 103);
        seen |= 1u << (c.request_id[i] - 101);
        assert_int_equal(c.probe_id[i], 7);
        /* Now, not at the hourly slot the interval would give. */
        assert_true(c.ts_us[i] >= start && c.ts_us[i] <= time_now_us());
    }
    assert_int_equal(seen, 7);
    assert_int_equal(scheduler_requests_pending(s), 0);

    /* The deny-list holds for requests too. */
    p->allow_internal = 0;
    assert_int_equal(scheduler_request(s, 200, p, &err), -1);
    assert_non_null(strstr(err.msg, "127.0.0.1"));
    p->allow_internal = 1;
    assert_int_equal(scheduler_request(s, 0, p, &err), -1);

    /* The bound: one packet a second holds all but the first in the queue. */
    scheduler_set_max_pps(s, 1);
    for (uint64_t id = 1; id <= SCHEDULER_MAX_REQUESTS; id++)
        if (scheduler_request(s, 1000 + id, p, &err) < 0)
            fail_msg("request %llu refused: %s", (unsigned long long)id, err.msg);
    assert_int_equal(scheduler_requests_pending(s), SCHEDULER_MAX_REQUESTS);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(scheduler_request(s, 2000 + (uint64_t)i, p, &err), -1);
        assert_non_null(strstr(err.msg, "queued or running already"));
    }
    assert_int_equal(scheduler_requests_pending(s), SCHEDULER_MAX_REQUESTS);
    scheduler_counters_t k;
    scheduler_counters(s, &k);
    assert_int_equal(k.requests, 3 + SCHEDULER_MAX_REQUESTS);
    assert_int_equal(k.requests_refused, 3);
    assert_int_equal(k.requests_denied, 1);

    /* The first (not paced) reports; then one more is taken. */
    c.n = 0;
    c.want = 1;
    event_base_loopexit(base, &limit);
    event_base_dispatch(base);
    assert_true(c.n >= 1);
    assert_true(scheduler_requests_pending(s) < SCHEDULER_MAX_REQUESTS);
    assert_int_equal(scheduler_request(s, 3000, p, &err), 0);

    /* A stop forgets the rest (ASan sees nothing leak), and takes no more. */
    scheduler_stop(s);
    assert_int_equal(scheduler_requests_pending(s), 0);
    assert_int_equal(scheduler_request(s, 3001, p, &err), -1);
    scheduler_destroy(&s);

    /* Destroying with requests still queued frees them too. */
    s = scheduler_new(base, env, collect_requested, &c, &err);
    scheduler_set_max_pps(s, 1);
    for (uint64_t id = 1; id <= 5; id++)
        assert_int_equal(scheduler_request(s, id, p, &err), 0);
    scheduler_destroy(&s);
    probe_env_destroy(&env);
    event_base_free(base);
}

static void test_plan(void **state)
{
    (void)state;
    /* DAY0 is a slot of every interval here (phase 0). */
    static const struct {
        const char *what;
        int64_t now, mono_late, last;
        uint32_t interval_s;
        int busy;
        int64_t run, last_after, from, to;
        uint64_t late, busy_out;
    } cases[] = {
        {"on time", DAY0 + 1000, 1000, DAY0 - 5 * S, 5, 0, DAY0, DAY0, 0, 0, 0, 0},
        {"first run", DAY0 + 1000, 0, 0, 5, 0, DAY0, DAY0, 0, 0, 0, 0},
        {"a little early: the slot before is done", DAY0 - 1000, -1000, DAY0 - 5 * S, 5, 0, 0,
         DAY0 - 5 * S, 0, 0, 0, 0},
        {"wall clock stepped back", DAY0 - 60 * S, 0, DAY0, 5, 0, 0, DAY0, 0, 0, 0, 0},
        {"the run before still going", DAY0 + 1000, 1000, DAY0 - 5 * S, 5, 1, 0, DAY0, DAY0, DAY0,
         0, 1},
        {"2.5 s late on 5 s: run", DAY0 + 2500 * 1000, 2500 * 1000, DAY0 - 5 * S, 5, 0, DAY0, DAY0,
         0, 0, 0, 0},
        {"3 s late on 5 s: skipped", DAY0 + 3 * S, 3 * S, DAY0 - 5 * S, 5, 0, 0, DAY0, DAY0, DAY0,
         1, 0},
        {"3 s late on 60 s: run", DAY0 + 3 * S, 3 * S, DAY0 - 60 * S, 60, 0, DAY0, DAY0, 0, 0, 0,
         0},
        {"late and busy: late", DAY0 + 3 * S, 3 * S, DAY0 - 5 * S, 5, 1, 0, DAY0, DAY0, DAY0, 1, 0},
        {"slept through 2 slots", DAY0 + 200 * 1000, 3200 * 1000, DAY0 - 3 * S, 1, 0, DAY0, DAY0,
         DAY0 - 2 * S, DAY0 - S, 2, 0},
        {"slept through 2 slots, then busy", DAY0 + 200 * 1000, 3200 * 1000, DAY0 - 3 * S, 1, 1, 0,
         DAY0, DAY0 - 2 * S, DAY0, 2, 1},
        {"wall clock stepped forward: no time passed in the slots between", DAY0 + 200 * 1000,
         200 * 1000, DAY0 - 3600 * S, 1, 0, DAY0, DAY0, 0, 0, 0, 0},
        {"stepped forward while 1.5 s late", DAY0 + 200 * 1000, 1500 * 1000, DAY0 - 3600 * S, 1, 0,
         DAY0, DAY0, DAY0 - S, DAY0 - S, 1, 0},
        {"late longer than the wall clock says", DAY0 + 200 * 1000, 60 * S, DAY0 - 2 * S, 1, 0,
         DAY0, DAY0, DAY0 - S, DAY0 - S, 1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        scheduler_plan_t p;
        scheduler_plan(cases[i].now, cases[i].mono_late, cases[i].last, cases[i].interval_s, 0,
                       cases[i].busy, &p);
        if (p.run_us != cases[i].run || p.last_us != cases[i].last_after ||
            p.skip_from_us != cases[i].from || p.skip_to_us != cases[i].to ||
            p.late != cases[i].late || p.busy != cases[i].busy_out)
            fail_msg("%s: run %lld last %lld skip %lld..%lld late %llu busy %llu", cases[i].what,
                     (long long)(p.run_us ? p.run_us - DAY0 : -1), (long long)(p.last_us - DAY0),
                     (long long)(p.skip_from_us - DAY0), (long long)(p.skip_to_us - DAY0),
                     (unsigned long long)p.late, (unsigned long long)p.busy);
        /* Every slot after the last one dealt with is either run or skipped: no hole. */
        if (p.last_us != cases[i].last) {
            int64_t iv = (int64_t)cases[i].interval_s * S;
            uint64_t gone = p.late + p.busy + (p.run_us != 0);
            int64_t first = p.skip_from_us ? p.skip_from_us : p.run_us;
            assert_int_equal(first + (int64_t)(gone - 1) * iv, p.last_us);
        }
    }
}

/* What a loop over probes that cannot all run saw: results and skips per probe. */
#define TRACKED 3
#define SLOTS 64
typedef struct tracked {
    int64_t slot[TRACKED + 1][SLOTS]; /* by probe id 1..TRACKED: slot times seen */
    char how[TRACKED + 1][SLOTS];     /* 'r' a result, 'b' skipped busy, 'l' skipped late */
    int n[TRACKED + 1];
    int skips;
} tracked_t;

static void track(tracked_t *t, uint64_t probe_id, int64_t ts, char how)
{
    assert_true(probe_id >= 1 && probe_id <= TRACKED);
    if (t->n[probe_id] < SLOTS) {
        t->slot[probe_id][t->n[probe_id]] = ts;
        t->how[probe_id][t->n[probe_id]++] = how;
    }
}

static void track_result(const scheduler_result_t *r, void *arg)
{
    track(arg, r->probe_id, r->ts_us, 'r');
}

static void track_skip(const scheduler_skip_t *k, void *arg)
{
    tracked_t *t = arg;
    t->skips++;
    assert_true(k->to_us >= k->from_us && k->late + k->busy >= 1 && k->busy <= 1);
    assert_int_equal((k->to_us - k->from_us) / S + 1, (int64_t)(k->late + k->busy));
    for (int64_t ts = k->from_us; ts <= k->to_us; ts += S)
        track(t, k->probe_id, ts, ts == k->to_us && k->busy ? 'b' : 'l');
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Three probes every second through a ceiling of one run a second: most runs cannot start
 * while the one before waits for its turn. Each such run is handed on as a skip and counted,
 * every slot between a probe's first and last result is accounted for, and the log has one
 * info line per probe (at most one a minute), not one per skip. */
static void test_skips_reported(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    probe_env_t *env = probe_env_new(base);
    tracked_t t = {0};
    err_t err = {{0}};
    scheduler_t *s = scheduler_new(base, env, track_result, &t, &err);
    scheduler_set_max_pps(s, 1);
    scheduler_set_skip_fn(s, track_skip, &t);
    scheduler_fixture_t a;
    static const uint64_t ids[] = {1, 2, 3};
    static const char *const specs[] = {"bogus", "bogus", "bogus"};
    static const uint32_t iv[] = {1, 1, 1};
    build(&a, 7, 3, ids, specs, iv);
    assert_int_equal(scheduler_apply(s, &a.sched, NULL, &err), 0);

    /* The log goes to stderr: catch it in a file for the duration of the loop. */
    fflush(stderr);
    int saved = dup(2);
    FILE *logf = tmpfile();
    assert_true(saved >= 0 && logf);
    dup2(fileno(logf), 2);
    struct timeval limit = {.tv_sec = 5, .tv_usec = 0};
    event_base_loopexit(base, &limit);
    event_base_dispatch(base);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);

    scheduler_counters_t c;
    scheduler_counters(s, &c);
    /* About 15 slots and at most about 6 runs: at least a few are busy skips. */
    if (c.skipped_busy < 3 || c.runs > 7)
        fail_msg("runs %llu, skipped busy %llu late %llu", (unsigned long long)c.runs,
                 (unsigned long long)c.skipped_busy, (unsigned long long)c.skipped_late);
    /* Up to a probe's last result: its run still waiting when the loop ended has no result
     * yet, though the slots after it may have been skipped already. */
    uint64_t skipped = 0;
    for (int id = 1; id <= TRACKED; id++) {
        int64_t last_result = 0;
        for (int k = 0; k < t.n[id]; k++) {
            if (t.how[id][k] == 'r' && t.slot[id][k] > last_result)
                last_result = t.slot[id][k];
            skipped += t.how[id][k] != 'r';
        }
        qsort(t.slot[id], (size_t)t.n[id], sizeof t.slot[id][0], cmp_i64);
        for (int k = 1; k < t.n[id] && t.slot[id][k] <= last_result; k++)
            if (t.slot[id][k] != t.slot[id][k - 1] + S)
                fail_msg("probe %d: slot %lld then %lld: a hole or a slot twice", id,
                         (long long)(t.slot[id][k - 1] / S), (long long)(t.slot[id][k] / S));
    }
    /* Every skip the counters know was handed on. */
    assert_int_equal(skipped, c.skipped_busy + c.skipped_late);

    rewind(logf);
    char line[1024];
    int lines[TRACKED + 1] = {0};
    while (fgets(line, sizeof line, logf)) {
        const char *p = strstr(line, "sched: probe ");
        int id;
        if (p && strstr(line, "not started") && sscanf(p, "sched: probe %d ", &id) == 1 &&
            id >= 1 && id <= TRACKED) {
            lines[id]++;
            assert_non_null(strstr(line, "reported as a gap"));
        }
    }
    fclose(logf);
    int logged = 0;
    for (int id = 1; id <= TRACKED; id++) {
        assert_true(lines[id] <= 1);
        logged += lines[id];
    }
    assert_true(logged >= 1);

    scheduler_destroy(&s);
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
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_skips_reported),
        cmocka_unit_test(test_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
