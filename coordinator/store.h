/* store: the coordinator's PostgreSQL side, and the only coordinator code that includes
 * libpq: connection with reconnect, the allow-list, the schedule and its version, change
 * notifications, the exactly-once ingest of result batches and gap records, and what the
 * coordinator learns of each agent (liveness, clock, acknowledged schedule, refusal).
 * Parameterised queries only. No call blocks without a bound: connecting gives up after
 * STORE_CONNECT_TIMEOUT_MS, every statement runs under a server-side statement_timeout and a
 * client-side deadline a little longer, after which the connection is dropped (a hung server
 * or network then looks like a lost connection, and the coordinator reconnects). */
#ifndef PX_STORE_H
#define PX_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "allow.h"
#include "err.h"
#include "parallax.pb-c.h"

/* Give up connecting after this long (a database host that drops packets). */
#define STORE_CONNECT_TIMEOUT_MS 3000
/* statement_timeout of the session: a slow database answers "canceled" rather than never. */
#define STORE_STATEMENT_TIMEOUT_MS 5000
/* ... except the merge, which may have a backlog of bins to work through after an outage. */
#define STORE_MERGE_TIMEOUT_MS 30000
/* How much longer than statement_timeout the client waits before it drops the connection:
 * the server's own cancel should come first; this catches a server that cannot answer. */
#define STORE_CLIENT_SLACK_MS 3000

typedef struct store store_t;

/* Change notifications (bit flags) raised by triggers in the schema. */
enum { STORE_CHANGED_AGENTS = 1, STORE_CHANGED_SCHEDULE = 2 };

typedef enum store_ingest {
    STORE_INGEST_STORED,      /* committed now */
    STORE_INGEST_DUPLICATE,   /* committed earlier: acknowledge again, store nothing */
    STORE_INGEST_NOT_ALLOWED, /* the agent is unknown or disabled: store nothing, no ack */
    STORE_INGEST_RETRY,       /* the database cannot take it now */
    STORE_INGEST_REJECT       /* the database will never take it (err says why) */
} store_ingest_t;

/* One batch to ingest, and (after store_ingest) its fate. */
typedef struct store_batch {
    int agent_id;                       /* in: whose batch (from the authenticated key) */
    const Parallax__ResultBatch *batch; /* in: validated by the wire module; borrowed */
    store_ingest_t verdict;             /* out */
    err_t err;                          /* out: why, for NOT_ALLOWED, RETRY and REJECT */
} store_batch_t;

/* A store for conninfo (copied); does not connect yet. NULL on out of memory. */
store_t *store_new(const char *conninfo);

/* Disconnects, frees *store and NULLs it. Accepts NULL. */
void store_destroy(store_t **store);

/* Connects and prepares the session: checks the schema is migrated, sets the timeouts,
 * LISTENs for changes, creates the staging table. Returns 0, -1 (err set) if the database is
 * unreachable or too slow (try again later), or -2 if it will not work without an operator
 * (schema missing). */
int store_connect(store_t *store, err_t *err);

/* 1 if connected. A failure that loses the connection (or a deadline that drops it) makes
 * this 0. */
int store_connected(const store_t *store);

/* The connection's socket, to wait on for notifications; -1 when disconnected. */
int store_fd(const store_t *store);

/* 1 if the schema has migration 007 (agent liveness, clock, schedule versions); without it
 * the calls that need it do nothing and the schedule version is a hash of its contents. */
int store_has_agent_state(const store_t *store);

/* 1 if the schema has migration 002 (agents.refused): without it refusals are not stored. */
int store_has_refusal(const store_t *store);

/* Records the coordinator's public key and advertised endpoint. Returns 0 or -1. */
int store_register_coordinator(store_t *store, const char *public_key, const char *endpoint,
                               err_t *err);

/* Loads every agent. On success *entries (caller frees with free()) holds *n entries. */
int store_load_agents(store_t *store, allow_entry_t **entries, size_t *n, err_t *err);

/* Reads pending notifications; ORs STORE_CHANGED_* into *changed. Returns 0 or -1. */
int store_poll_changes(store_t *store, unsigned *changed, err_t *err);

/* Loads the schedule every agent runs. *out is owned by the caller: free it with
 * store_schedule_free(). Its version comes from parallax.schedule_versions: the same probes
 * keep their version across restarts, and any change gets a larger one. Returns 0 or -1. */
int store_load_schedule(store_t *store, Parallax__Schedule **out, err_t *err);

/* Frees a schedule from store_load_schedule() and NULLs *s. Accepts NULL. */
void store_schedule_free(Parallax__Schedule **s);

/* Stores n batches, each exactly once: a batch's rows, its gap records and its id commit in
 * one transaction, and its agent must be enabled at that moment. Several batches share a
 * transaction (one commit) when they can; when the database refuses the data of a group
 * (SQLSTATE class 22 or 23), each batch is tried alone, so a bad batch is rejected without
 * costing the others their place. Results or gaps naming a probe id that was never issued
 * are rejected before the database is asked. Sets every batches[i].verdict (and err). */
void store_ingest(store_t *store, store_batch_t *batches, size_t n);

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

/* Runs the SQL merge over every closed bin that new or late results changed; *bins says how
 * many were merged. A no-op on a schema without the merge. Returns 0 or -1. */
int store_merge(store_t *store, long *bins, err_t *err);

#endif
