/* allow: a sorted array of agents searched by public key. Agents number in the hundreds at
 * most, and the list is rebuilt whole on change, so a sorted array is all it needs. */
#include "allow.h"

#include <stdlib.h>
#include <string.h>

struct allow {
    allow_entry_t *entries;
    size_t count;
};

allow_t *allow_new(void)
{
    return calloc(1, sizeof(allow_t));
}

void allow_destroy(allow_t **allow)
{
    if (!allow || !*allow)
        return;
    free((*allow)->entries);
    free(*allow);
    *allow = NULL;
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const allow_entry_t *)a)->public_key, ((const allow_entry_t *)b)->public_key);
}

int allow_replace(allow_t *allow, const allow_entry_t *entries, size_t n)
{
    allow_entry_t *copy = NULL;
    if (n) {
        copy = malloc(n * sizeof *copy);
        if (!copy)
            return -1;
        memcpy(copy, entries, n * sizeof *copy);
        qsort(copy, n, sizeof *copy, by_key);
    }
    free(allow->entries);
    allow->entries = copy;
    allow->count = n;
    return 0;
}

const allow_entry_t *allow_find(const allow_t *allow, const char *public_key)
{
    if (!public_key || !allow->count)
        return NULL;
    allow_entry_t probe;
    memset(&probe, 0, sizeof probe);
    size_t len = strnlen(public_key, sizeof probe.public_key);
    if (len >= sizeof probe.public_key)
        return NULL;
    memcpy(probe.public_key, public_key, len);
    return bsearch(&probe, allow->entries, allow->count, sizeof probe, by_key);
}

const allow_entry_t *allow_find_enabled(const allow_t *allow, const char *public_key)
{
    const allow_entry_t *e = allow_find(allow, public_key);
    return e && e->enabled ? e : NULL;
}

size_t allow_count(const allow_t *allow)
{
    return allow->count;
}
