/* store: the coordinator's PostgreSQL side, and the only coordinator code that includes
 * libpq: connection with reconnect, the allow-list, the schedule, change notifications and
 * the exactly-once ingest of result batches. Parameterised queries only. */
#ifndef PX_STORE_H
#define PX_STORE_H

#include <stddef.h>

#include "allow.h"
#include "err.h"
#include "parallax.pb-c.h"

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

/* A store for conninfo (copied); does not connect yet. NULL on out of memory. */
store_t *store_new(const char *conninfo);

/* Disconnects, frees *store and NULLs it. Accepts NULL. */
void store_destroy(store_t **store);

/* Connects and prepares the session: checks the schema is migrated, LISTENs for changes,
 * creates the staging table. Returns 0, -1 (err set) if the database is unreachable (try
 * again later), or -2 if it will not work without an operator (schema missing). */
int store_connect(store_t *store, err_t *err);

/* 1 if connected. A failure that loses the connection makes this 0. */
int store_connected(const store_t *store);

/* The connection's socket, to wait on for notifications; -1 when disconnected. */
int store_fd(const store_t *store);

/* Records the coordinator's public key and advertised endpoint. Returns 0 or -1. */
int store_register_coordinator(store_t *store, const char *public_key, const char *endpoint,
                               err_t *err);

/* Loads every agent. On success *entries (caller frees with free()) holds *n entries. */
int store_load_agents(store_t *store, allow_entry_t **entries, size_t *n, err_t *err);

/* Reads pending notifications; ORs STORE_CHANGED_* into *changed. Returns 0 or -1. */
int store_poll_changes(store_t *store, unsigned *changed, err_t *err);

/* Loads the schedule every agent runs. *out is owned by the caller: free it with
 * store_schedule_free(). Its version is a hash of its contents (the same probes give the
 * same version across restarts). Returns 0 or -1. */
int store_load_schedule(store_t *store, Parallax__Schedule **out, err_t *err);

/* Frees a schedule from store_load_schedule() and NULLs *s. Accepts NULL. */
void store_schedule_free(Parallax__Schedule **s);

/* Stores a validated batch for agent_id exactly once: the rows and the batch id commit in
 * one transaction, and the agent must be enabled at that moment. */
store_ingest_t store_ingest(store_t *store, int agent_id, const Parallax__ResultBatch *batch,
                            err_t *err);

/* Notes that the agent was heard from (last_seen, software version). Returns 0 or -1. */
int store_touch_agent(store_t *store, int agent_id, const char *agent_version, err_t *err);

/* Records a heartbeat of agent_id now (the merge tells "offline" from "silent but alive"
 * with it). A no-op on a schema without parallax.heartbeats. Returns 0 or -1. */
int store_heartbeat(store_t *store, int agent_id, err_t *err);

/* Runs the SQL merge over every closed bin that new or late results changed; *bins says how
 * many were merged. A no-op on a schema without the merge. Returns 0 or -1. */
int store_merge(store_t *store, long *bins, err_t *err);

#endif
