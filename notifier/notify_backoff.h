/* notify_backoff: when a failed delivery is tried again: capped exponential back-off with
 * jitter, so deliveries that failed together (a receiver down) do not retry in lockstep.
 * Pure arithmetic: the random value is passed in. */
#ifndef PX_NOTIFY_BACKOFF_H
#define PX_NOTIFY_BACKOFF_H

#include <stdint.h>

/* Seconds to wait after the attempts-th failed attempt (1 for the first): min_s doubled per
 * earlier failure, capped at max_s, then a random part of it kept: the result lies in
 * [d/2, d] for that capped delay d, chosen by rnd (any 32-bit value). min_s >= 1 and
 * max_s >= min_s; attempts below 1 count as 1. Never below 1. */
uint64_t notify_backoff_delay_s(uint32_t attempts, uint64_t min_s, uint64_t max_s, uint32_t rnd);

#endif
