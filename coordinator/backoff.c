/* backoff: capped exponential back-off. Doubling keeps a dead database from being hammered
 * in a tight loop; the cap bounds how long a recovered one waits to be noticed. */
#include "backoff.h"

void backoff_init(backoff_t *b, int64_t min_ms, int64_t max_ms)
{
    b->min_ms = min_ms < 1 ? 1 : min_ms;
    b->max_ms = max_ms < b->min_ms ? b->min_ms : max_ms;
    b->delay_ms = b->min_ms;
    b->next_at_us = 0;
}

int backoff_due(const backoff_t *b, int64_t now_us)
{
    return now_us >= b->next_at_us;
}

int64_t backoff_failed(backoff_t *b, int64_t now_us)
{
    int64_t imposed = b->delay_ms;
    b->next_at_us = now_us + imposed * 1000;
    b->delay_ms = b->delay_ms > b->max_ms / 2 ? b->max_ms : b->delay_ms * 2;
    return imposed;
}

void backoff_reset(backoff_t *b)
{
    b->delay_ms = b->min_ms;
    b->next_at_us = 0;
}
