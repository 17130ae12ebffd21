/* sessions: the coordinator's table of agents it has heard from recently — the route to
 * reach each (for schedule pushes), when it was last heard, what it was sent and what it
 * acknowledged, and its clock filter. An agent silent for the session timeout is expired:
 * its session is forgotten (it says hello again when it comes back). */
#ifndef PX_SESSIONS_H
#define PX_SESSIONS_H

#include <stddef.h>
#include <stdint.h>

#include "clocksync.h"
#include "router.h"

typedef struct session {
    int agent_id;
    char name[64];
    uint8_t route[ROUTER_ROUTE_MAX];
    size_t route_len;
    int64_t heard_mono_us;    /* last message of any kind */
    int64_t recorded_mono_us; /* last time last_seen was written (0: not this session) */
    uint64_t schedule_sent;   /* version last sent (0: none) */
    clocksync_t clock;        /* samples from its heartbeats */
    int clock_stored;         /* an estimate was stored during this session */
    int64_t stored_offset_ms; /* ... this one */
    int64_t stored_rtt_ms;    /* ... with this RTT (-1: unknown) */
} session_t;

typedef struct sessions sessions_t;

/* An empty table holding at most max sessions, or NULL on out of memory. Caller owns it. */
sessions_t *sessions_new(size_t max);

/* Frees *t and NULLs it. Accepts NULL. */
void sessions_destroy(sessions_t **t);

/* The session of agent_id, or NULL. Valid until the next sessions_touch() or _expire(). */
session_t *sessions_find(sessions_t *t, int agent_id);

/* Records that agent_id (called name) spoke from route at now_us, creating its session if
 * needed. Returns it, or NULL if the table is full or memory ran out (the message is still
 * handled; only pushes to that agent are lost until a session frees up). */
session_t *sessions_touch(sessions_t *t, int agent_id, const char *name, const uint8_t *route,
                          size_t route_len, int64_t now_us);

/* Forgets every session not heard from since before now_us - timeout_us, calling
 * expired(arg, session) for each first. Returns how many were expired. */
size_t sessions_expire(sessions_t *t, int64_t now_us, int64_t timeout_us,
                       void (*expired)(void *arg, const session_t *s), void *arg);

/* Number of sessions, and the i-th (0 <= i < count), for pushing to every agent. */
size_t sessions_count(const sessions_t *t);
session_t *sessions_at(sessions_t *t, size_t i);

#endif
