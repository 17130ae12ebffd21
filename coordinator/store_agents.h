/* store_agents: what the coordinator records of each agent: liveness, heartbeats, clock,
 * acknowledged schedule, refusal. */
#ifndef PX_STORE_AGENTS_H
#define PX_STORE_AGENTS_H

#include <stdint.h>

#include "err.h"
#include "store.h"

/* Notes that the agent was heard from: last_seen, online, software version (when not NULL)
 * and the schedule version it runs (when schedule_version >= 0; schedule_acked_at moves only
 * when it changed). It was heard in this protocol version, so a refusal it had is cleared.
 * Returns 0 or -1. */
int store_touch_agent(store_t *store, int agent_id, const char *agent_version,
                      int64_t schedule_version, err_t *err);

/* Records why the coordinator refuses agent_id's messages (why: one line naming both protocol
 * versions) and when: now. Leaves last_seen alone, since nothing the agent said was used. A
 * no-op on a schema without agents.refused. Returns 0 or -1. */
int store_refuse_agent(store_t *store, int agent_id, const char *why, err_t *err);

/* Marks offline every online agent not heard from for timeout_s seconds, calling
 * gone(arg, name) for each. Returns how many, or -1. */
int store_expire_agents(store_t *store, uint64_t timeout_s,
                        void (*gone)(void *arg, const char *name), void *arg, err_t *err);

/* Records a heartbeat of agent_id now (the merge tells "offline" from "silent but alive"
 * with it). A no-op on a schema without parallax.heartbeats. Returns 0 or -1. */
int store_heartbeat(store_t *store, int agent_id, err_t *err);

/* Stores the agent's clock offset and RTT (rtt_ms < 0: unknown); when the offset moved by
 * remerge_ms or more, the bins merged with the old one are queued again, *queued says how
 * many. Returns 0 or -1. */
int store_set_clock(store_t *store, int agent_id, int offset_ms, double rtt_ms, int remerge_ms,
                    long *queued, err_t *err);

#endif
