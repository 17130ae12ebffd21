/* agent: the agent's context: event loop, link to the coordinator, schedule, probe
 * environment and outbox, and the protocol that ties them together (hello, schedule,
 * batches and acks, heartbeats) plus the orderly shutdown on SIGTERM/SIGINT. */
#ifndef PX_AGENT_H
#define PX_AGENT_H

#include "agent_config.h"
#include "err.h"
#include "outbox.h"

typedef struct agent agent_t;

/* Builds the context from cfg (copied): creates the event loop, opens the link (which starts
 * connecting in the background) and installs signal handlers. Returns NULL (err set) on
 * failure. Caller owns the result. */
agent_t *agent_new(const agent_config_t *cfg, err_t *err);

/* Runs until SIGTERM/SIGINT and the shutdown that follows (flush, up to 2 s for acks).
 * Returns 0, or -1 (err set) if the event loop fails. */
int agent_run(agent_t *agent, err_t *err);

/* Current counters (produced, stored, rejected, dropped, pending). */
void agent_counters(const agent_t *agent, outbox_counters_t *out);

/* Frees everything and closes ZeroMQ. NULLs *agent; accepts NULL. */
void agent_destroy(agent_t **agent);

#endif
