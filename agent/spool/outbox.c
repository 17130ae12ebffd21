/* outbox: the delivery policy over the spool. All state about the batches themselves lives
 * in the spool (each batch carries its spool_delivery_t); the outbox keeps only its timers
 * and the retry pause. */
#include "outbox.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "timeutil.h"
#include "wire.h"
#include "timer.h"

/* Failures to spool are logged at most this often, with the running total. */
#define OUTBOX_DROP_LOG_US (10 * 1000000LL)
/* Pause after an ACK_RETRY: the first (unless configured), and the most it doubles up to. */
#define OUTBOX_RETRY_DEFAULT_MS 1000
#define OUTBOX_RETRY_MAX_US (60 * 1000 * 1000LL)

/* A kind of log line written at most once per OUTBOX_DROP_LOG_US, with a count of the rest. */
typedef struct log_pace {
    int64_t last_us; /* monotonic time of the last line; 0: none yet */
    uint64_t held;   /* occurrences since */
} log_pace_t;

struct outbox {
    struct event_base *base;
    outbox_config_t cfg;
    spool_t *spool;
    outbox_send_fn send;
    void *arg;
    struct event *seal_timer;
    struct event *tick_timer;
    int64_t paused_until_us; /* monotonic; no sending before this (ACK_RETRY) */
    int64_t retry_pause_us;  /* the next pause; 0: none yet */
    log_pace_t drops;        /* results dropped */
    log_pace_t refused;      /* items the coordinator refused at its door */
    outbox_counters_t counters;
};

/* Sends what is due, oldest first: batches never sent, and those sent more than resend_ms
 * ago without an answer, while fewer than `window` are in flight. */
static void pump(outbox_t *ob)
{
    int64_t now = time_mono_us();
    if (now < ob->paused_until_us)
        return;
    int64_t after = (int64_t)ob->cfg.resend_ms * 1000;
    uint32_t in_flight = 0;
    spool_batch_t *b = spool_batch_next(ob->spool, NULL);
    while (b && in_flight < ob->cfg.window) {
        if (b->delivery.sent_mono_us != 0 && now - b->delivery.sent_mono_us < after) {
            in_flight++;
            b = spool_batch_next(ob->spool, b);
            continue;
        }
        if (b->delivery.sent_mono_us != 0)
            log_debug("outbox: resending batch %llu (no answer after %u ms)",
                      (unsigned long long)b->seq, ob->cfg.resend_ms);
        uint8_t *buf = NULL;
        size_t len = 0;
        err_t err = {{0}};
        if (spool_batch_load(ob->spool, b->seq, &buf, &len, &err) < 0) {
            /* The spool gave the batch up (and reported it as a gap); it changed, so the
             * walk starts over. Each failure removes a batch, so this ends. */
            log_error("outbox: %s", err.msg);
            in_flight = 0;
            b = spool_batch_next(ob->spool, NULL);
            continue;
        }
        int rc = ob->send(buf, len, ob->arg);
        free(buf);
        if (rc < 0)
            return; /* the link takes nothing now; the tick or the next ack tries again */
        b->delivery.sent_mono_us = now;
        b->delivery.tries++;
        in_flight++;
        b = spool_batch_next(ob->spool, b);
    }
}

static void arm_seal_timer(outbox_t *ob)
{
    if (spool_open_count(ob->spool) == 0 || evtimer_pending(ob->seal_timer, NULL))
        return;
    if (timer_arm_ms(ob->seal_timer, ob->cfg.batch_interval_ms) < 0)
        log_error("outbox: cannot arm the batch timer: results wait for the next tick");
}

void outbox_flush(outbox_t *ob)
{
    evtimer_del(ob->seal_timer);
    err_t err = {{0}};
    if (spool_seal(ob->spool, &err) < 0)
        log_error("outbox: %s", err.msg);
    /* Sealing may have dropped a segment, whose gaps now wait in a new open batch. */
    arm_seal_timer(ob);
    pump(ob);
}

static void seal_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    outbox_flush(arg);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pump(arg);
}

outbox_t *outbox_new(struct event_base *base, const outbox_config_t *cfg, spool_t *spool,
                     outbox_send_fn send, void *arg, err_t *err)
{
    if (cfg->window < 1 || cfg->resend_ms < 4 || !spool || !send) {
        err_set(err, "invalid outbox settings");
        return NULL;
    }
    outbox_t *ob = calloc(1, sizeof *ob);
    if (!ob) {
        err_set(err, "out of memory");
        return NULL;
    }
    ob->base = base;
    ob->cfg = *cfg;
    if (ob->cfg.retry_ms == 0)
        ob->cfg.retry_ms = OUTBOX_RETRY_DEFAULT_MS;
    ob->spool = spool;
    ob->send = send;
    ob->arg = arg;
    ob->seal_timer = evtimer_new(base, seal_cb, ob);
    ob->tick_timer = event_new(base, -1, EV_PERSIST, tick_cb, ob);
    /* The check runs a few times per resend period, so an unanswered batch waits at most
     * about 1.25 x resend_ms and a retry pause ends at most that late. */
    int64_t tick_us = (int64_t)cfg->resend_ms * 1000 / 4;
    struct timeval tick = {.tv_sec = tick_us / 1000000, .tv_usec = tick_us % 1000000};
    if (!ob->seal_timer || !ob->tick_timer || event_add(ob->tick_timer, &tick) < 0) {
        err_set(err, "out of memory");
        outbox_destroy(&ob);
        return NULL;
    }
    /* A batch a previous run left open was sealed by the spool at open; results of this run
     * start a new one. */
    arm_seal_timer(ob);
    return ob;
}

void outbox_destroy(outbox_t **ob)
{
    if (!ob || !*ob)
        return;
    outbox_t *o = *ob;
    if (o->seal_timer)
        event_free(o->seal_timer);
    if (o->tick_timer)
        event_free(o->tick_timer);
    free(o);
    *ob = NULL;
}

/* Returns a copy of s cut to max bytes, with anything the wire refuses replaced by '?', or
 * NULL for an empty s or no memory. Caller owns the result. */
static char *dup_text(const char *s, size_t max)
{
    if (!s || !*s)
        return NULL;
    size_t n = strlen(s);
    if (n > max)
        n = max;
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    /* Truncation may split a UTF-8 sequence and probe text may hold anything; the wire
     * refuses such text, so it is replaced rather than losing the result. */
    if (!wire_text_valid(d)) {
        for (char *p = d; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                *p = '?';
    }
    return d;
}

/* Counts n more occurrences; returns how many to tell in a line now (those since the last
 * line, n included), or 0 while the last line is younger than OUTBOX_DROP_LOG_US. */
static uint64_t log_pace_due(log_pace_t *p, uint64_t n)
{
    p->held += n;
    int64_t now = time_mono_us();
    if (p->last_us != 0 && now - p->last_us < OUTBOX_DROP_LOG_US)
        return 0;
    uint64_t told = p->held;
    p->last_us = now;
    p->held = 0;
    return told;
}

static void note_drop(outbox_t *ob, const char *why)
{
    uint64_t told = log_pace_due(&ob->drops, 1);
    if (!told)
        return;
    spool_counters_t c;
    spool_counters(ob->spool, &c);
    log_error("outbox: DROPPED %llu results (%s); %llu dropped in total", (unsigned long long)told,
              why, (unsigned long long)c.dropped);
}

int outbox_add(outbox_t *ob, const Parallax__Result *r)
{
    Parallax__Result tmp = *r;
    Parallax__TlsInfo tls;
    char *msg = dup_text(r->message, PX_WIRE_MAX_TEXT);
    char *verr = NULL;
    tmp.message = msg ? msg : (char *)"";
    if (r->tls) {
        tls = *r->tls;
        verr = dup_text(r->tls->verify_error, PX_WIRE_MAX_TEXT);
        tls.verify_error = verr ? verr : (char *)"";
        tmp.tls = &tls;
    }
    err_t err = {{0}};
    int rc = spool_add_result(ob->spool, &tmp, &err);
    free(msg);
    free(verr);
    if (rc < 0) {
        note_drop(ob, err.msg);
        return -1;
    }
    arm_seal_timer(ob);
    if (rc > 0)
        pump(ob);
    return 0;
}

int outbox_add_gap(outbox_t *ob, const Parallax__Gap *g)
{
    err_t err = {{0}};
    int rc = spool_add_gap(ob->spool, g, &err);
    if (rc < 0) {
        log_error("outbox: a gap of %llu runs of probe %llu was not spooled: %s",
                  (unsigned long long)g->count, (unsigned long long)g->probe_id, err.msg);
        return -1;
    }
    arm_seal_timer(ob);
    if (rc > 0)
        pump(ob);
    return 0;
}

void outbox_resend_all(outbox_t *ob)
{
    for (spool_batch_t *b = spool_batch_next(ob->spool, NULL); b;
         b = spool_batch_next(ob->spool, b))
        b->delivery.sent_mono_us = 0;
    pump(ob);
}

/* The batch was stored but for results or gaps stamped outside the window of time the
 * coordinator accepts (a clock far off): those are gone for good, resending cannot help, so
 * the operator must hear of it — at a bounded rate, since a broken clock spoils every batch. */
static void note_refused(outbox_t *ob, const Parallax__Ack *ack)
{
    uint64_t n = (uint64_t)ack->refused_results + ack->refused_gaps + ack->clamped_gaps;
    if (n == 0)
        return;
    ob->counters.refused_results += ack->refused_results;
    ob->counters.refused_gaps += ack->refused_gaps;
    ob->counters.clamped_gaps += ack->clamped_gaps;
    uint64_t told = log_pace_due(&ob->refused, n);
    if (!told)
        return;
    log_warn("outbox: coordinator refused %u results and %u gaps of batch %llu and clamped %u "
             "gaps (%llu items since the last such line): %s; is this host's clock right?",
             ack->refused_results, ack->refused_gaps, (unsigned long long)ack->seq,
             ack->clamped_gaps, (unsigned long long)told,
             ack->refused_reason && *ack->refused_reason ? ack->refused_reason : "no reason given");
}

void outbox_counters(const outbox_t *ob, outbox_counters_t *out)
{
    *out = ob->counters;
}

void outbox_on_ack(outbox_t *ob, const Parallax__Ack *ack)
{
    /* Batches from before a restart or a failed sync keep their stream: the pair names one. */
    if (ack->stream != spool_batch_stream(ob->spool, ack->seq)) {
        log_debug("outbox: ack for batch %llu of stream %llu, not waiting here, ignored",
                  (unsigned long long)ack->seq, (unsigned long long)ack->stream);
        return;
    }
    const char *reason = ack->reason && *ack->reason ? ack->reason : "no reason given";
    if (ack->code == PARALLAX__ACK_CODE__ACK_RETRY) {
        for (spool_batch_t *b = spool_batch_next(ob->spool, NULL); b;
             b = spool_batch_next(ob->spool, b)) {
            if (b->seq == ack->seq) {
                b->delivery.sent_mono_us = 0;
                break;
            }
        }
        /* The coordinator cannot store now (its database is away): everything else sent
         * would get the same answer, so sending pauses, longer while this goes on. */
        ob->retry_pause_us =
            ob->retry_pause_us ? ob->retry_pause_us * 2 : (int64_t)ob->cfg.retry_ms * 1000;
        if (ob->retry_pause_us > OUTBOX_RETRY_MAX_US)
            ob->retry_pause_us = OUTBOX_RETRY_MAX_US;
        ob->paused_until_us = time_mono_us() + ob->retry_pause_us;
        log_info("outbox: coordinator asks to retry batch %llu later (%s); pausing %lld ms",
                 (unsigned long long)ack->seq, reason, (long long)(ob->retry_pause_us / 1000));
        return;
    }
    if (ack->code == PARALLAX__ACK_CODE__ACK_REJECTED)
        log_error("outbox: coordinator REJECTED batch %llu: %s; moved to the dead-letter file",
                  (unsigned long long)ack->seq, reason);
    else
        ob->retry_pause_us = 0;
    if (ack->code == PARALLAX__ACK_CODE__ACK_STORED)
        note_refused(ob, ack);
    err_t err = {{0}};
    if (spool_ack(ob->spool, ack->seq, ack->code, reason, &err) < 0)
        log_error("outbox: %s", err.msg);
    /* Acks pace the link: the window has room again. */
    pump(ob);
}
