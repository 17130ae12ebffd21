/* scheduler: runs the coordinator's schedule. A probe with interval I and phase P runs at the
 * UTC times k*I + P; every round's timer is recomputed from the wall clock so it never
 * drifts, and each result is stamped with the scheduled time of its run. A run that cannot
 * start on time (the one before is still going, or the agent woke too late) is not run late:
 * it is counted, logged and handed to the owner as a skip, which reports it as a gap. */
#ifndef PX_SCHEDULER_H
#define PX_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "parallax.pb-c.h"
#include "probe.h"

struct event_base;
typedef struct sched scheduler_t;

/* One finished run, handed to the owner of the schedule. */
typedef struct scheduler_result {
    uint64_t probe_id;
    uint64_t request_id; /* the one-off request this run answers; 0: a scheduled run */
    int64_t ts_us;       /* scheduled time of the run */
    int control;
    const probe_result_t *result; /* valid during the callback only */
} scheduler_result_t;

typedef void (*scheduler_result_fn)(const scheduler_result_t *r, void *arg);

/* Runs of one probe that were not started: the slots from_us, from_us + I, ..., to_us. */
typedef struct scheduler_skip {
    uint64_t probe_id;
    int64_t from_us; /* the first slot not run */
    int64_t to_us;   /* the last (>= from_us) */
    uint64_t late;   /* of them, slots the agent woke too late for, or slept through */
    uint64_t busy;   /* of them (0 or 1, the last), slots whose probe's previous run was still
                      * going or waiting for max_pps */
} scheduler_skip_t;

typedef void (*scheduler_skip_fn)(const scheduler_skip_t *k, void *arg);

/* What one timer callback of a probe does, decided by scheduler_plan() from the clocks alone. */
typedef struct scheduler_plan {
    int64_t run_us;                   /* the slot to run now; 0: none */
    int64_t last_us;                  /* the latest slot dealt with (run or skipped) from now on */
    int64_t skip_from_us, skip_to_us; /* slots skipped now (both 0: none) */
    uint64_t late, busy;              /* as in scheduler_skip_t */
} scheduler_plan_t;

/* One-off requests (scheduler_request()) queued or running at once, at most: a coordinator
 * flooding requests (compromised or broken) gets the rest refused, not the agent's memory or
 * its max_pps budget. Enough for one trace to each target of a large group at once. */
#define SCHEDULER_MAX_REQUESTS 64

/* Counters over the schedule's life. */
typedef struct scheduler_counters {
    uint64_t runs;             /* runs started */
    uint64_t skipped_late;     /* slots not run: the agent woke too late (or slept through them) */
    uint64_t skipped_busy;     /* slots not run: the probe's previous run was still going */
    uint64_t requests;         /* one-off requests taken (and run, or queued for max_pps) */
    uint64_t requests_refused; /* refused: SCHEDULER_MAX_REQUESTS were queued or running */
    uint64_t requests_denied;  /* refused: aimed at the deny-list and not allowed */
} scheduler_counters_t;

/* What scheduler_apply() did; a probe whose spec, address, interval or phase changed counts as
 * removed and added. */
typedef struct scheduler_apply_stats {
    size_t kept;
    size_t added;
    size_t removed;
    size_t ignored; /* duplicates or bad addresses */
    size_t denied;  /* aimed at an address on the deny-list, not allowed for their target */
} scheduler_apply_stats_t;

/* Read-only view of one scheduled probe, for logs and tests. */
typedef struct scheduler_probe_info {
    uint64_t serial; /* changes when the probe is (re)created, not when it is kept */
    int64_t next_us; /* wall time of the next run */
    int in_flight;   /* a run is under way */
    uint32_t timeout_ms;
} scheduler_probe_info_t;

/* Latest run time k*I + P (I = interval_s seconds, P = phase_ms) at or before now_us. */
int64_t scheduler_slot_floor(int64_t now_us, uint32_t interval_s, uint32_t phase_ms);

/* Earliest run time k*I + P strictly after now_us. */
int64_t scheduler_slot_next(int64_t now_us, uint32_t interval_s, uint32_t phase_ms);

/* Decides what a probe's timer does when it fires at wall time now_us, mono_late_us after it
 * was due by the monotonic clock (a stalled loop or a slow machine), for a probe whose latest
 * slot dealt with is last_us (0: none yet) and whose previous run is still under way if busy.
 *   - The slot due is the latest at or before now_us; one not after last_us is left alone
 *     (the timer fired early, or the wall clock went back): nothing to do.
 *   - Slots after last_us and before it were slept through: as many as fit in mono_late_us
 *     are skipped as late (the rest are a step of the wall clock, not time that passed).
 *   - The slot due is skipped as late when now_us is more than 2 s and half an interval past
 *     it (a result stamped far from when it was measured would mislead), as busy when the
 *     previous run is still under way, and run otherwise.
 * Pure: no clock is read. */
void scheduler_plan(int64_t now_us, int64_t mono_late_us, int64_t last_us, uint32_t interval_s,
                    uint32_t phase_ms, int busy, scheduler_plan_t *out);

/* Creates an empty schedule. base and env are borrowed and must outlive it; fn/arg receive
 * every result. Returns NULL (err set) on failure. Caller owns the result. */
scheduler_t *scheduler_new(struct event_base *base, probe_env_t *env, scheduler_result_fn fn,
                           void *arg, err_t *err);

/* Sets the packets-per-second ceiling (1..1000000; 0 or not calling it: PACE_DEFAULT_PPS). Runs
 * that would exceed it wait in FIFO order and start late, but their results keep the
 * scheduled ts_us. A run counts as probe_max_packets() of its kind. */
void scheduler_set_max_pps(scheduler_t *s, uint32_t max_pps);

/* With on, a probe aimed at one of this host's own networks (its interfaces' subnets, read at
 * every schedule applied) is not run either, unless its target allows it, as for the
 * deny-list (target_deny.h). Off by default. */
void scheduler_set_deny_own_networks(scheduler_t *s, int on);

/* Sets who is told of runs not started (scheduler_skip_t; by default nobody: they are still
 * counted and logged). fn may be NULL. */
void scheduler_set_skip_fn(scheduler_t *s, scheduler_skip_fn fn, void *arg);

/* Cancels every run (no callbacks) and frees everything. NULLs *s; accepts NULL. */
void scheduler_destroy(scheduler_t **s);

/* Replaces the schedule with sch (borrowed; copied). Probes whose id, spec, address, interval
 * and phase are unchanged keep running without a gap (timeout and control are updated);
 * others start at their next round. Returns -1 (err set) only when out of memory, in which
 * case the old schedule is left as it was. stats may be NULL. */
int scheduler_apply(scheduler_t *s, const Parallax__Schedule *sch, scheduler_apply_stats_t *stats,
                    err_t *err);

/* Runs p once, now, for the coordinator's request request_id: through the same probe kinds,
 * deny-list and max_pps queue as scheduled runs (its interval and phase are ignored); the
 * result goes to the schedule's fn with request_id set and ts_us the time the request was
 * taken. p is borrowed (copied). Returns 0 when taken; -1 with err when refused: the
 * address is denied (and not allowed for its target), SCHEDULER_MAX_REQUESTS are already
 * queued or running, the schedule is stopped, or memory ran out. A refused request sends
 * nothing: the coordinator's request expires unanswered. */
int scheduler_request(scheduler_t *s, uint64_t request_id, const Parallax__Probe *p, err_t *err);

/* One-off requests queued or running now. */
size_t scheduler_requests_pending(const scheduler_t *s);

/* Version of the schedule in force (0 before the first). */
uint64_t scheduler_version(const scheduler_t *s);

/* Number of scheduled probes, and of runs in flight. */
size_t scheduler_count(const scheduler_t *s);
size_t scheduler_in_flight(const scheduler_t *s);

/* Stops starting runs and cancels those in flight (no callbacks); the schedule stays known. */
void scheduler_stop(scheduler_t *s);

void scheduler_counters(const scheduler_t *s, scheduler_counters_t *out);

/* Fills *out for probe_id; returns -1 if it is not scheduled. */
int scheduler_probe_info(const scheduler_t *s, uint64_t probe_id, scheduler_probe_info_t *out);

#endif
