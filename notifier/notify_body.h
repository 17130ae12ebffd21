/* notify_body: the bytes each receiver kind gets for an event: the webhook's JSON body
 * (version 1, documented in docs/notifications.md), Alertmanager's v2 alert list, and the
 * e-mail message. Pure: times are passed in; nothing is sent here. */
#ifndef PX_NOTIFY_BODY_H
#define PX_NOTIFY_BODY_H

#include <stddef.h>
#include <stdint.h>

#include "notify_event.h"

#define NOTIFY_BODY_VERSION 1
#define NOTIFY_BODY_TIME_MAX 32

/* One alert of an Alertmanager POST. */
typedef struct notify_body_alert {
    const notify_event_t *ev; /* labels, annotations and startsAt */
    const char *stage;        /* the stage label, if not ev's (an earlier stage resolved) */
    const char *starts_at;    /* startsAt, if not ev's started_at */
    const char *ends_at;      /* endsAt, RFC 3339 */
} notify_body_alert_t;

/* Writes unix_us as RFC 3339 UTC with milliseconds ("2026-12-05T00:29:51.123Z") into buf
 * (NOTIFY_BODY_TIME_MAX bytes). Returns buf. */
char *notify_body_time(int64_t unix_us, char *buf);

/* The webhook body of ev, sent at sent_at (RFC 3339). Returns a NUL-terminated string with
 * its length in *len, or NULL on out of memory. Caller owns it (free()). */
char *notify_body_webhook(const notify_event_t *ev, const char *sent_at, size_t *len);

/* Alertmanager's POST /api/v2/alerts body for n alerts. Same return and ownership. */
char *notify_body_alerts(const notify_body_alert_t *alerts, size_t n, size_t *len);

/* The severity label of an event: "info" for a test, "warning" for a vantage's outage or a
 * stage short of down (degraded, partial), else "critical". */
const char *notify_body_severity(const notify_event_t *ev);

/* The e-mail subject: "[parallax] group XX servers_offline opened". Written into buf (len
 * bytes, cut if longer), with control characters replaced by spaces. Returns buf. */
char *notify_body_subject(const notify_event_t *ev, char *buf, size_t len);

/* The Message-ID of ev's e-mail: "<KEY@parallax>" with every character of the key that may
 * not stand there (':' among them) written as '.'. Into buf (len bytes). Returns buf. */
char *notify_body_message_id(const notify_event_t *ev, char *buf, size_t len);

/* The e-mail message (headers and text, CRLF line ends) from from to the addresses of to (one
 * a line), dated date (RFC 5322 date). NULL on out of memory or if from or an address holds
 * a character that would break a header (CR, LF, '<', '>'). Caller owns it (free()). */
char *notify_body_mail(const notify_event_t *ev, const char *from, const char *to, const char *date,
                       size_t *len);

#endif
