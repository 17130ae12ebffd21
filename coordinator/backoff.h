/* backoff: capped exponential back-off for retrying something that failed (the coordinator's
 * database connection). Pure arithmetic on times the caller passes in, so it is testable
 * without clocks or sleeps. */
#ifndef PX_BACKOFF_H
#define PX_BACKOFF_H

#include <stdint.h>

typedef struct backoff {
    int64_t min_ms;     /* first delay after a failure */
    int64_t max_ms;     /* the delay never grows past this */
    int64_t delay_ms;   /* delay that the next failure will impose */
    int64_t next_at_us; /* monotonic time before which no new attempt is due (0: now) */
} backoff_t;

/* Initialises b with delays from min_ms doubling up to max_ms (min_ms >= 1, max_ms >= min_ms);
 * the first attempt is due at once. */
void backoff_init(backoff_t *b, int64_t min_ms, int64_t max_ms);

/* 1 if an attempt may be made at monotonic time now_us, else 0. */
int backoff_due(const backoff_t *b, int64_t now_us);

/* Records a failed attempt at now_us: the next is due after the current delay, which then
 * doubles (up to the cap). Returns the delay imposed, in milliseconds. */
int64_t backoff_failed(backoff_t *b, int64_t now_us);

/* Records a success: the next failure starts again from min_ms. */
void backoff_reset(backoff_t *b);

#endif
