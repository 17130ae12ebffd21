/* store_config: the agents the coordinator admits, the schedule and its version, change
 * notifications, and the coordinator's own key and endpoint, in the database. */
#ifndef PX_STORE_CONFIG_H
#define PX_STORE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "allow.h"
#include "parallax.pb-c.h"

#include "err.h"
#include "store.h"

/* Change notifications (bit flags) raised by triggers in the schema. */
enum { STORE_CHANGED_AGENTS = 1, STORE_CHANGED_SCHEDULE = 2 };

/* The coordinator's public key the database has registered, copied into key (len >= 41);
 * "" if none is. Returns 0 or -1. */
int store_coordinator_key(store_t *store, char *key, size_t len, err_t *err);

/* Records the coordinator's public key and advertised endpoint. Returns 0 or -1. */
int store_register_coordinator(store_t *store, const char *public_key, const char *endpoint,
                               err_t *err);

/* Loads every agent. On success *entries (caller frees with free()) holds *n entries. */
int store_load_agents(store_t *store, allow_entry_t **entries, size_t *n, err_t *err);

/* Reads pending notifications; ORs STORE_CHANGED_* into *changed. Returns 0 or -1. */
int store_poll_changes(store_t *store, unsigned *changed, err_t *err);

/* Told of each probe left out of a schedule: its id and why (valid during the call). */
typedef void (*store_left_out_fn)(void *arg, uint64_t probe_id, const char *why);

/* Loads the schedule every agent runs. *out is owned by the caller: free it with
 * store_schedule_free(). Its version comes from parallax.schedule_versions: the same probes
 * keep their version across restarts, and any change gets a larger one. A probe the wire
 * would refuse (a spec too long or with control characters, a bad address) is left out and
 * told to left_out, so that one bad row cannot make the whole schedule unsendable. Returns
 * 0 or -1. */
int store_load_schedule(store_t *store, Parallax__Schedule **out, store_left_out_fn left_out,
                        void *arg, err_t *err);

/* Frees a schedule from store_load_schedule() and NULLs *s. Accepts NULL. */
void store_schedule_free(Parallax__Schedule **s);

#endif
