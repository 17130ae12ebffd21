/* clocksync: estimates an agent's clock offset (agent clock minus coordinator clock) and the
 * round-trip time from heartbeat timestamps. Pure arithmetic over a small window of samples,
 * so it is unit-tested without clocks.
 *
 * Two kinds of sample. An exchange is NTP's four timestamps: the agent sends at t1 (its
 * clock), the coordinator receives at t2 and answers at t3 (its clock), the agent receives
 * the answer at t4 (its clock) and echoes all four in its next heartbeat. Its offset
 * ((t1 - t2) + (t4 - t3)) / 2 is wrong by at most half its round-trip time
 * (t4 - t1) - (t3 - t2), so the estimate is the offset of the sample with the smallest
 * round-trip time in the window (NTP's clock filter). A one-way sample — only t1 and t2,
 * from an agent that does not echo — bounds the offset from below by t1 - t2 (the true
 * offset is that plus the one-way delay, which is never negative); the estimate is then the
 * largest bound in the window, i.e. that of the fastest message, and the RTT is unknown.
 * Exchanges, when the window has any, always win over one-way samples. */
#ifndef PX_CLOCKSYNC_H
#define PX_CLOCKSYNC_H

#include <stdint.h>

#define CLOCKSYNC_WINDOW 8
/* Round trips longer than this say nothing useful about the clock: such samples are ignored. */
#define CLOCKSYNC_MAX_RTT_US (30LL * 1000000)
/* Offsets are stored in an integer column of milliseconds; a clock further off than this
 * (about 24 days) is broken, not offset, and its samples are ignored. */
#define CLOCKSYNC_MAX_OFFSET_US (2147483647LL * 1000)

typedef struct clocksync_sample {
    int64_t offset_us; /* exchange: the NTP offset; one-way: the lower bound t1 - t2 */
    int64_t rtt_us;    /* exchange: its round-trip time; one-way: -1 */
} clocksync_sample_t;

typedef struct clocksync {
    clocksync_sample_t samples[CLOCKSYNC_WINDOW]; /* a ring of the latest samples */
    int count;                                    /* valid samples, up to CLOCKSYNC_WINDOW */
    int next;                                     /* where the next sample goes */
} clocksync_t;

/* Empties the window. */
void clocksync_init(clocksync_t *c);

/* Adds an exchange (t1, t4: agent clock; t2, t3: coordinator clock, all microseconds).
 * Returns 0, or -1 if the timestamps contradict each other (negative or huge round trip, the
 * coordinator answering before it received, an absurd offset): the sample is ignored. */
int clocksync_add_exchange(clocksync_t *c, int64_t t1, int64_t t2, int64_t t3, int64_t t4);

/* Adds a one-way sample (agent_sent_us: agent clock; coord_recv_us: coordinator clock).
 * Returns 0, or -1 if either is 0 or the offset is absurd (ignored). */
int clocksync_add_oneway(clocksync_t *c, int64_t agent_sent_us, int64_t coord_recv_us);

/* The current estimate: *offset_us, and *rtt_us (-1 when only one-way samples are in the
 * window). Returns 0, or -1 if the window is empty (outputs untouched). */
int clocksync_estimate(const clocksync_t *c, int64_t *offset_us, int64_t *rtt_us);

/* Whether a new estimate differs enough from what is stored to be worth writing: the offset
 * moved by step_ms or more, the RTT became known, or it moved by more than half (and by more
 * than step_ms). stored_* < 0 / has_stored == 0 mean nothing is stored yet. Returns 1 or 0. */
int clocksync_worth_storing(int has_stored, int64_t stored_offset_ms, int64_t stored_rtt_ms,
                            int64_t offset_ms, int64_t rtt_ms, int64_t step_ms);

#endif
