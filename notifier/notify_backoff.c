/* notify_backoff: "equal jitter": half the delay is fixed, so a retry never comes much sooner
 * than the doubling promises, and half is random, so retries spread out. */
#include "notify_backoff.h"

uint64_t notify_backoff_delay_s(uint32_t attempts, uint64_t min_s, uint64_t max_s, uint32_t rnd)
{
    if (min_s < 1)
        min_s = 1;
    if (max_s < min_s)
        max_s = min_s;
    uint64_t d = min_s;
    for (uint32_t i = 1; i < attempts && d < max_s; i++)
        d = d > max_s / 2 ? max_s : d * 2;
    if (d > max_s)
        d = max_s;
    uint64_t half = d / 2;
    uint64_t delay = (d - half) + (half ? (uint64_t)rnd % (half + 1) : 0);
    return delay < 1 ? 1 : delay;
}
