/* sessions: a flat array searched linearly. Thousands of agents at a few messages a second
 * each make that a few million comparisons a second at most, far below the cost of storing
 * what they send; a hash would buy nothing measurable. */
#include "sessions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const char *const state_names[SESSION_N_STATES] = {
    [SESSION_HEARD] = "heard",   [SESSION_PUSHED] = "pushed",   [SESSION_CURRENT] = "current",
    [SESSION_BEHIND] = "behind", [SESSION_REFUSED] = "refused", [SESSION_EXPIRED] = "expired",
};

static const char *const event_names[SESSION_N_EVENTS] = {
    [SESSION_EV_MESSAGE] = "message",   [SESSION_EV_PUSHED] = "pushed",
    [SESSION_EV_REPORTED] = "reported", [SESSION_EV_PUBLISHED] = "published",
    [SESSION_EV_REFUSED] = "refused",   [SESSION_EV_SILENT] = "silent",
    [SESSION_EV_REVOKED] = "revoked",
};

const char *session_state_name(session_state_t state)
{
    return (unsigned)state < SESSION_N_STATES ? state_names[state] : "?";
}

const char *session_event_name(session_event_t event)
{
    return (unsigned)event < SESSION_N_EVENTS ? event_names[event] : "?";
}

/* The transition table, as a function of the state, the event and the versions. */
static session_state_t next_state(const session_t *s, session_event_t event, uint64_t version,
                                  uint64_t current)
{
    session_state_t st = s->state;
    if (st == SESSION_EXPIRED)
        return st; /* final: the session is forgotten next */
    switch (event) {
    case SESSION_EV_MESSAGE:
        return st == SESSION_REFUSED ? SESSION_HEARD : st;
    case SESSION_EV_PUSHED:
        return SESSION_PUSHED;
    case SESSION_EV_REPORTED:
        if (st == SESSION_REFUSED || version == 0 || current == 0)
            return st; /* nothing learnt: an agent that does not say, or no schedule yet */
        if (version == current)
            return SESSION_CURRENT;
        /* Another version: in flight if the current one was pushed, else it must be. */
        return s->schedule_sent == current ? SESSION_PUSHED : SESSION_BEHIND;
    case SESSION_EV_PUBLISHED:
        return st == SESSION_CURRENT && s->schedule_sent != current ? SESSION_BEHIND : st;
    case SESSION_EV_REFUSED:
        return SESSION_REFUSED;
    case SESSION_EV_SILENT:
    case SESSION_EV_REVOKED:
        return SESSION_EXPIRED;
    case SESSION_N_EVENTS:
        break;
    }
    return st;
}

session_state_t session_step(session_t *s, session_event_t event, uint64_t version,
                             uint64_t current)
{
    session_state_t to = next_state(s, event, version, current);
    if (event == SESSION_EV_PUSHED)
        s->schedule_sent = version;
    if (to != s->state)
        log_debug("agent %s: session %s -> %s (%s %llu)", s->name, session_state_name(s->state),
                  session_state_name(to), session_event_name(event), (unsigned long long)version);
    s->state = to;
    return to;
}

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
        s->state = SESSION_HEARD;
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
            session_step(&t->v[i], SESSION_EV_SILENT, 0, 0);
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

size_t sessions_revoke(sessions_t *t, int (*admitted)(void *arg, const session_t *s), void *arg)
{
    size_t gone = 0;
    for (size_t i = 0; i < t->n;) {
        if (admitted(arg, &t->v[i])) {
            i++;
            continue;
        }
        session_step(&t->v[i], SESSION_EV_REVOKED, 0, 0);
        t->v[i] = t->v[--t->n];
        gone++;
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
