/* notify_send: builds each kind's request from notify_body and hands it to notify_http. */
#include "notify_send.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "notify_body.h"
#include "notify_sign.h"

/* Alertmanager forgets an alert not re-sent by its endsAt; four intervals leave room for
 * three missed re-sends before an open outage's alert would vanish on its own. */
#define NOTIFY_SEND_ALIVE_INTERVALS 4

static void fail(notify_result_t *res, notify_outcome_t outcome, const char *msg)
{
    memset(res, 0, sizeof *res);
    res->outcome = outcome;
    snprintf(res->error, sizeof res->error, "%s", msg);
}

static void send_webhook(notify_http_t *h, const notify_delivery_t *d, int64_t now_us,
                         notify_result_t *res)
{
    const notify_receiver_t *r = &d->receiver;
    if (!r->secret || !*r->secret) {
        fail(res, NOTIFY_DEAD, "the webhook has no secret");
        return;
    }
    char sent_at[NOTIFY_BODY_TIME_MAX];
    size_t len;
    char *body = notify_body_webhook(&d->event, notify_body_time(now_us, sent_at), &len);
    if (!body) {
        fail(res, NOTIFY_RETRY, "out of memory");
        return;
    }
    long long ts = (long long)(now_us / 1000000);
    char sig[NOTIFY_SIGN_HEADER_MAX], h_sig[NOTIFY_SIGN_HEADER_MAX + 32], h_ts[64], h_key[320];
    if (notify_sign_webhook(r->secret, ts, body, len, sig) < 0) {
        free(body);
        fail(res, NOTIFY_RETRY, "cannot sign the body");
        return;
    }
    snprintf(h_sig, sizeof h_sig, "X-Parallax-Signature: %s", sig);
    snprintf(h_ts, sizeof h_ts, "X-Parallax-Timestamp: %lld", ts);
    /* The key is ours (digits, ':', event and stage names): no CR or LF to inject. */
    snprintf(h_key, sizeof h_key, "X-Parallax-Key: %s", d->event.key ? d->event.key : "");
    const char *headers[] = {"Content-Type: application/json", h_key, h_ts, h_sig, "Expect:", NULL};
    notify_http_post(h, r->url, headers, body, len, res);
    free(body);
}

/* {url}/api/v2/alerts, without a doubled '/'. */
static int alerts_url(const char *base, char *buf, size_t len)
{
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    int w = snprintf(buf, len, "%.*s/api/v2/alerts", (int)n, base);
    return w < 0 || (size_t)w >= len ? -1 : 0;
}

static void post_alerts(notify_http_t *h, const char *base, const notify_body_alert_t *alerts,
                        size_t n, notify_result_t *res)
{
    char url[2048];
    if (alerts_url(base, url, sizeof url) < 0) {
        fail(res, NOTIFY_DEAD, "the Alertmanager URL is too long");
        return;
    }
    size_t len;
    char *body = notify_body_alerts(alerts, n, &len);
    if (!body) {
        fail(res, NOTIFY_RETRY, "out of memory");
        return;
    }
    const char *headers[] = {"Content-Type: application/json", "Expect:", NULL};
    notify_http_post(h, url, headers, body, len, res);
    free(body);
}

static int is(const char *s, const char *what)
{
    return s && strcmp(s, what) == 0;
}

static void send_alertmanager(notify_http_t *h, const notify_delivery_t *d, int64_t now_us,
                              uint64_t interval_s, char *const *earlier, size_t n_earlier,
                              notify_result_t *res)
{
    const notify_event_t *ev = &d->event;
    char now[NOTIFY_BODY_TIME_MAX], alive[NOTIFY_BODY_TIME_MAX];
    notify_body_time(now_us, now);
    notify_body_time(now_us + (int64_t)(NOTIFY_SEND_ALIVE_INTERVALS * interval_s) * 1000000, alive);
    /* Alertmanager refuses an alert that starts after it ends, and takes one that ends
     * ahead of its clock as still firing: times from the database's clock that lie ahead of
     * ours (RFC 3339 in one format compares as text) are taken as now. */
    const char *starts = ev->started_at && strcmp(ev->started_at, now) > 0 ? now : NULL;
    const char *ends = alive;
    if (is(ev->event, "withdrawn"))
        ends = now;
    else if (is(ev->event, "test"))
        /* A test alert shows up, then goes away by itself after one interval. */
        notify_body_time(now_us + (int64_t)interval_s * 1000000, alive);
    else if (ev->ended_at)
        ends = strcmp(ev->ended_at, now) > 0 ? now : ev->ended_at;
    notify_body_alert_t *alerts = calloc(n_earlier + 1, sizeof *alerts);
    if (!alerts) {
        fail(res, NOTIFY_RETRY, "out of memory");
        return;
    }
    alerts[0] = (notify_body_alert_t){.ev = ev, .starts_at = starts, .ends_at = ends};
    /* An earlier stage ends when this event ended it: now, or at the outage's end. */
    for (size_t i = 0; i < n_earlier; i++)
        alerts[i + 1] = (notify_body_alert_t){.ev = ev,
                                              .stage = earlier[i],
                                              .starts_at = starts,
                                              .ends_at = ends == alive ? now : ends};
    post_alerts(h, d->receiver.url, alerts, n_earlier + 1, res);
    free(alerts);
}

static void send_email(notify_http_t *h, const notify_delivery_t *d, int64_t now_us,
                       notify_result_t *res)
{
    const notify_receiver_t *r = &d->receiver;
    char date[64];
    time_t s = (time_t)(now_us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    size_t len;
    char *msg = notify_body_mail(&d->event, r->mail_from, r->mail_to, date, &len);
    if (!msg) {
        fail(res, NOTIFY_DEAD, "mail_from or mail_to cannot stand in a header");
        return;
    }
    notify_http_mail(h, r->url, r->mail_from, r->mail_to, msg, len, res);
    free(msg);
}

void notify_send_delivery(notify_http_t *h, const notify_delivery_t *d, int64_t now_us,
                          uint64_t resend_interval_s, char *const *earlier, size_t n_earlier,
                          notify_result_t *res)
{
    switch (d->receiver.kind) {
    case NOTIFY_KIND_WEBHOOK:
        send_webhook(h, d, now_us, res);
        return;
    case NOTIFY_KIND_ALERTMANAGER:
        send_alertmanager(h, d, now_us, resend_interval_s, earlier, n_earlier, res);
        return;
    case NOTIFY_KIND_EMAIL:
        send_email(h, d, now_us, res);
        return;
    }
    fail(res, NOTIFY_DEAD, "unknown receiver kind");
}

void notify_send_alerts(notify_http_t *h, const notify_receiver_t *r, const notify_event_t *alerts,
                        size_t n, int64_t now_us, uint64_t resend_interval_s, notify_result_t *res)
{
    if (n == 0) {
        memset(res, 0, sizeof *res);
        res->outcome = NOTIFY_SENT;
        return;
    }
    char alive[NOTIFY_BODY_TIME_MAX];
    notify_body_time(now_us + (int64_t)(NOTIFY_SEND_ALIVE_INTERVALS * resend_interval_s) * 1000000,
                     alive);
    notify_body_alert_t *a = calloc(n, sizeof *a);
    if (!a) {
        fail(res, NOTIFY_RETRY, "out of memory");
        return;
    }
    char now[NOTIFY_BODY_TIME_MAX];
    notify_body_time(now_us, now);
    for (size_t i = 0; i < n; i++) {
        const char *s = alerts[i].started_at;
        a[i] = (notify_body_alert_t){
            .ev = &alerts[i], .starts_at = s && strcmp(s, now) > 0 ? now : NULL, .ends_at = alive};
    }
    post_alerts(h, r->url, a, n, res);
    free(a);
}
