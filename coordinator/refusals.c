/* refusals: a flat array searched linearly, allocated once. Only agents of another version
 * are in it, a handful during an upgrade, and it is looked at only for their messages and
 * for the first message of an agent that left it. */
#include "refusals.h"

#include <stdlib.h>

typedef struct refusal {
    int agent_id;
    uint32_t version;    /* the version last reported */
    int64_t reported_us; /* when (monotonic) */
} refusal_t;

struct refusals {
    refusal_t *v;
    size_t n, max;
};

refusals_t *refusals_new(size_t max)
{
    refusals_t *t = calloc(1, sizeof *t);
    if (!t || max == 0 || !(t->v = calloc(max, sizeof *t->v))) {
        free(t);
        return NULL;
    }
    t->max = max;
    return t;
}

void refusals_destroy(refusals_t **t)
{
    if (!t || !*t)
        return;
    free((*t)->v);
    free(*t);
    *t = NULL;
}

static refusal_t *find(refusals_t *t, int agent_id)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].agent_id == agent_id)
            return &t->v[i];
    return NULL;
}

int refusals_note(refusals_t *t, int agent_id, uint32_t version, int64_t now_us, int64_t period_us)
{
    refusal_t *r = find(t, agent_id);
    if (r && r->version == version && now_us - r->reported_us < period_us)
        return 0;
    if (!r && t->n < t->max) {
        r = &t->v[t->n++];
    } else if (!r) {
        r = &t->v[0];
        for (size_t i = 1; i < t->n; i++)
            if (t->v[i].reported_us < r->reported_us)
                r = &t->v[i];
    }
    *r = (refusal_t){.agent_id = agent_id, .version = version, .reported_us = now_us};
    return 1;
}

int refusals_forget(refusals_t *t, int agent_id)
{
    refusal_t *r = find(t, agent_id);
    if (!r)
        return 0;
    *r = t->v[--t->n];
    return 1;
}

size_t refusals_count(const refusals_t *t)
{
    return t->n;
}
