/* sessions: the coordinator's table of agents it has heard from recently — the route to
 * reach each (for schedule pushes), when it was last heard, what it was sent and what it
 * acknowledged, and its clock filter. An agent silent for the session timeout is expired:
 * its session is forgotten (it says hello again when it comes back).
 *
 * Each session is a state machine over the schedule it runs, and every change of state goes
 * through session_step(), which logs it with the names of session_state_name():
 *
 *   heard    --pushed-->  pushed   --reported current-->  current
 *   current  --published (a new schedule)-->  behind   --pushed-->  pushed
 *   heard, pushed, behind  --reported another, none pushed since-->  behind
 *   any      --refused (another protocol version)-->  refused  --message-->  heard
 *   any      --silent (the session timeout), revoked (its key disabled, removed or
 *              replaced)-->  expired (then forgotten)
 *
 * The coordinator pushes the schedule on a hello and to a session that is behind. */
#ifndef PX_SESSIONS_H
#define PX_SESSIONS_H

#include <stddef.h>
#include <stdint.h>

#include "clocksync.h"
#include "router.h"

typedef enum session_state {
    SESSION_HEARD,   /* messages arrived; no schedule pushed in this session yet */
    SESSION_PUSHED,  /* schedule_sent was pushed; the agent has not reported it yet */
    SESSION_CURRENT, /* the agent reported the schedule in force */
    SESSION_BEHIND,  /* it runs another schedule than the one in force, which it was not sent */
    SESSION_REFUSED, /* its latest message spoke another protocol version */
    SESSION_EXPIRED, /* silent for the session timeout; forgotten next */
    SESSION_N_STATES
} session_state_t;

typedef enum session_event {
    SESSION_EV_MESSAGE,   /* any message of this protocol version */
    SESSION_EV_PUSHED,    /* schedule `version` was sent to it */
    SESSION_EV_REPORTED,  /* it says it runs schedule `version` (0: it does not say) */
    SESSION_EV_PUBLISHED, /* schedule `current` is now in force */
    SESSION_EV_REFUSED,   /* a message in another protocol version */
    SESSION_EV_SILENT,    /* nothing heard for the session timeout */
    SESSION_EV_REVOKED,   /* its key no longer admits it */
    SESSION_N_EVENTS
} session_event_t;

typedef struct session {
    int agent_id;
    char public_key[64]; /* the key its messages authenticated with */
    session_state_t state;
    char name[64];
    uint8_t route[ROUTER_ROUTE_MAX];
    size_t route_len;
    int64_t heard_mono_us;        /* last message of any kind */
    int64_t recorded_mono_us;     /* last time last_seen was written (0: not this session) */
    int64_t recorded_version;     /* the schedule version reported then (-1: none) */
    uint64_t schedule_sent;       /* version last sent (0: none) */
    clocksync_t clock;            /* samples from its heartbeats */
    int clock_stored;             /* an estimate was stored during this session */
    int64_t stored_offset_ms;     /* ... this one */
    int64_t stored_rtt_ms;        /* ... with this RTT (-1: unknown) */
    int64_t clock_stored_mono_us; /* ... at this time */
    int clock_pending;            /* a newer estimate waits for the damping interval */
} session_t;

typedef struct sessions sessions_t;

/* The state's name, for logs ("heard", "pushed", ...); "?" for a value out of range. */
const char *session_state_name(session_state_t state);

/* The event's name, for logs. */
const char *session_event_name(session_event_t event);

/* The one way a session changes state: applies event (with the schedule version it carries,
 * and the version in force, 0 if none) to s, logs a change at debug, and returns the new
 * state. SESSION_EV_PUSHED also records version as schedule_sent. */
session_state_t session_step(session_t *s, session_event_t event, uint64_t version,
                             uint64_t current);

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

/* Forgets every session not heard from since before now_us - timeout_us, stepping each to
 * SESSION_EXPIRED and calling expired(arg, session) first. Returns how many were expired. */
size_t sessions_expire(sessions_t *t, int64_t now_us, int64_t timeout_us,
                       void (*expired)(void *arg, const session_t *s), void *arg);

/* Forgets every session for which admitted(arg, session) is 0, stepping each to
 * SESSION_EXPIRED (event revoked) first: after the allow-list changed, so that a disabled,
 * removed or re-keyed agent gets nothing more over a connection it already had. Returns how
 * many were forgotten. */
size_t sessions_revoke(sessions_t *t, int (*admitted)(void *arg, const session_t *s), void *arg);

/* Number of sessions, and the i-th (0 <= i < count), for pushing to every agent. */
size_t sessions_count(const sessions_t *t);
session_t *sessions_at(sessions_t *t, size_t i);

#endif
