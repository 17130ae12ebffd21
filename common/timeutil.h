/* timeutil: the two clocks Parallax uses: UTC wall time for results and schedules, and the
 * monotonic clock for timeouts (immune to the wall clock being stepped). */
#ifndef PX_TIMEUTIL_H
#define PX_TIMEUTIL_H

#include <stdint.h>

/* Microseconds since the Unix epoch, UTC. */
int64_t time_now_us(void);

/* Microseconds of the monotonic clock; only differences mean anything. */
int64_t time_mono_us(void);

#endif
