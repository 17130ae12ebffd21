/* ctl_request: an operator's one-off probe requests to an agent, and the wait for their
 * answers (parallax.probe_request_ask, schema/definitions/46_probe_requests.sql). The
 * coordinator's merge thread hands waiting requests to its loop within a quarter of a second;
 * the loop sends each to the agent if it has a session; the agent runs it once and its result
 * comes back as an ordinary result (parallax.probe_request_results). Used by discover --via. */
#ifndef PX_CTL_REQUEST_H
#define PX_CTL_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "ctl_db.h"
#include "err.h"

/* Where a request is. Only ctl_request_wait() moves it. */
typedef enum ctl_request_state {
    CTL_REQUEST_WAITING,  /* made; no coordinator has taken it yet */
    CTL_REQUEST_QUEUED,   /* the coordinator took it and has not sent it yet */
    CTL_REQUEST_UNSENT,   /* taken but not sent: the agent had no session */
    CTL_REQUEST_SENT,     /* sent to the agent; no result stored yet */
    CTL_REQUEST_ANSWERED, /* its result is stored */
} ctl_request_state_t;

typedef struct ctl_request {
    const char *spec;          /* in: the probe spec (dns:QNAME:QTYPE, ...); borrowed */
    int64_t id;                /* out: parallax.probe_requests.id */
    ctl_request_state_t state; /* out */
} ctl_request_t;

/* Asks agent (by name) for one run of each reqs[i].spec against address, with timeout_ms for
 * each run, recorded with reason; all or none, in one transaction. Listens for the answers
 * from then on, so none is missed. Returns 0, or -1 (err set: no such agent, a disabled one,
 * a spec the database refuses). */
int ctl_request_ask(ctl_db_t *db, const char *agent, const char *address, unsigned timeout_ms,
                    const char *reason, ctl_request_t *reqs, size_t n, err_t *err);

/* Waits until every request is answered or cannot be any more (unsent), at most wait_s
 * seconds, and sets each one's state. Returns 0 (whatever the states), or -1 (err set) if the
 * database failed. */
int ctl_request_wait(ctl_db_t *db, ctl_request_t *reqs, size_t n, int wait_s, err_t *err);

/* The requests' ids as a PostgreSQL array literal ({1,2,3}) for a $n::bigint[] parameter.
 * Returns a malloc'd string (caller frees), or NULL when out of memory. */
char *ctl_request_ids(const ctl_request_t *reqs, size_t n);

/* Words for a state that is not ANSWERED, for the operator ("not sent: the agent has no
 * session with the coordinator"). */
const char *ctl_request_state_why(ctl_request_state_t state);

#endif
