/* notifier: one thread, one database session, one HTTP client; poll() on the session's
 * socket and the stop descriptor is the only wait. */
#include "notifier.h"

#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "log.h"
#include "log_limit.h"
#include "notify_backoff.h"
#include "notify_http.h"
#include "notify_outbox.h"
#include "notify_send.h"
#include "timeutil.h"

/* Deliveries per pass before the loop looks at signals and notifications again. */
#define NOTIFIER_BATCH 100
/* A receiver's (or the database's) failures cost a log line a minute, with a count. */
#define NOTIFIER_LOG_PERIOD_US (60 * 1000000LL)
#define NOTIFIER_LOG_KEYS 256
/* Reconnecting to the database: from a second, doubling to half a minute. */
#define NOTIFIER_DB_RETRY_MIN_MS 1000
#define NOTIFIER_DB_RETRY_MAX_MS 30000

struct notifier {
    notify_config_t cfg;
    int stop_fd;
    int stopping;
    notify_http_t *http;
    notify_outbox_t *db;
    log_limit_t *log;
    int64_t db_retry_at_us; /* monotonic */
    int64_t db_delay_ms;
    int64_t am_next_us; /* monotonic: when open alerts are next re-sent */
};

notifier_t *notifier_new(const notify_config_t *cfg, int stop_fd, err_t *err)
{
    notifier_t *n = calloc(1, sizeof *n);
    if (!n) {
        err_set(err, "out of memory");
        return NULL;
    }
    n->cfg = *cfg;
    n->stop_fd = stop_fd;
    n->db_delay_ms = NOTIFIER_DB_RETRY_MIN_MS;
    if (!(n->http = notify_http_new(cfg->timeout_s, stop_fd, err)) ||
        !(n->log = log_limit_new(NOTIFIER_LOG_KEYS, NOTIFIER_LOG_PERIOD_US))) {
        if (n->http)
            err_set(err, "out of memory");
        notifier_destroy(&n);
        return NULL;
    }
    return n;
}

void notifier_destroy(notifier_t **n)
{
    if (!n || !*n)
        return;
    notify_outbox_destroy(&(*n)->db);
    notify_http_destroy(&(*n)->http);
    log_limit_destroy(&(*n)->log);
    free(*n);
    *n = NULL;
}

/* A warning about key, paced by the log limiter. */
static void warn_limited(notifier_t *n, const char *key, const char *what, const char *msg)
{
    unsigned long held = 0;
    int shared = 0;
    if (!log_limit_allow(n->log, key, time_mono_us(), &held, &shared))
        return;
    if (held)
        log_warn("%s%s (and %lu more such in the last minute)", what, msg, held);
    else
        log_warn("%s%s", what, msg);
}

static void report_held(void *arg, const char *key, unsigned long held)
{
    (void)arg;
    log_warn("%s: %lu more failures in the last minute", key ? key : "receivers", held);
}

static void lose_db(notifier_t *n, const char *msg)
{
    warn_limited(n, "database", "", msg);
    notify_outbox_destroy(&n->db);
    n->db_retry_at_us = time_mono_us() + n->db_delay_ms * 1000;
    n->db_delay_ms = n->db_delay_ms * 2 > NOTIFIER_DB_RETRY_MAX_MS ? NOTIFIER_DB_RETRY_MAX_MS
                                                                   : n->db_delay_ms * 2;
}

static int connect_db(notifier_t *n)
{
    err_t err = {{0}};
    /* A claim's transaction waits at most one send; a hung notifier's lock is freed after
     * three of them, and the delivery is pending again. */
    n->db = notify_outbox_new(n->cfg.database, 3 * n->cfg.timeout_s + 30, &err);
    if (!n->db) {
        lose_db(n, err.msg);
        return -1;
    }
    n->db_delay_ms = NOTIFIER_DB_RETRY_MIN_MS;
    log_info("connected to the database; delivering");
    return 0;
}

/* What to do with a delivery that failed for now: retry later, or give up on it if it is
 * older than give_up_s by then. */
static int failed(notifier_t *n, const notify_delivery_t *d, const notify_result_t *res, err_t *err)
{
    uint64_t delay = notify_backoff_delay_s((uint32_t)d->attempts + 1, n->cfg.retry_min_s,
                                            n->cfg.retry_max_s, arc4random());
    char what[160];
    snprintf(what, sizeof what, "receiver %s: event %s: ", d->receiver.name,
             d->event.key ? d->event.key : "?");
    if (d->age_s + (double)delay > (double)n->cfg.give_up_s) {
        char reason[400];
        snprintf(reason, sizeof reason, "gave up after %d attempts: %s", d->attempts + 1,
                 res->error);
        warn_limited(n, d->receiver.name, what, reason);
        return notify_outbox_dead(n->db, d, reason, err);
    }
    char msg[400];
    snprintf(msg, sizeof msg, "%s; next try in %" PRIu64 " s", res->error, delay);
    warn_limited(n, d->receiver.name, what, msg);
    /* Whatever made this one fail (no answer, 5xx, 429) holds for the receiver's others:
     * they wait too, so the pass moves on to receivers that answer. */
    return notify_outbox_retry(n->db, d, delay, res->error, 1, err);
}

/* Sends one claimed delivery and ends its claim. -1 on a database error. */
static int deliver(notifier_t *n, notify_delivery_t *d, err_t *err)
{
    char **earlier = NULL;
    size_t n_earlier = 0;
    if (d->receiver.kind == NOTIFY_KIND_ALERTMANAGER &&
        notify_outbox_earlier_stages(n->db, d, &earlier, &n_earlier, err) < 0)
        return -1;
    notify_result_t res;
    notify_send_delivery(n->http, d, time_now_us(), n->cfg.resend_interval_s, earlier, n_earlier,
                         &res);
    for (size_t i = 0; i < n_earlier; i++)
        free(earlier[i]);
    free(earlier);
    switch (res.outcome) {
    case NOTIFY_SENT:
        log_debug("receiver %s: event %s sent", d->receiver.name, d->event.key);
        return notify_outbox_sent(n->db, d, err);
    case NOTIFY_DEAD: {
        char what[160];
        snprintf(what, sizeof what,
                 "receiver %s: event %s: refused for good (dead): ", d->receiver.name,
                 d->event.key ? d->event.key : "?");
        warn_limited(n, d->receiver.name, what, res.error);
        return notify_outbox_dead(n->db, d, res.error, err);
    }
    case NOTIFY_RETRY:
        return failed(n, d, &res, err);
    case NOTIFY_STOPPED:
        n->stopping = 1;
        return notify_outbox_release(n->db, err);
    }
    return 0;
}

/* Re-sends every Alertmanager receiver's open alerts. Failures are logged only: the next
 * interval sends them again, and endsAt leaves room for missed ones. */
static int resend_alerts(notifier_t *n, err_t *err)
{
    notify_receiver_t *rs;
    size_t nr;
    if (notify_outbox_alertmanagers(n->db, &rs, &nr, err) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < nr && !n->stopping; i++) {
        notify_event_t *alerts;
        size_t na;
        if (notify_outbox_alerts(n->db, rs[i].id, &alerts, &na, err) < 0) {
            rc = -1;
            break;
        }
        notify_result_t res;
        notify_send_alerts(n->http, &rs[i], alerts, na, time_now_us(), n->cfg.resend_interval_s,
                           &res);
        if (res.outcome == NOTIFY_STOPPED)
            n->stopping = 1;
        else if (res.outcome != NOTIFY_SENT) {
            char what[160];
            snprintf(what, sizeof what, "receiver %s: re-sending %zu open alerts: ", rs[i].name,
                     na);
            warn_limited(n, rs[i].name, what, res.error);
        }
        for (size_t j = 0; j < na; j++)
            notify_event_clear(&alerts[j]);
        free(alerts);
    }
    for (size_t i = 0; i < nr; i++)
        notify_event_receiver_clear(&rs[i]);
    free(rs);
    return rc;
}

/* One pass over the outbox. Returns how long to wait before the next (ms), or -1 on a
 * database error. */
static int64_t pass(notifier_t *n, err_t *err)
{
    if (notify_outbox_drain(n->db, err) < 0 || notify_outbox_route(n->db, err) < 0)
        return -1;
    int count = 0;
    for (; count < NOTIFIER_BATCH && !n->stopping; count++) {
        notify_delivery_t *d = NULL;
        int got = notify_outbox_claim(n->db, &d, err);
        if (got <= 0) {
            if (got < 0)
                return -1;
            break;
        }
        int rc = deliver(n, d, err);
        notify_event_delivery_destroy(&d);
        if (rc < 0)
            return -1;
    }
    int64_t now = time_mono_us();
    if (!n->stopping && now >= n->am_next_us) {
        if (resend_alerts(n, err) < 0)
            return -1;
        n->am_next_us = now + (int64_t)n->cfg.resend_interval_s * 1000000;
    }
    if (count == NOTIFIER_BATCH)
        return 0;
    int64_t wait = (int64_t)n->cfg.poll_s * 1000;
    int64_t due = notify_outbox_next_due_ms(n->db, err);
    if (due == -2)
        return -1;
    if (due >= 0 && due < wait)
        wait = due;
    int64_t am = (n->am_next_us - time_mono_us()) / 1000;
    if (am < wait)
        wait = am < 0 ? 0 : am;
    return wait;
}

/* Waits up to wait_ms for the stop signal or the database's socket. */
static void wait_for(notifier_t *n, int64_t wait_ms)
{
    struct pollfd p[2] = {{.fd = n->stop_fd, .events = POLLIN}, {.fd = -1, .events = POLLIN}};
    if (n->db)
        p[1].fd = notify_outbox_socket(n->db);
    if (wait_ms > 60000)
        wait_ms = 60000;
    if (poll(p, 2, (int)wait_ms) > 0 && (p[0].revents & POLLIN)) {
        struct signalfd_siginfo si;
        ssize_t r = read(n->stop_fd, &si, sizeof si);
        (void)r; /* any byte (or none: another reader took it) means stop */
        n->stopping = 1;
    }
}

int notifier_run(notifier_t *n)
{
    log_info("started (poll every %" PRIu64 " s, Alertmanager re-sends every %" PRIu64
             " s, requests time out after %" PRIu64 " s)",
             n->cfg.poll_s, n->cfg.resend_interval_s, n->cfg.timeout_s);
    while (!n->stopping) {
        int64_t wait_ms;
        if (!n->db && time_mono_us() >= n->db_retry_at_us)
            connect_db(n);
        if (n->db) {
            err_t err = {{0}};
            wait_ms = pass(n, &err);
            if (wait_ms < 0) {
                lose_db(n, err.msg);
                wait_ms = n->db_delay_ms;
            }
        } else {
            wait_ms = (n->db_retry_at_us - time_mono_us()) / 1000;
            if (wait_ms < 0)
                wait_ms = 0;
        }
        log_limit_flush(n->log, time_mono_us(), report_held, NULL);
        if (!n->stopping)
            wait_for(n, wait_ms);
    }
    log_info("stopping: deliveries not yet accepted stay pending");
    notify_outbox_destroy(&n->db);
    return 0;
}
