/* door: the time window at the coordinator's door. */
#include "door.h"

#include <stdio.h>
#include <time.h>

/* Writes ts_us as an ISO 8601 UTC time (whole seconds) into buf. */
static void format_time(char *buf, size_t size, int64_t ts_us)
{
    time_t secs = (time_t)(ts_us / 1000000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, size, "%lld us", (long long)ts_us);
}

/* Keeps the first refusal (or clamp) as the report's reason: what, when, and the window. */
static void note(door_report_t *r, const char *what, int64_t ts_us, int64_t lo, int64_t hi)
{
    if (r->reason[0])
        return;
    char at[40], from[40], to[40];
    format_time(at, sizeof at, ts_us);
    format_time(from, sizeof from, lo);
    format_time(to, sizeof to, hi);
    snprintf(r->reason, sizeof r->reason, "%s %s is outside the accepted window %s .. %s", what, at,
             from, to);
}

void door_admit(Parallax__ResultBatch *b, int64_t recv_us, int64_t offset_us,
                const door_window_t *w, Parallax__ResultBatch *admitted, door_report_t *report)
{
    *report = (door_report_t){0};
    /* The offset comes from the agent's own heartbeats: a liar could claim weeks and so move
     * the window. Trusted only as far as the window reaches ahead; a clock further off is
     * broken, and its results are refused (the agent logs why) until it is set right. */
    if (offset_us > w->ahead_us)
        offset_us = w->ahead_us;
    else if (offset_us < -w->ahead_us)
        offset_us = -w->ahead_us;
    /* The window on the agent's clock, which is what its stamps are on. */
    int64_t lo = recv_us + offset_us - w->past_us;
    int64_t hi = recv_us + offset_us + w->ahead_us;
    size_t k = 0;
    for (size_t i = 0; i < b->n_results; i++) {
        Parallax__Result *r = b->results[i];
        if (r->ts_us < lo || r->ts_us > hi) {
            report->refused_results++;
            note(report, "result stamped", r->ts_us, lo, hi);
            continue;
        }
        /* A swap, not a copy: b keeps every pointer it must free. */
        b->results[i] = b->results[k];
        b->results[k++] = r;
    }
    size_t n_results = k;
    k = 0;
    for (size_t i = 0; i < b->n_gaps; i++) {
        Parallax__Gap *g = b->gaps[i];
        if (g->to_us < lo || g->from_us > hi) {
            report->refused_gaps++;
            note(report, "gap from", g->from_us, lo, hi);
            continue;
        }
        if (g->from_us < lo || g->to_us > hi) {
            report->clamped_gaps++;
            note(report, "gap reaching", g->from_us < lo ? g->from_us : g->to_us, lo, hi);
            g->from_us = g->from_us < lo ? lo : g->from_us;
            g->to_us = g->to_us > hi ? hi : g->to_us;
        }
        b->gaps[i] = b->gaps[k];
        b->gaps[k++] = g;
    }
    *admitted = *b;
    admitted->n_results = n_results;
    admitted->n_gaps = k;
}
