/* notify_outbox: the notifier's one database session (libpq; the only module that includes
 * it): LISTEN parallax_notify, fan events out with parallax.notify_route(), claim one due
 * delivery at a time (FOR UPDATE SKIP LOCKED, in a transaction held across the send so a
 * crash leaves it pending), and mark it sent, retried or dead. */
#ifndef PX_NOTIFY_OUTBOX_H
#define PX_NOTIFY_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "notify_event.h"

typedef struct notify_outbox notify_outbox_t;

/* Connects to conninfo (application_name parallax-notifier, client_encoding UTF8) and
 * listens. hold_s bounds how long a claim's transaction may sit idle (the send's timeout
 * and some), after which the server ends it and the delivery is pending again. NULL on
 * failure with err set. Caller owns it: notify_outbox_destroy(). */
notify_outbox_t *notify_outbox_new(const char *conninfo, uint64_t hold_s, err_t *err);

/* Closes the session (a claim still open is rolled back: pending again). Accepts NULL. */
void notify_outbox_destroy(notify_outbox_t **o);

/* The session's socket, to wait on for notifications. */
int notify_outbox_socket(const notify_outbox_t *o);

/* Reads what the server sent and drops the notifications (the next pass reads everything
 * due anyway). Returns how many there were, or -1 if the session is lost. */
int notify_outbox_drain(notify_outbox_t *o, err_t *err);

/* Runs parallax.notify_route(). Returns the events routed, or -1 with err set. */
int notify_outbox_route(notify_outbox_t *o, err_t *err);

/* Claims the due delivery that has waited longest, opening a transaction that holds it.
 * Returns 1 with *out set (caller owns it: notify_event_delivery_destroy(); end the claim
 * with notify_outbox_sent/retry/dead/release), 0 if none is due, -1 with err set. */
int notify_outbox_claim(notify_outbox_t *o, notify_delivery_t **out, err_t *err);

/* The receiver accepted d: state sent, then commit. 0, or -1 with err set. */
int notify_outbox_sent(notify_outbox_t *o, const notify_delivery_t *d, err_t *err);

/* d failed for now: attempts + 1, next try in delay_s, last_error error. If defer_others, the
 * receiver's other deliveries due before then wait until then too (it does not answer:
 * trying them now would only stall the others). Commits. 0, or -1 with err set. */
int notify_outbox_retry(notify_outbox_t *o, const notify_delivery_t *d, uint64_t delay_s,
                        const char *error, int defer_others, err_t *err);

/* d failed for good: state dead with reason. Commits. 0, or -1 with err set. */
int notify_outbox_dead(notify_outbox_t *o, const notify_delivery_t *d, const char *reason,
                       err_t *err);

/* Leaves d as it was (rolls the claim back). 0, or -1 with err set. */
int notify_outbox_release(notify_outbox_t *o, err_t *err);

/* Milliseconds until the earliest pending delivery is due (0 if one is due now), or -1 if
 * none is pending; -2 with err set on a database error. */
int64_t notify_outbox_next_due_ms(notify_outbox_t *o, err_t *err);

/* The stages of d's outage told before d's event, other than d's own, distinct, into *out
 * (*n strings; caller frees each and the array). 0, or -1 with err set. */
int notify_outbox_earlier_stages(notify_outbox_t *o, const notify_delivery_t *d, char ***out,
                                 size_t *n, err_t *err);

/* The enabled Alertmanager receivers, into *out (*n; caller clears each with
 * notify_event_receiver_clear and frees the array). 0, or -1 with err set. */
int notify_outbox_alertmanagers(notify_outbox_t *o, notify_receiver_t **out, size_t *n, err_t *err);

/* The open alerts of receiver id (parallax.notify_alerts()), into *out (*n; caller clears
 * each with notify_event_clear and frees the array). 0, or -1 with err set. */
int notify_outbox_alerts(notify_outbox_t *o, int id, notify_event_t **out, size_t *n, err_t *err);

#endif
