/* allow: the coordinator's in-memory allow-list of agents (public key -> id, name, enabled),
 * loaded from parallax.agents and reloaded when the table changes (LISTEN/NOTIFY). Both the
 * ZAP handler and the per-message check consult it. */
#ifndef PX_ALLOW_H
#define PX_ALLOW_H

#include <stddef.h>

#include "keys.h"

typedef struct allow_entry {
    int agent_id;
    char name[64];
    char public_key[KEYS_Z85_LEN + 1];
    int enabled;
} allow_entry_t;

typedef struct allow allow_t;

/* Returns an empty list (which admits nobody), or NULL on out of memory. Caller owns it. */
allow_t *allow_new(void);

/* Frees *allow and NULLs it. Accepts NULL. */
void allow_destroy(allow_t **allow);

/* Replaces the contents with n entries copied from entries. Returns 0 or -1 (out of memory:
 * the old contents stay). */
int allow_replace(allow_t *allow, const allow_entry_t *entries, size_t n);

/* The enabled agent with this Z85 public key, or NULL. The pointer is valid until the next
 * allow_replace(). */
const allow_entry_t *allow_find_enabled(const allow_t *allow, const char *public_key);

/* Any agent (enabled or not) with this key, or NULL; for log messages. */
const allow_entry_t *allow_find(const allow_t *allow, const char *public_key);

/* Number of entries. */
size_t allow_count(const allow_t *allow);

#endif
