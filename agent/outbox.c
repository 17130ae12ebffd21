/* outbox: sealed batches are kept packed (the bytes to send), in a FIFO ordered by seq, so a
 * resend costs nothing and memory is a few dozen bytes per result. */
#include "outbox.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"
#include "timeutil.h"
#include "wire.h"

/* Drops are logged at most this often, with the running total. */
#define OUTBOX_DROP_LOG_US (10 * 1000000LL)

typedef struct batch {
    struct batch *next;
    uint64_t seq;
    uint32_t count;
    uint8_t *buf;
    size_t len;
    int64_t sent_mono_us; /* 0: never sent */
} batch_t;

struct outbox {
    struct event_base *base;
    outbox_config_t cfg;
    uint64_t stream;
    uint64_t next_seq;
    outbox_send_fn send;
    void *arg;
    /* The open batch: deep copies of results (unpacked from their own packed form). */
    Parallax__Result **open;
    uint32_t open_count;
    struct event *seal_timer;
    /* Sealed batches, oldest first. */
    batch_t *head;
    batch_t *tail;
    struct event *resend_timer;
    outbox_counters_t c;
    int64_t last_drop_log_us;
    uint64_t dropped_since_log;
};

static void free_open_strings(outbox_t *ob)
{
    for (uint32_t i = 0; i < ob->open_count; i++)
        parallax__result__free_unpacked(ob->open[i], NULL);
    ob->open_count = 0;
}

static void seal_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    outbox_flush(arg);
}

static int try_send(outbox_t *ob, batch_t *b)
{
    if (ob->send(b->buf, b->len, ob->arg) < 0)
        return -1;
    b->sent_mono_us = time_mono_us();
    return 0;
}

/* Resends what is due: never sent, or sent more than resend_ms ago without an ack. */
static void resend_due(outbox_t *ob)
{
    int64_t now = time_mono_us();
    int64_t after = (int64_t)ob->cfg.resend_ms * 1000;
    for (batch_t *b = ob->head; b; b = b->next) {
        if (b->sent_mono_us != 0 && now - b->sent_mono_us < after)
            continue;
        if (b->sent_mono_us != 0)
            log_debug("outbox: resending batch %llu (no ack after %u ms)",
                      (unsigned long long)b->seq, ob->cfg.resend_ms);
        if (try_send(ob, b) < 0)
            return;
    }
}

static void resend_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    resend_due(arg);
}

outbox_t *outbox_new(struct event_base *base, const outbox_config_t *cfg, uint64_t stream,
                     outbox_send_fn send, void *arg, err_t *err)
{
    if (cfg->batch_max < 1 || cfg->batch_max > PX_WIRE_MAX_RESULTS || stream == 0 ||
        cfg->max_pending < 1) {
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
    ob->stream = stream;
    ob->next_seq = 1;
    ob->send = send;
    ob->arg = arg;
    ob->open = calloc(cfg->batch_max, sizeof *ob->open);
    ob->seal_timer = evtimer_new(base, seal_cb, ob);
    ob->resend_timer = event_new(base, -1, EV_PERSIST, resend_cb, ob);
    /* The resend check runs a few times per resend period so a batch waits at most about
     * 1.25 x resend_ms; unsent batches also go out on every ack. */
    int64_t tick_us = (int64_t)cfg->resend_ms * 1000 / 4;
    struct timeval tick = {.tv_sec = tick_us / 1000000, .tv_usec = tick_us % 1000000};
    if (!ob->open || !ob->seal_timer || !ob->resend_timer ||
        event_add(ob->resend_timer, &tick) < 0) {
        err_set(err, "out of memory");
        outbox_destroy(&ob);
        return NULL;
    }
    return ob;
}

void outbox_destroy(outbox_t **ob)
{
    if (!ob || !*ob)
        return;
    outbox_t *o = *ob;
    if (o->seal_timer)
        event_free(o->seal_timer);
    if (o->resend_timer)
        event_free(o->resend_timer);
    if (o->open) {
        free_open_strings(o);
        free(o->open);
    }
    while (o->head) {
        batch_t *b = o->head;
        o->head = b->next;
        free(b->buf);
        free(b);
    }
    free(o);
    *ob = NULL;
}

static void note_drop(outbox_t *ob, uint64_t n, const char *why)
{
    ob->c.dropped += n;
    ob->dropped_since_log += n;
    int64_t now = time_mono_us();
    if (ob->last_drop_log_us == 0 || now - ob->last_drop_log_us >= OUTBOX_DROP_LOG_US) {
        log_error("outbox: DROPPED %llu results (%s); %llu dropped in total since start",
                  (unsigned long long)ob->dropped_since_log, why,
                  (unsigned long long)ob->c.dropped);
        ob->last_drop_log_us = now;
        ob->dropped_since_log = 0;
    }
}

static void unlink_batch(outbox_t *ob, batch_t *b, batch_t *prev)
{
    if (prev)
        prev->next = b->next;
    else
        ob->head = b->next;
    if (ob->tail == b)
        ob->tail = prev;
    ob->c.pending -= b->count;
    ob->c.batches--;
    free(b->buf);
    free(b);
}

void outbox_flush(outbox_t *ob)
{
    evtimer_del(ob->seal_timer);
    if (ob->open_count == 0)
        return;
    Parallax__Result **ptrs = ob->open;
    Parallax__ResultBatch rb = PARALLAX__RESULT_BATCH__INIT;
    rb.stream = ob->stream;
    rb.seq = ob->next_seq;
    rb.n_results = ob->open_count;
    rb.results = ptrs;
    Parallax__Envelope env = PARALLAX__ENVELOPE__INIT;
    env.version = PX_PROTOCOL_VERSION;
    env.body_case = PARALLAX__ENVELOPE__BODY_BATCH;
    env.batch = &rb;
    uint32_t count = ob->open_count;
    batch_t *b = calloc(1, sizeof *b);
    err_t err = {{0}};
    if (!b)
        err_set(&err, "out of memory");
    if (!b || wire_pack(&env, &b->buf, &b->len, &err) < 0) {
        /* Only a broken clock (timestamps out of range) or no memory gets here. */
        free(b);
        free_open_strings(ob);
        ob->c.pending -= count;
        note_drop(ob, count, err.msg);
        return;
    }
    free_open_strings(ob);
    b->seq = ob->next_seq++;
    b->count = count;
    if (ob->tail)
        ob->tail->next = b;
    else
        ob->head = b;
    ob->tail = b;
    ob->c.batches++;
    /* Send in order: if an older batch is still waiting to go out, this one waits too. */
    for (batch_t *o = ob->head; o != b; o = o->next)
        if (o->sent_mono_us == 0)
            return;
    try_send(ob, b);
}

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
     * refuses such text, so it is replaced rather than losing the whole batch. */
    if (!wire_text_valid(d)) {
        for (char *p = d; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                *p = '?';
    }
    return d;
}

int outbox_add(outbox_t *ob, const Parallax__Result *r)
{
    ob->c.produced++;
    /* Make room: the oldest sealed batches go first. If everything pending sits in the open
     * batch, seal it so that it becomes the oldest. */
    while (ob->c.pending >= ob->cfg.max_pending) {
        if (!ob->head && ob->open_count > 0)
            outbox_flush(ob);
        if (!ob->head)
            break;
        uint32_t n = ob->head->count;
        unlink_batch(ob, ob->head, NULL);
        note_drop(ob, n, "more than max_pending unacknowledged results");
    }
    /* A deep copy through the packed form: results carry nested details (timings, hops),
     * and this copies them all with one well-tested piece of code. */
    Parallax__Result tmp = *r;
    char *msg = dup_text(r->message, PX_WIRE_MAX_TEXT);
    tmp.message = msg ? msg : (char *)"";
    size_t len = parallax__result__get_packed_size(&tmp);
    uint8_t *packed = malloc(len ? len : 1);
    Parallax__Result *d = NULL;
    if (packed) {
        parallax__result__pack(&tmp, packed);
        d = parallax__result__unpack(NULL, len, packed);
    }
    free(packed);
    free(msg);
    if (!d) {
        note_drop(ob, 1, "out of memory");
        return -1;
    }
    ob->open[ob->open_count] = d;
    ob->open_count++;
    ob->c.pending++;
    if (ob->open_count == 1) {
        int64_t us = (int64_t)ob->cfg.batch_interval_ms * 1000;
        struct timeval tv = {.tv_sec = us / 1000000, .tv_usec = us % 1000000};
        evtimer_add(ob->seal_timer, &tv);
    }
    if (ob->open_count >= ob->cfg.batch_max)
        outbox_flush(ob);
    return 0;
}

void outbox_resend_all(outbox_t *ob)
{
    for (batch_t *b = ob->head; b; b = b->next)
        if (try_send(ob, b) < 0)
            return;
}

void outbox_on_ack(outbox_t *ob, const Parallax__Ack *ack)
{
    if (ack->stream != ob->stream) {
        log_debug("outbox: ack for another stream %llu ignored", (unsigned long long)ack->stream);
        return;
    }
    batch_t *prev = NULL, *b = ob->head;
    while (b && b->seq != ack->seq) {
        prev = b;
        b = b->next;
    }
    if (!b) {
        log_debug("outbox: ack for batch %llu which is no longer held",
                  (unsigned long long)ack->seq);
    } else if (ack->code == PARALLAX__ACK_CODE__ACK_STORED) {
        ob->c.stored += b->count;
        unlink_batch(ob, b, prev);
    } else if (ack->code == PARALLAX__ACK_CODE__ACK_RETRY) {
        log_info("outbox: coordinator asks to retry batch %llu later: %s",
                 (unsigned long long)b->seq,
                 ack->reason && *ack->reason ? ack->reason : "no reason given");
        b->sent_mono_us = time_mono_us();
    } else if (ack->code == PARALLAX__ACK_CODE__ACK_REJECTED) {
        log_error("outbox: coordinator REJECTED batch %llu (%u results): %s",
                  (unsigned long long)b->seq, b->count,
                  ack->reason && *ack->reason ? ack->reason : "no reason given");
        ob->c.rejected++;
        unlink_batch(ob, b, prev);
    }
    /* Acks pace the link: whatever has never been sent goes out now. */
    for (batch_t *o = ob->head; o; o = o->next)
        if (o->sent_mono_us == 0 && try_send(ob, o) < 0)
            break;
}

void outbox_counters(const outbox_t *ob, outbox_counters_t *out)
{
    *out = ob->c;
}

uint64_t outbox_stream(const outbox_t *ob)
{
    return ob->stream;
}

uint64_t outbox_random_stream(err_t *err)
{
    uint64_t v = 0;
    for (int tries = 0; tries < 8; tries++) {
        if (getrandom(&v, sizeof v, 0) != sizeof v) {
            err_set(err, "getrandom failed");
            return 0;
        }
        v &= 0x7fffffffffffffffULL;
        if (v)
            return v;
    }
    err_set(err, "getrandom returned zeros");
    return 0;
}
