/* notify_event: what the outbox hands the senders: an outage event, the receiver it goes to,
 * and a delivery joining the two. Plain data; every string is the struct's own copy. */
#ifndef PX_NOTIFY_EVENT_H
#define PX_NOTIFY_EVENT_H

#include <stdint.h>

typedef enum notify_kind {
    NOTIFY_KIND_ALERTMANAGER,
    NOTIFY_KIND_WEBHOOK,
    NOTIFY_KIND_EMAIL
} notify_kind_t;

/* A row of parallax.notify_events. Times are RFC 3339 in UTC ("...Z"); group, role,
 * ended_at and event may be NULL (notify_alerts() rows carry no event). detail is JSON text
 * from a jsonb column, so well-formed. */
typedef struct notify_event {
    int64_t id, outage_id;
    char *key, *event, *scope, *subject, *group, *role, *stage, *started_at, *ended_at, *detail;
    int late, maintenance;
} notify_event_t;

/* A row of parallax.notify_receivers. mail_to holds the addresses one a line. */
typedef struct notify_receiver {
    int id;
    notify_kind_t kind;
    char *name, *url, *secret, *mail_from, *mail_to;
} notify_receiver_t;

/* A pending row of parallax.notify_deliveries, with its event and receiver. */
typedef struct notify_delivery {
    notify_event_t event;
    notify_receiver_t receiver;
    int attempts; /* attempts made before this one */
    double age_s; /* since the event was made */
} notify_delivery_t;

/* "alertmanager", "webhook" or "email" to a kind; -1 for anything else. */
int notify_event_kind(const char *name, notify_kind_t *out);

/* Frees the strings of ev (not ev itself) and zeroes it. Accepts NULL. */
void notify_event_clear(notify_event_t *ev);

/* Frees the strings of r and zeroes it. Accepts NULL. */
void notify_event_receiver_clear(notify_receiver_t *r);

/* Frees *d with its strings and sets it to NULL. Accepts NULL and *d == NULL. */
void notify_event_delivery_destroy(notify_delivery_t **d);

#endif
