/* pace: the agent's packets-per-second ceiling. A token bucket (pure arithmetic, tested on its
 * own) decides when a probe run may start; runs that may not start yet wait in a FIFO queue
 * that a libevent timer releases as tokens come in. A run costs the packets it may send
 * (probe_max_packets()), so a trace counts as many packets, an echo as one.
 *
 * The bucket holds at most 1 + rate/1000 tokens (about a millisecond's worth, so high rates
 * do not depend on sub-millisecond timers) and refills at rate + 1 - capacity tokens a
 * second: a full bucket plus a second's refill never exceeds rate, so no half-open one-second
 * window ever sees more than rate tokens spent. A run may start when the bucket holds its
 * cost (or is full, for a run that costs more than it can hold: it borrows, and the debt
 * delays the runs after it). Starts are therefore spread evenly, not bunched. */
#ifndef PX_PACE_H
#define PX_PACE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct event_base;

#define PACE_DEFAULT_PPS 1000
#define PACE_MAX_PPS 1000000

/* The bucket: plain data, amounts in millionths of a token. */
typedef struct pace_bucket {
    uint32_t rate;   /* the ceiling, tokens a second */
    int64_t cap;     /* capacity, micro-tokens */
    int64_t refill;  /* micro-tokens added per microsecond (= tokens per second) */
    int64_t level;   /* micro-tokens; negative while a large run's debt is paid off */
    int64_t last_us; /* when level was last brought up to date */
} pace_bucket_t;

/* Sets up a full bucket for rate (clamped to 1..PACE_MAX_PPS) at time now_us. */
void pace_bucket_init(pace_bucket_t *b, uint32_t rate, int64_t now_us);

/* Takes cost tokens if a run of that cost may start at now_us and returns 0; otherwise takes
 * nothing and returns how many microseconds from now_us it may (at least 1). now_us must
 * not go backwards (a monotonic clock). */
int64_t pace_bucket_take(pace_bucket_t *b, uint32_t cost, int64_t now_us);

typedef struct pace pace_t;
typedef struct pace_ticket pace_ticket_t;

/* Called from the event loop when a queued run may start; its ticket is already gone. */
typedef void (*pace_fn)(void *arg);

/* Creates a pacer with max_pps on base (borrowed, must outlive it). NULL with err when out of
 * memory. Caller owns the result. */
pace_t *pace_new(struct event_base *base, uint32_t max_pps, err_t *err);

/* Frees the pacer and the tickets still queued (their callbacks never run). NULLs *p;
 * accepts NULL. */
void pace_destroy(pace_t **p);

/* Changes the ceiling; the bucket starts full at the new rate. */
void pace_set_rate(pace_t *p, uint32_t max_pps);

uint32_t pace_rate(const pace_t *p);

/* Takes the tokens for a run of cost and returns 1 if it may start now: only when nothing is
 * queued, so that no run overtakes one that waits. Returns 0 otherwise (take a ticket). */
int pace_try(pace_t *p, uint32_t cost);

/* Queues a run of cost: fn(arg) is called from the event loop when its turn and its tokens
 * have come, in the order tickets were taken. Returns the ticket, owned by the pacer until
 * fn runs or pace_cancel(); NULL when out of memory. */
pace_ticket_t *pace_wait(pace_t *p, uint32_t cost, pace_fn fn, void *arg);

/* Takes a ticket out of the queue; its callback will not run. NULLs *t; accepts NULL. */
void pace_cancel(pace_t *p, pace_ticket_t **t);

/* Runs waiting in the queue. */
size_t pace_queued(const pace_t *p);

#endif
