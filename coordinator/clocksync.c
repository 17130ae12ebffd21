/* clocksync: the clock filter. A window of eight samples spans a few minutes of heartbeats:
 * long enough to hold one fast exchange even on a congested path, short enough that a
 * stepped clock shows within the window's length. */
#include "clocksync.h"

#include <stdlib.h>

void clocksync_init(clocksync_t *c)
{
    c->count = 0;
    c->next = 0;
}

static int offset_plausible(int64_t offset_us)
{
    return offset_us <= CLOCKSYNC_MAX_OFFSET_US && offset_us >= -CLOCKSYNC_MAX_OFFSET_US;
}

static void add(clocksync_t *c, int64_t offset_us, int64_t rtt_us)
{
    c->samples[c->next] = (clocksync_sample_t){.offset_us = offset_us, .rtt_us = rtt_us};
    c->next = (c->next + 1) % CLOCKSYNC_WINDOW;
    if (c->count < CLOCKSYNC_WINDOW)
        c->count++;
}

int clocksync_add_exchange(clocksync_t *c, int64_t t1, int64_t t2, int64_t t3, int64_t t4)
{
    if (!t1 || !t2 || !t3 || !t4 || t3 < t2 || t4 < t1)
        return -1;
    /* Differences first: each is small for sane input, so nothing overflows. */
    int64_t out = t1 - t2, back = t4 - t3;
    int64_t rtt = (t4 - t1) - (t3 - t2);
    if (rtt < 0 || rtt > CLOCKSYNC_MAX_RTT_US || !offset_plausible(out) || !offset_plausible(back))
        return -1;
    add(c, out / 2 + back / 2 + (out % 2 + back % 2) / 2, rtt);
    return 0;
}

int clocksync_add_oneway(clocksync_t *c, int64_t agent_sent_us, int64_t coord_recv_us)
{
    if (!agent_sent_us || !coord_recv_us)
        return -1;
    int64_t bound = agent_sent_us - coord_recv_us;
    if (!offset_plausible(bound))
        return -1;
    add(c, bound, -1);
    return 0;
}

int clocksync_estimate(const clocksync_t *c, int64_t *offset_us, int64_t *rtt_us)
{
    int best = -1, best_oneway = -1;
    for (int i = 0; i < c->count; i++) {
        const clocksync_sample_t *s = &c->samples[i];
        if (s->rtt_us >= 0) {
            if (best < 0 || s->rtt_us < c->samples[best].rtt_us)
                best = i;
        } else if (best_oneway < 0 || s->offset_us > c->samples[best_oneway].offset_us) {
            best_oneway = i;
        }
    }
    if (best < 0)
        best = best_oneway;
    if (best < 0)
        return -1;
    *offset_us = c->samples[best].offset_us;
    *rtt_us = c->samples[best].rtt_us;
    return 0;
}

int clocksync_worth_storing(int has_stored, int64_t stored_offset_ms, int64_t stored_rtt_ms,
                            int64_t offset_ms, int64_t rtt_ms, int64_t step_ms)
{
    if (!has_stored || llabs(offset_ms - stored_offset_ms) >= step_ms)
        return 1;
    if (rtt_ms < 0)
        return 0;
    if (stored_rtt_ms < 0)
        return 1;
    int64_t moved = llabs(rtt_ms - stored_rtt_ms);
    return moved > step_ms && moved * 2 > stored_rtt_ms;
}
