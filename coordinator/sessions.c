/* sessions: a flat array searched linearly. Thousands of agents at a few messages a second
 * each make that a few million comparisons a second at most, far below the cost of storing
 * what they send; a hash would buy nothing measurable. */
#include "sessions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sessions {
    session_t *v;
    size_t n, cap, max;
};

sessions_t *sessions_new(size_t max)
{
    sessions_t *t = calloc(1, sizeof *t);
    if (t)
        t->max = max;
    return t;
}

void sessions_destroy(sessions_t **t)
{
    if (!t || !*t)
        return;
    free((*t)->v);
    free(*t);
    *t = NULL;
}

session_t *sessions_find(sessions_t *t, int agent_id)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].agent_id == agent_id)
            return &t->v[i];
    return NULL;
}

session_t *sessions_touch(sessions_t *t, int agent_id, const char *name, const uint8_t *route,
                          size_t route_len, int64_t now_us)
{
    if (route_len > ROUTER_ROUTE_MAX)
        return NULL;
    session_t *s = sessions_find(t, agent_id);
    if (!s) {
        if (t->n == t->max)
            return NULL;
        if (t->n == t->cap) {
            size_t cap = t->cap ? t->cap * 2 : 16;
            session_t *grown = realloc(t->v, cap * sizeof *grown);
            if (!grown)
                return NULL;
            t->v = grown;
            t->cap = cap;
        }
        s = &t->v[t->n++];
        memset(s, 0, sizeof *s);
        s->agent_id = agent_id;
        s->stored_rtt_ms = -1;
        clocksync_init(&s->clock);
    }
    snprintf(s->name, sizeof s->name, "%s", name);
    memcpy(s->route, route, route_len);
    s->route_len = route_len;
    s->heard_mono_us = now_us;
    return s;
}

size_t sessions_expire(sessions_t *t, int64_t now_us, int64_t timeout_us,
                       void (*expired)(void *arg, const session_t *s), void *arg)
{
    size_t gone = 0;
    for (size_t i = 0; i < t->n;) {
        if (t->v[i].heard_mono_us < now_us - timeout_us) {
            if (expired)
                expired(arg, &t->v[i]);
            t->v[i] = t->v[--t->n];
            gone++;
        } else {
            i++;
        }
    }
    return gone;
}

size_t sessions_count(const sessions_t *t)
{
    return t->n;
}

session_t *sessions_at(sessions_t *t, size_t i)
{
    return i < t->n ? &t->v[i] : NULL;
}
