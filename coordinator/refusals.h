/* refusals: the agents whose messages the coordinator refuses because they speak another
 * protocol version, each with the version and when its refusal was last reported (logged and
 * stored), so that an old agent that keeps sending costs one log line and one database write a
 * minute, not one per message. An agent's entry lasts until it speaks this version again. */
#ifndef PX_REFUSALS_H
#define PX_REFUSALS_H

#include <stddef.h>
#include <stdint.h>

typedef struct refusals refusals_t;

/* An empty table for at most max agents (max >= 1), or NULL on out of memory. Caller owns it:
 * release it with refusals_destroy(). Never allocates after this. */
refusals_t *refusals_new(size_t max);

/* Frees *t and NULLs it. Accepts NULL and *t == NULL. */
void refusals_destroy(refusals_t **t);

/* Notes that agent_id sent a message of protocol version at now_us (a monotonic clock).
 * Returns 1 if the refusal is to be reported now: the agent's first since it last spoke this
 * version, or of another version than the last one reported, or period_us or more after that
 * report; else 0. A full table makes room by forgetting the agent reported longest ago, which
 * is then reported again at its next message: a report too many, never one missing. */
int refusals_note(refusals_t *t, int agent_id, uint32_t version, int64_t now_us, int64_t period_us);

/* Forgets agent_id's refusal, because it spoke this version. Returns 1 if it had one, else 0. */
int refusals_forget(refusals_t *t, int agent_id);

/* Number of agents refused now. */
size_t refusals_count(const refusals_t *t);

#endif
