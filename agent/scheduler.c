/* scheduler: one timer per scheduled probe, entries kept sorted by probe id so that replacing a
 * schedule of tens of thousands of probes is a merge, not a quadratic search. */
#include "scheduler.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "pace.h"
#include "target_deny.h"
#include "timeutil.h"
#include "timer.h"

#define US_PER_S 1000000LL
/* A timer that fires later than this after its slot skips the run: a result stamped far
 * from when it was measured would mislead more than a missing one. */
#define SCHEDULER_MAX_LATE_US (2 * US_PER_S)
/* A probe's skipped runs are logged at info at most this often (each line says how many
 * went unlogged since the one before): a probe that cannot keep up skips every other round,
 * and one line a round would bury the rest of the log. */
#define SCHEDULER_SKIP_LOG_US (60 * US_PER_S)

typedef struct scheduler_entry {
    scheduler_t *sched;
    uint64_t serial;
    /* Spec: what the coordinator asked for. */
    uint64_t probe_id;
    char *spec;
    char *address;
    uint32_t interval_s;
    uint32_t phase_ms;
    int control;
    probe_target_t target;
    char *error; /* LOCAL_ERROR message for every run, or NULL */
    /* State: timer and the run under way. */
    struct event *timer;
    int64_t next_us;
    int64_t due_mono_us;    /* when the timer is due, by the monotonic clock */
    int64_t last_ts_us;     /* the latest slot dealt with: run or skipped */
    int64_t skip_logged_us; /* monotonic time of the last skip line; 0: none yet */
    uint64_t skips_unlogged;
    probe_run_t *run;
    int64_t run_ts_us;
    pace_ticket_t *ticket; /* waiting for the pps ceiling to let the run start */
    uint64_t request_id;   /* a one-off request's entry (in sched.requests): no timer */
} scheduler_entry_t;

struct sched {
    struct event_base *base;
    probe_env_t *env;
    scheduler_result_fn fn;
    void *arg;
    int deny_own_networks;
    scheduler_skip_fn skip_fn;
    void *skip_arg;
    scheduler_counters_t c;
    uint64_t version;
    uint64_t next_serial;
    int stopped;
    pace_t *pace;                /* the agent's packets-per-second ceiling */
    scheduler_entry_t **entries; /* sorted by probe_id */
    size_t count;
    /* One-off requests queued or running, in no order; each freed when its run reports. */
    scheduler_entry_t *requests[SCHEDULER_MAX_REQUESTS];
    size_t n_requests;
};

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t scheduler_slot_floor(int64_t now_us, uint32_t interval_s, uint32_t phase_ms)
{
    int64_t interval = (int64_t)interval_s * US_PER_S;
    int64_t phase = (int64_t)phase_ms * 1000;
    return floor_div(now_us - phase, interval) * interval + phase;
}

int64_t scheduler_slot_next(int64_t now_us, uint32_t interval_s, uint32_t phase_ms)
{
    return scheduler_slot_floor(now_us, interval_s, phase_ms) + (int64_t)interval_s * US_PER_S;
}

void scheduler_plan(int64_t now_us, int64_t mono_late_us, int64_t last_us, uint32_t interval_s,
                    uint32_t phase_ms, int busy, scheduler_plan_t *out)
{
    int64_t interval = (int64_t)interval_s * US_PER_S;
    int64_t due = scheduler_slot_floor(now_us, interval_s, phase_ms);
    *out = (scheduler_plan_t){.last_us = last_us};
    if (due <= last_us)
        return;
    out->last_us = due;
    /* Slots between the last one and this were slept through, if the timer really fired
     * that late: a wall clock stepped forward skips slots no time was spent in. */
    if (last_us != 0) {
        int64_t missed = (due - last_us) / interval - 1;
        int64_t passed = mono_late_us > 0 ? mono_late_us / interval : 0;
        if (missed > passed)
            missed = passed;
        if (missed > 0) {
            out->skip_from_us = due - missed * interval;
            out->skip_to_us = due - interval;
            out->late = (uint64_t)missed;
        }
    }
    int too_late = now_us - due > SCHEDULER_MAX_LATE_US && now_us - due > interval / 2;
    if (!too_late && !busy) {
        out->run_us = due;
        return;
    }
    if (out->skip_from_us == 0)
        out->skip_from_us = due;
    out->skip_to_us = due;
    if (too_late)
        out->late++;
    else
        out->busy = 1;
}

static void arm(scheduler_entry_t *e, int64_t now)
{
    e->next_us = scheduler_slot_next(now, e->interval_s, e->phase_ms);
    int64_t delay = e->next_us - now;
    e->due_mono_us = time_mono_us() + delay;
    /* Unarmed, the probe would never run again: say so loudly. */
    if (timer_arm_us(e->timer, delay) < 0)
        log_error("sched: cannot arm the timer of probe %llu: it stops running",
                  (unsigned long long)e->probe_id);
}

static void entry_free(scheduler_entry_t *e);

/* Takes a finished or cancelled request's entry out of the list and frees it. */
static void request_forget(scheduler_entry_t *e)
{
    scheduler_t *s = e->sched;
    for (size_t i = 0; i < s->n_requests; i++)
        if (s->requests[i] == e) {
            s->requests[i] = s->requests[--s->n_requests];
            break;
        }
    entry_free(e);
}

static void run_done_cb(const probe_result_t *res, void *arg)
{
    scheduler_entry_t *e = arg;
    e->run = NULL;
    scheduler_result_t r = {.probe_id = e->probe_id,
                            .request_id = e->request_id,
                            .ts_us = e->run_ts_us,
                            .control = e->control,
                            .result = res};
    e->sched->fn(&r, e->sched->arg);
    /* The run frees itself after this returns and no longer needs e. */
    if (e->request_id)
        request_forget(e);
}

static void entry_start(scheduler_entry_t *e)
{
    e->run = probe_start(e->sched->env, &e->target, run_done_cb, e);
    if (!e->run) {
        log_error("sched: out of memory starting probe %llu", (unsigned long long)e->probe_id);
        if (e->request_id)
            request_forget(e);
    } else {
        e->sched->c.runs++;
    }
}

/* Writes wall time us as 2026-01-01T00:00:05Z (with .mmm when not on a whole second). */
static void format_utc(int64_t us, char *buf, size_t len)
{
    time_t sec = (time_t)(us / US_PER_S);
    int ms = (int)(us % US_PER_S / 1000);
    struct tm tm;
    size_t n = gmtime_r(&sec, &tm) ? strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm) : 0;
    snprintf(buf + n, len - n, ms ? ".%03dZ" : "Z", ms);
}

/* One info line for skips of e, saying which runs, why and how many more went unlogged. */
static void log_skip(const scheduler_entry_t *e, const scheduler_plan_t *p, int64_t now_us)
{
    char from[40], to[40], why[96];
    format_utc(p->skip_from_us, from, sizeof from);
    format_utc(p->skip_to_us, to, sizeof to);
    const char *busy = e->run ? "its previous run was still going"
                              : "its previous run was still waiting for max_pps";
    if (p->late && p->busy)
        snprintf(why, sizeof why, "the agent woke %lld ms late, and %s",
                 (long long)((now_us - p->skip_from_us) / 1000), busy);
    else if (p->late)
        snprintf(why, sizeof why, "the agent woke %lld ms after the slot",
                 (long long)((now_us - p->skip_from_us) / 1000));
    else
        snprintf(why, sizeof why, "%s", busy);
    uint64_t n = p->late + p->busy;
    log_info("sched: probe %llu (%s at %s, every %u s, timeout %u ms): %llu run%s %s%s%s not "
             "started: %s%s (%llu more skipped since the last such line)",
             (unsigned long long)e->probe_id, e->spec, e->address, e->interval_s,
             e->target.timeout_ms, (unsigned long long)n, n == 1 ? " at" : "s from", from,
             n == 1 ? "" : " to ", n == 1 ? "" : to, why,
             e->sched->skip_fn ? "; reported as a gap" : "", (unsigned long long)e->skips_unlogged);
}

/* Counts, logs (at most once a minute per probe) and hands on the runs p skips. */
static void entry_skipped(scheduler_entry_t *e, const scheduler_plan_t *p, int64_t now_us,
                          int64_t mono)
{
    scheduler_t *s = e->sched;
    s->c.skipped_late += p->late;
    s->c.skipped_busy += p->busy;
    if (e->skip_logged_us == 0 || mono - e->skip_logged_us >= SCHEDULER_SKIP_LOG_US) {
        log_skip(e, p, now_us);
        e->skip_logged_us = mono;
        e->skips_unlogged = 0;
    } else {
        e->skips_unlogged += p->late + p->busy;
    }
    if (s->skip_fn) {
        scheduler_skip_t k = {.probe_id = e->probe_id,
                              .from_us = p->skip_from_us,
                              .to_us = p->skip_to_us,
                              .late = p->late,
                              .busy = p->busy};
        s->skip_fn(&k, s->skip_arg);
    }
}

/* The ceiling let a waiting run go: it starts now but keeps its scheduled ts_us, so its
 * result still falls in the same bin as the other agents'. */
static void paced_cb(void *arg)
{
    scheduler_entry_t *e = arg;
    e->ticket = NULL;
    if (!e->sched->stopped)
        entry_start(e);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    scheduler_entry_t *e = arg;
    int64_t now = time_now_us();
    int64_t mono = time_mono_us();
    /* The timer runs on the monotonic clock, the slots on the wall clock: a timer may fire a
     * little early (the slot due is then the one already dealt with) or the wall clock may
     * have been stepped. Only a slot after the last one is run, and only on time. */
    scheduler_plan_t p;
    scheduler_plan(now, mono - e->due_mono_us, e->last_ts_us, e->interval_s, e->phase_ms,
                   e->run || e->ticket, &p);
    if (p.last_us == e->last_ts_us)
        log_debug("sched: probe %llu woke before its slot; re-arming",
                  (unsigned long long)e->probe_id);
    e->last_ts_us = p.last_us;
    if (p.skip_from_us)
        entry_skipped(e, &p, now, mono);
    if (p.run_us) {
        e->run_ts_us = p.run_us;
        /* Errors send nothing but still go through the queue: FIFO order stays fair. */
        uint32_t cost = e->target.error ? 1 : probe_max_packets(e->target.kind);
        if (pace_try(e->sched->pace, cost))
            entry_start(e);
        else if (!(e->ticket = pace_wait(e->sched->pace, cost, paced_cb, e)))
            log_error("sched: out of memory queueing probe %llu", (unsigned long long)e->probe_id);
    }
    if (!e->sched->stopped)
        arm(e, now);
}

static void entry_free(scheduler_entry_t *e)
{
    if (!e)
        return;
    if (e->timer)
        event_free(e->timer);
    pace_cancel(e->sched->pace, &e->ticket);
    probe_cancel(&e->run);
    free(e->spec);
    free(e->address);
    free(e->error);
    free(e);
}

/* Builds the probe target from spec and address; problems become the entry's error text so
 * every run reports them to the operator as LOCAL_ERROR results. */
static void entry_prepare(scheduler_entry_t *e, uint32_t timeout_ms)
{
    char msg[PROBE_MSG_MAX];
    probe_target_prepare(&e->target, e->address, e->spec, timeout_ms, msg);
    if (e->target.error) {
        /* The target must not point into this stack frame: keep the text with the entry. */
        e->error = strdup(msg);
        e->target.error = e->error ? e->error : "out of memory";
    }
}

static scheduler_entry_t *entry_new(scheduler_t *s, const Parallax__Probe *p, uint64_t request_id)
{
    scheduler_entry_t *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->sched = s;
    e->serial = ++s->next_serial;
    e->probe_id = p->probe_id;
    e->spec = strdup(p->spec ? p->spec : "");
    e->address = strdup(p->address ? p->address : "");
    e->interval_s = p->interval_s;
    e->phase_ms = p->phase_ms;
    e->control = p->control;
    e->request_id = request_id;
    if (!request_id)
        e->timer = evtimer_new(s->base, timer_cb, e);
    if (!e->spec || !e->address || (!request_id && !e->timer)) {
        entry_free(e);
        return NULL;
    }
    entry_prepare(e, p->timeout_ms);
    return e;
}

static int same_run(const scheduler_entry_t *e, const Parallax__Probe *p)
{
    return e->interval_s == p->interval_s && e->phase_ms == p->phase_ms &&
           strcmp(e->spec, p->spec ? p->spec : "") == 0 &&
           strcmp(e->address, p->address ? p->address : "") == 0;
}

static int cmp_probe_ptr(const void *a, const void *b)
{
    const Parallax__Probe *pa = *(const Parallax__Probe *const *)a;
    const Parallax__Probe *pb = *(const Parallax__Probe *const *)b;
    return pa->probe_id < pb->probe_id ? -1 : pa->probe_id > pb->probe_id;
}

scheduler_t *scheduler_new(struct event_base *base, probe_env_t *env, scheduler_result_fn fn,
                           void *arg, err_t *err)
{
    scheduler_t *s = calloc(1, sizeof *s);
    if (!s) {
        err_set(err, "out of memory");
        return NULL;
    }
    s->base = base;
    s->env = env;
    s->fn = fn;
    s->arg = arg;
    if (!(s->pace = pace_new(base, PACE_DEFAULT_PPS, err))) {
        free(s);
        return NULL;
    }
    return s;
}

void scheduler_set_skip_fn(scheduler_t *s, scheduler_skip_fn fn, void *arg)
{
    s->skip_fn = fn;
    s->skip_arg = arg;
}

void scheduler_set_deny_own_networks(scheduler_t *s, int on)
{
    s->deny_own_networks = on;
}

void scheduler_set_max_pps(scheduler_t *s, uint32_t max_pps)
{
    if (max_pps)
        pace_set_rate(s->pace, max_pps);
}

void scheduler_destroy(scheduler_t **s)
{
    if (!s || !*s)
        return;
    for (size_t i = 0; i < (*s)->count; i++)
        entry_free((*s)->entries[i]);
    for (size_t i = 0; i < (*s)->n_requests; i++)
        entry_free((*s)->requests[i]);
    free((*s)->entries);
    pace_destroy(&(*s)->pace);
    free(*s);
    *s = NULL;
}

/* The deny-list's reason p may not be run, or NULL. own may be NULL (not checked). */
static const char *probe_denied(const Parallax__Probe *p, const target_nets_t *own)
{
    if (p->allow_internal)
        return NULL;
    const char *denied = target_deny_reason(p->address);
    if (!denied && own && target_nets_contain(own, p->address))
        denied = "one of this host's own networks";
    return denied;
}

int scheduler_apply(scheduler_t *s, const Parallax__Schedule *sch, scheduler_apply_stats_t *stats,
                    err_t *err)
{
    scheduler_apply_stats_t st = {0};
    size_t n = sch->n_probes;
    const Parallax__Probe **sorted = malloc((n ? n : 1) * sizeof *sorted);
    scheduler_entry_t **next = malloc((n ? n : 1) * sizeof *next);
    /* Marks which old entries are carried over; the rest are freed at the end. */
    unsigned char *kept = calloc(s->count ? s->count : 1, 1);
    if (!sorted || !next || !kept)
        goto oom;
    for (size_t i = 0; i < n; i++)
        sorted[i] = sch->probes[i];
    qsort(sorted, n, sizeof *sorted, cmp_probe_ptr);
    /* This host's networks now: interfaces come and go. */
    target_nets_t own = {0};
    err_t nerr = {{0}};
    if (s->deny_own_networks && target_nets_local(&own, &nerr) < 0)
        log_warn("sched: %s; probes to this host's own networks are not left out", nerr.msg);
    size_t count = 0, old = 0;
    for (size_t i = 0; i < n; i++) {
        const Parallax__Probe *p = sorted[i];
        if (count > 0 && next[count - 1]->probe_id == p->probe_id) {
            log_warn("sched: schedule %llu lists probe %llu twice; using the first",
                     (unsigned long long)sch->version, (unsigned long long)p->probe_id);
            st.ignored++;
            continue;
        }
        const char *denied = probe_denied(p, &own);
        if (denied) {
            /* Not run, not reported as a failure: the vantage is not at fault. Once per
             * schedule and probe: schedules change seldom. */
            log_warn("sched: probe %llu (target %s) aims at %s, %s: not run (the operator can "
                     "allow it for this target: parallaxctl target add --allow-internal)",
                     (unsigned long long)p->probe_id, p->target ? p->target : "?", p->address,
                     denied);
            st.denied++;
            continue;
        }
        while (old < s->count && s->entries[old]->probe_id < p->probe_id)
            old++;
        if (old < s->count && s->entries[old]->probe_id == p->probe_id &&
            same_run(s->entries[old], p)) {
            scheduler_entry_t *e = s->entries[old];
            kept[old] = 1;
            e->control = p->control;
            e->target.timeout_ms = p->timeout_ms;
            next[count++] = e;
            st.kept++;
            continue;
        }
        scheduler_entry_t *e = entry_new(s, p, 0);
        if (!e)
            goto oom_undo;
        next[count++] = e;
        st.added++;
    }
    /* Commit: free what is gone, arm what is new. */
    for (size_t i = 0; i < s->count; i++)
        if (!kept[i]) {
            entry_free(s->entries[i]);
            st.removed++;
        }
    int64_t now = time_now_us();
    for (size_t i = 0; i < count; i++)
        if (!evtimer_pending(next[i]->timer, NULL) && !s->stopped && !next[i]->run &&
            next[i]->next_us == 0)
            arm(next[i], now);
    free(s->entries);
    s->entries = next;
    s->count = count;
    s->version = sch->version;
    free(sorted);
    free(kept);
    if (stats)
        *stats = st;
    return 0;
oom_undo:
    /* New entries are those not marked kept in the old array: free only them. */
    for (size_t i = 0; i < count; i++) {
        int was_old = 0;
        for (size_t j = 0; j < s->count && !was_old; j++)
            was_old = s->entries[j] == next[i];
        if (!was_old)
            entry_free(next[i]);
    }
oom:
    free(sorted);
    free(next);
    free(kept);
    err_set(err, "out of memory applying a schedule of %zu probes", n);
    return -1;
}

int scheduler_request(scheduler_t *s, uint64_t request_id, const Parallax__Probe *p, err_t *err)
{
    if (request_id == 0) {
        err_set(err, "request id 0");
        return -1;
    }
    if (s->stopped) {
        err_set(err, "the agent is stopping");
        return -1;
    }
    if (s->n_requests >= SCHEDULER_MAX_REQUESTS) {
        s->c.requests_refused++;
        err_set(err, "%d one-off requests are queued or running already", SCHEDULER_MAX_REQUESTS);
        return -1;
    }
    target_nets_t own = {0};
    err_t nerr = {{0}};
    int have_own = s->deny_own_networks && !p->allow_internal;
    if (have_own && target_nets_local(&own, &nerr) < 0) {
        log_warn("sched: %s; a request to this host's own networks is not refused", nerr.msg);
        have_own = 0;
    }
    const char *denied = probe_denied(p, have_own ? &own : NULL);
    if (denied) {
        s->c.requests_denied++;
        err_set(err, "it aims at %s, %s (not allowed for its target)", p->address, denied);
        return -1;
    }
    scheduler_entry_t *e = entry_new(s, p, request_id);
    if (!e) {
        err_set(err, "out of memory");
        return -1;
    }
    s->requests[s->n_requests++] = e;
    s->c.requests++;
    e->run_ts_us = time_now_us();
    /* Behind whatever waits for max_pps already: a request never overtakes the schedule. */
    uint32_t cost = e->target.error ? 1 : probe_max_packets(e->target.kind);
    if (pace_try(s->pace, cost)) {
        entry_start(e);
    } else if (!(e->ticket = pace_wait(s->pace, cost, paced_cb, e))) {
        request_forget(e);
        err_set(err, "out of memory queueing it");
        return -1;
    }
    return 0;
}

size_t scheduler_requests_pending(const scheduler_t *s)
{
    return s->n_requests;
}

uint64_t scheduler_version(const scheduler_t *s)
{
    return s->version;
}

size_t scheduler_count(const scheduler_t *s)
{
    return s->count;
}

size_t scheduler_in_flight(const scheduler_t *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->count; i++)
        n += s->entries[i]->run != NULL;
    return n;
}

void scheduler_counters(const scheduler_t *s, scheduler_counters_t *out)
{
    *out = s->c;
}

void scheduler_stop(scheduler_t *s)
{
    s->stopped = 1;
    for (size_t i = 0; i < s->count; i++) {
        evtimer_del(s->entries[i]->timer);
        pace_cancel(s->pace, &s->entries[i]->ticket);
        probe_cancel(&s->entries[i]->run);
    }
    /* Requests are never resumed: cancel and forget them (entry_free cancels both). */
    while (s->n_requests)
        entry_free(s->requests[--s->n_requests]);
}

int scheduler_probe_info(const scheduler_t *s, uint64_t probe_id, scheduler_probe_info_t *out)
{
    size_t lo = 0, hi = s->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const scheduler_entry_t *e = s->entries[mid];
        if (e->probe_id == probe_id) {
            out->serial = e->serial;
            out->next_us = e->next_us;
            out->in_flight = e->run != NULL;
            out->timeout_ms = e->target.timeout_ms;
            return 0;
        }
        if (e->probe_id < probe_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}
