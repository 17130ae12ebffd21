/* log_limit: a flat array searched linearly: refusals are rare next to messages, and the
 * table is small (a few hundred keys). */
#include "log_limit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    char key[64];
    int64_t logged_us;  /* when its last line was allowed */
    unsigned long held; /* occurrences since, not logged */
} entry_t;

struct log_limit {
    entry_t *v;
    size_t n, max;
    entry_t shared; /* keys that found the table full */
    int shared_used;
    int64_t period_us;
};

log_limit_t *log_limit_new(size_t max_keys, int64_t period_us)
{
    log_limit_t *l = calloc(1, sizeof *l);
    if (!l || !(l->v = calloc(max_keys ? max_keys : 1, sizeof *l->v))) {
        free(l);
        return NULL;
    }
    l->max = max_keys;
    l->period_us = period_us;
    return l;
}

void log_limit_destroy(log_limit_t **l)
{
    if (!l || !*l)
        return;
    free((*l)->v);
    free(*l);
    *l = NULL;
}

/* Applies one occurrence to e. Returns 1 if it is to be logged. */
static int entry_allow(entry_t *e, int fresh, int64_t now_us, int64_t period_us,
                       unsigned long *held)
{
    if (fresh || now_us - e->logged_us >= period_us) {
        *held = fresh ? 0 : e->held;
        e->logged_us = now_us;
        e->held = 0;
        return 1;
    }
    e->held++;
    return 0;
}

int log_limit_allow(log_limit_t *l, const char *key, int64_t now_us, unsigned long *held,
                    int *shared)
{
    *held = 0;
    *shared = 0;
    char k[sizeof l->v[0].key];
    snprintf(k, sizeof k, "%s", key ? key : "");
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].key, k))
            return entry_allow(&l->v[i], 0, now_us, l->period_us, held);
    if (l->n < l->max) {
        entry_t *e = &l->v[l->n++];
        memcpy(e->key, k, sizeof k);
        return entry_allow(e, 1, now_us, l->period_us, held);
    }
    *shared = 1;
    int fresh = !l->shared_used;
    l->shared_used = 1;
    return entry_allow(&l->shared, fresh, now_us, l->period_us, held);
}

void log_limit_flush(log_limit_t *l, int64_t now_us,
                     void (*report)(void *arg, const char *key, unsigned long held), void *arg)
{
    for (size_t i = 0; i < l->n;) {
        entry_t *e = &l->v[i];
        if (now_us - e->logged_us < l->period_us) {
            i++;
            continue;
        }
        if (e->held) {
            /* Told now, which is its line for a new period. */
            report(arg, e->key, e->held);
            e->held = 0;
            e->logged_us = now_us;
            i++;
            continue;
        }
        l->v[i] = l->v[--l->n]; /* quiet for a whole period: forgotten */
    }
    if (l->shared_used && now_us - l->shared.logged_us >= l->period_us) {
        if (l->shared.held) {
            report(arg, NULL, l->shared.held);
            l->shared.held = 0;
            l->shared.logged_us = now_us;
        } else {
            l->shared_used = 0;
        }
    }
}
