/* notify_http: the one place that speaks to receivers, through libcurl: an HTTP POST
 * (webhooks, Alertmanager) and an SMTP submission (e-mail), each bounded by a timeout and
 * abandoned at once when a stop signal arrives. Says what came of it: accepted, worth
 * another try, or refused for good. */
#ifndef PX_NOTIFY_HTTP_H
#define PX_NOTIFY_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef enum notify_outcome {
    NOTIFY_SENT,   /* the receiver accepted it (HTTP 2xx, SMTP 250) */
    NOTIFY_RETRY,  /* a passing failure: try again later */
    NOTIFY_DEAD,   /* the receiver refused it for good */
    NOTIFY_STOPPED /* abandoned for a stop signal: neither sent nor failed */
} notify_outcome_t;

typedef struct notify_result {
    notify_outcome_t outcome;
    int unreachable; /* RETRY because the receiver did not answer (timeout, no connection) */
    char error[256]; /* what went wrong, for last_error and the log ("" when sent) */
} notify_result_t;

typedef struct notify_http notify_http_t;

/* A client whose requests each take at most timeout_s. stop_fd (or -1) is a descriptor that
 * becomes readable when the process is asked to stop (a signalfd): a request in flight is
 * then abandoned. NULL on failure with err set. Caller owns it: notify_http_destroy(). */
notify_http_t *notify_http_new(uint64_t timeout_s, int stop_fd, err_t *err);

/* Frees *h and NULLs it. Accepts NULL. */
void notify_http_destroy(notify_http_t **h);

/* POSTs body (len bytes) to url (http or https only) with the NULL-terminated list of extra
 * header lines. Fills *res. Redirects are not followed (a 3xx is a refusal). */
void notify_http_post(notify_http_t *h, const char *url, const char *const *headers,
                      const char *body, size_t len, notify_result_t *res);

/* Submits message (len bytes, CRLF lines) over SMTP to url (smtp:// or smtps://) from from to
 * the addresses in to (one a line). Fills *res. */
void notify_http_mail(notify_http_t *h, const char *url, const char *from, const char *to,
                      const char *message, size_t len, notify_result_t *res);

/* What an HTTP status means for a delivery: 2xx sent; 408, 429 and 5xx retried; the rest
 * (1xx, 3xx, other 4xx) refused for good. */
notify_outcome_t notify_http_classify(long status);

/* What the last SMTP reply code of a failed submission means: 5xx refused for good; 4xx,
 * none (0) or anything else retried. */
notify_outcome_t notify_http_classify_smtp(long code);

#endif
