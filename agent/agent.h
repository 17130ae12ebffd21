/* agent: the agent's context: event loop, link to the coordinator, schedule, probe
 * environment, spool and outbox, and the protocol that ties them together (hello, schedule,
 * batches and acks, heartbeats), the files in state_dir (spool, saved schedule, stats) and
 * the orderly shutdown on SIGTERM/SIGINT. SIGUSR1 logs the counters and rewrites the stats
 * file at once. */
#ifndef PX_AGENT_H
#define PX_AGENT_H

#include "agent_config.h"
#include "err.h"
#include "agent_stats.h"

typedef struct agent agent_t;

/* Builds the context from cfg (copied): creates the event loop, drops privileges if cfg says
 * so, opens the spool in state_dir (recovering what an earlier run left), starts the saved
 * schedule if there is one, opens the link (which starts connecting in the background) and
 * installs signal handlers. Returns NULL (err set) on failure. Caller owns the result. */
agent_t *agent_new(const agent_config_t *cfg, err_t *err);

/* Runs until SIGTERM/SIGINT and the shutdown that follows (flush, up to 2 s for acks; what
 * is not acked by then stays in the spool), then writes the stats file a last time.
 * Returns 0, or -1 (err set) if the event loop fails. */
int agent_run(agent_t *agent, err_t *err);

/* Current counters (those of the spool, plus stream and schedule version). */
void agent_stats(const agent_t *agent, agent_stats_t *out);

/* Frees everything and closes ZeroMQ. NULLs *agent; accepts NULL. */
void agent_destroy(agent_t **agent);

#endif
