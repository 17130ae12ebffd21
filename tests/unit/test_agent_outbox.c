/* Unit tests for outbox over a real spool in a scratch directory: batching by count and by
 * time, acks that free, ACK_RETRY pausing then resending the same batch, rejects going to
 * the dead-letter file and never resent, the send window, resends after a reconnect and
 * after resend_ms, batches from an earlier run sent at start, and text the wire would
 * refuse replaced rather than lost. The send function is a fake link that records what it
 * was given and can be switched off. Waiting is on the event loop until a condition holds,
 * with a deadline, never a fixed sleep. */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <event2/event.h>

#include "outbox.h"
#include "spool.h"
#include "timeutil.h"
#include "wire.h"

#define MAX_SENT 256
#define TS0 1700000000000000LL

typedef struct fake_link {
    int up;
    uint64_t stream;
    size_t sent;
    uint64_t seq[MAX_SENT];
    uint64_t streams[MAX_SENT];
    size_t count[MAX_SENT];
    uint64_t first_probe[MAX_SENT];
} fake_link_t;

typedef struct fixture {
    char dir[64];
    char spool_dir[128];
    char dead[128];
    struct event_base *base;
    fake_link_t link;
    spool_t *spool;
} fixture_t;

static int fake_send(const uint8_t *buf, size_t len, void *arg)
{
    fake_link_t *l = arg;
    if (!l->up)
        return -1;
    err_t err = {{0}};
    Parallax__Envelope *env = wire_unpack(buf, len, PX_WIRE_MAX_TO_COORD, &err);
    assert_non_null(env);
    assert_int_equal(env->body_case, PARALLAX__ENVELOPE__BODY_BATCH);
    /* Each batch goes under the stream it was spooled in (spool_batch_stream). */
    assert_int_not_equal(env->batch->stream, 0);
    if (l->sent < MAX_SENT) {
        l->streams[l->sent] = env->batch->stream;
        l->seq[l->sent] = env->batch->seq;
        l->count[l->sent] = env->batch->n_results;
        l->first_probe[l->sent] = env->batch->n_results ? env->batch->results[0]->probe_id : 0;
    }
    l->sent++;
    wire_free(&env);
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void open_spool(fixture_t *f, uint32_t batch_max)
{
    spool_config_t cfg = {.dir = f->spool_dir,
                          .deadletter = f->dead,
                          .max_bytes = 4 * 1024 * 1024,
                          .segment_bytes = 1024 * 1024,
                          .batch_max = batch_max};
    err_t err = {{0}};
    f->spool = spool_open(&cfg, &err);
    if (!f->spool)
        fail_msg("spool_open: %s", err.msg);
    f->link.stream = spool_stream(f->spool);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/px-test-outbox-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->spool_dir, sizeof f->spool_dir, "%s/spool", f->dir);
    snprintf(f->dead, sizeof f->dead, "%s/deadletter", f->dir);
    f->base = event_base_new();
    f->link.up = 1;
    *state = f;
    return f->base ? 0 : -1;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    spool_close(&f->spool);
    event_base_free(f->base);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static outbox_t *make(fixture_t *f, uint32_t batch_max, uint32_t interval_ms, uint32_t resend_ms,
                      uint32_t window)
{
    if (!f->spool)
        open_spool(f, batch_max);
    outbox_config_t cfg = {
        .batch_interval_ms = interval_ms, .resend_ms = resend_ms, .window = window, .retry_ms = 50};
    err_t err = {{0}};
    outbox_t *ob = outbox_new(f->base, &cfg, f->spool, fake_send, &f->link, &err);
    if (!ob)
        fail_msg("outbox_new: %s", err.msg);
    return ob;
}

static void add(outbox_t *ob, uint64_t probe_id)
{
    Parallax__Result r = PARALLAX__RESULT__INIT;
    r.probe_id = probe_id;
    r.ts_us = TS0 + (int64_t)probe_id;
    r.status = PARALLAX__STATUS__STATUS_OK;
    r.rtt_us = 42;
    r.message = "ok";
    assert_int_equal(outbox_add(ob, &r), 0);
}

static void ack(outbox_t *ob, uint64_t stream, uint64_t seq, Parallax__AckCode code)
{
    Parallax__Ack a = PARALLAX__ACK__INIT;
    a.stream = stream;
    a.seq = seq;
    a.code = code;
    a.reason = "test";
    outbox_on_ack(ob, &a);
}

static spool_counters_t counters(const fixture_t *f)
{
    spool_counters_t c;
    spool_counters(f->spool, &c);
    return c;
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(int *)arg = 1;
}

/* Runs the loop until cond holds; fails after max_ms. */
#define RUN_UNTIL(f, cond, max_ms)                                                                 \
    do {                                                                                           \
        int expired_ = 0;                                                                          \
        struct event *dl_ = evtimer_new((f)->base, deadline_cb, &expired_);                        \
        struct timeval tv_ = {.tv_sec = (max_ms) / 1000, .tv_usec = ((max_ms) % 1000) * 1000};     \
        evtimer_add(dl_, &tv_);                                                                    \
        while (!(cond) && !expired_)                                                               \
            event_base_loop((f)->base, EVLOOP_ONCE);                                               \
        event_free(dl_);                                                                           \
        if (!(cond))                                                                               \
            fail_msg("timed out after %d ms waiting for %s", (max_ms), #cond);                     \
    } while (0)

static void test_batches_by_count(void **state)
{
    fixture_t *f = *state;
    outbox_t *ob = make(f, 3, 60000, 60000, 8);
    for (uint64_t i = 1; i <= 7; i++)
        add(ob, i);
    assert_int_equal(f->link.sent, 2);
    assert_int_equal(f->link.seq[0], 1);
    assert_int_equal(f->link.count[0], 3);
    assert_int_equal(f->link.first_probe[0], 1);
    assert_int_equal(f->link.seq[1], 2);
    assert_int_equal(f->link.first_probe[1], 4);
    spool_counters_t c = counters(f);
    assert_int_equal(c.produced, 7);
    assert_int_equal(c.pending, 7);
    assert_int_equal(c.batches, 2);
    /* An explicit flush sends the partial batch. */
    outbox_flush(ob);
    assert_int_equal(f->link.sent, 3);
    assert_int_equal(f->link.count[2], 1);
    outbox_destroy(&ob);
    assert_null(ob);
    outbox_destroy(&ob);
}

static void test_batches_by_time(void **state)
{
    fixture_t *f = *state;
    outbox_t *ob = make(f, 100, 20, 60000, 8);
    add(ob, 1);
    add(ob, 2);
    assert_int_equal(f->link.sent, 0);
    RUN_UNTIL(f, f->link.sent == 1, 5000);
    assert_int_equal(f->link.count[0], 2);
    outbox_destroy(&ob);
}

static void test_ack_frees_and_unknown_ack_ignored(void **state)
{
    fixture_t *f = *state;
    outbox_t *ob = make(f, 2, 60000, 60000, 8);
    uint64_t stream = f->link.stream;
    for (uint64_t i = 1; i <= 4; i++)
        add(ob, i);
    assert_int_equal(f->link.sent, 2);
    ack(ob, stream, 2, PARALLAX__ACK_CODE__ACK_STORED);
    spool_counters_t c = counters(f);
    assert_int_equal(c.acked, 2);
    assert_int_equal(c.pending, 2);
    assert_int_equal(c.batches, 1);
    /* Duplicate ack, other stream, unknown seq: nothing changes. */
    ack(ob, stream, 2, PARALLAX__ACK_CODE__ACK_STORED);
    ack(ob, stream + 1, 1, PARALLAX__ACK_CODE__ACK_STORED);
    ack(ob, stream, 99, PARALLAX__ACK_CODE__ACK_STORED);
    c = counters(f);
    assert_int_equal(c.acked, 2);
    assert_int_equal(c.pending, 2);
    ack(ob, stream, 1, PARALLAX__ACK_CODE__ACK_STORED);
    c = counters(f);
    assert_int_equal(c.acked, 4);
    assert_int_equal(c.pending, 0);
    assert_int_equal(c.batches, 0);
    outbox_destroy(&ob);
}

/* A batch stored but for items the coordinator refused at its door (stamped outside its
 * window): stored is stored — the batch leaves the spool and is not sent again, however many
 * acks say so. */
static void test_stored_with_refused_items_not_resent(void **state)
{
    fixture_t *f = *state;
    outbox_t *ob = make(f, 2, 60000, 50, 8);
    uint64_t stream = f->link.stream;
    add(ob, 1);
    add(ob, 2);
    assert_int_equal(f->link.sent, 1);
    for (int i = 0; i < 3; i++) {
        Parallax__Ack a = PARALLAX__ACK__INIT;
        a.stream = stream;
        a.seq = 1;
        a.code = PARALLAX__ACK_CODE__ACK_STORED;
        a.refused_results = 2;
        a.clamped_gaps = 1;
        a.refused_reason = "result stamped 2020-01-01T00:00:00Z is outside the accepted window";
        outbox_on_ack(ob, &a);
    }
    spool_counters_t c = counters(f);
    assert_int_equal(c.acked, 2);
    assert_int_equal(c.pending, 0);
    assert_int_equal(c.batches, 0);
    /* Counted once, however many acks repeat it (the stats file shows them). */
    outbox_counters_t oc;
    outbox_counters(ob, &oc);
    assert_int_equal(oc.refused_results, 2);
    assert_int_equal(oc.refused_gaps, 0);
    assert_int_equal(oc.clamped_gaps, 1);
    /* Past the resend interval: nothing goes out again. */
    int before = f->link.sent, expired = 0;
    struct event *t = evtimer_new(f->base, deadline_cb, &expired);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
    assert_int_equal(evtimer_add(t, &tv), 0);
    while (!expired)
        event_base_loop(f->base, EVLOOP_ONCE);
    event_free(t);
    assert_int_equal(f->link.sent, before);
    outbox_destroy(&ob);
}

static void test_retry_pauses_then_resends(void **state)
{
    fixture_t *f = *state;
    outbox_t *ob = make(f, 1, 60000, 100, 8);
    uint64_t stream = f->link.stream;
    add(ob, 1);
    assert_int_equal(f->link.sent, 1);
    int64_t t0 = time_mono_us();
    ack(ob, stream, 1, PARALLAX__ACK_CODE__ACK_RETRY);
    /* Paused: a new batch waits too. */
    add(ob, 2);
    assert_int_equal(f->link.sent, 1);
    RUN_UNTIL(f, f->link.sent >= 3, 5000);
    assert_true(time_mono_us() - t0 >= 50 * 1000);
    assert_int_equal(f->link.seq[1], 1); /* the same batch again, first */
    assert_int_equal(f->link.seq[2], 2);
    ack(ob, stream, 1, PARALLAX__ACK_CODE__ACK_STORED);
    ack(ob, stream, 2, PARALLAX__ACK_CODE__ACK_STORED);
    spool_counters_t c = counters(f);
    assert_int_equal(c.pending, 0);
    assert_int_equal(c.acked, 2);
    outbox_destroy(&ob);
}

static void test_resend_after_timeout(void **state)
{
    fixture_t *f = *state;
    outbox_t *ob = make(f, 1, 60000, 40, 8);
    add(ob, 1);
    assert_int_equal(f->link.sent, 1);
    RUN_UNTIL(f, f->link.sent >= 2, 5000);
    assert_int_equal(f->link.seq[1], 1);
    outbox_destroy(&ob);
}

static void test_reject_not_resent(void **state)
{
    fixture_t *f = *state;
    outbox_t *ob = make(f, 2, 60000, 40, 8);
    uint64_t stream = f->link.stream;
    for (uint64_t i = 1; i <= 2; i++)
        add(ob, i);
    ack(ob, stream, 1, PARALLAX__ACK_CODE__ACK_REJECTED);
    spool_counters_t c = counters(f);
    assert_int_equal(c.rejected_batches, 1);
    assert_int_equal(c.rejected_results, 2);
    assert_int_equal(c.acked, 0);
    assert_int_equal(c.pending, 0);
    assert_int_equal(c.batches, 0);
    struct stat st;
    assert_int_equal(stat(f->dead, &st), 0);
    assert_true(st.st_size > 0);
    /* Not resent, even after several resend periods: a new batch is sent and nothing else. */
    add(ob, 3);
    add(ob, 4);
    RUN_UNTIL(f, f->link.sent >= 4, 5000);
    for (size_t i = 1; i < f->link.sent; i++)
        assert_int_equal(f->link.seq[i], 2);
    outbox_destroy(&ob);
}

static void test_link_down_keeps_then_resends_in_order(void **state)
{
    fixture_t *f = *state;
    f->link.up = 0;
    outbox_t *ob = make(f, 2, 60000, 60000, 8);
    for (uint64_t i = 1; i <= 6; i++)
        add(ob, i);
    assert_int_equal(f->link.sent, 0);
    assert_int_equal(counters(f).batches, 3);
    f->link.up = 1;
    outbox_resend_all(ob);
    assert_int_equal(f->link.sent, 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(f->link.seq[i], i + 1);
    /* A reconnect sends everything unanswered again, in order. */
    outbox_resend_all(ob);
    assert_int_equal(f->link.sent, 6);
    for (size_t i = 3; i < 6; i++)
        assert_int_equal(f->link.seq[i], i - 2);
    outbox_destroy(&ob);
}

static void test_window_limits_in_flight(void **state)
{
    fixture_t *f = *state;
    outbox_t *ob = make(f, 1, 60000, 60000, 3);
    uint64_t stream = f->link.stream;
    for (uint64_t i = 1; i <= 10; i++)
        add(ob, i);
    assert_int_equal(f->link.sent, 3);
    /* Each ack makes room for one more, oldest first. */
    ack(ob, stream, 2, PARALLAX__ACK_CODE__ACK_STORED);
    assert_int_equal(f->link.sent, 4);
    assert_int_equal(f->link.seq[3], 4);
    ack(ob, stream, 1, PARALLAX__ACK_CODE__ACK_STORED);
    ack(ob, stream, 3, PARALLAX__ACK_CODE__ACK_STORED);
    assert_int_equal(f->link.sent, 6);
    assert_int_equal(f->link.seq[5], 6);
    outbox_destroy(&ob);
}

static void test_earlier_run_sent_at_start(void **state)
{
    fixture_t *f = *state;
    f->link.up = 0;
    outbox_t *ob = make(f, 2, 60000, 60000, 8);
    for (uint64_t i = 1; i <= 5; i++)
        add(ob, i);
    outbox_destroy(&ob);
    uint64_t stream = f->link.stream;
    spool_close(&f->spool);
    /* The next run: the same batches under the same names, and the one left open is sealed;
     * new batches go under a new stream (the spool may be an older copy of itself). */
    f->link.up = 1;
    ob = make(f, 2, 60000, 60000, 8);
    assert_int_not_equal(f->link.stream, stream);
    outbox_resend_all(ob);
    assert_int_equal(f->link.sent, 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(f->link.streams[i], stream);
    assert_int_equal(f->link.seq[2], 3);
    assert_int_equal(f->link.count[2], 1);
    assert_int_equal(f->link.first_probe[2], 5);
    add(ob, 6);
    outbox_flush(ob);
    assert_int_equal(f->link.seq[3], 4);
    assert_int_equal(f->link.streams[3], f->link.stream);
    /* Acks name (stream, seq): one under the wrong stream is ignored, the right one frees. */
    ack(ob, f->link.stream, 1, PARALLAX__ACK_CODE__ACK_STORED);
    assert_int_equal(counters(f).acked, 0);
    ack(ob, stream, 1, PARALLAX__ACK_CODE__ACK_STORED);
    assert_int_equal(counters(f).acked, 2);
    ack(ob, stream, 4, PARALLAX__ACK_CODE__ACK_STORED);
    assert_int_equal(counters(f).acked, 2);
    ack(ob, f->link.stream, 4, PARALLAX__ACK_CODE__ACK_STORED);
    assert_int_equal(counters(f).acked, 3);
    outbox_destroy(&ob);
}

static void test_bad_text_replaced_not_lost(void **state)
{
    fixture_t *f = *state;
    outbox_t *ob = make(f, 1, 60000, 60000, 8);
    Parallax__Result r = PARALLAX__RESULT__INIT;
    Parallax__TlsInfo tls = PARALLAX__TLS_INFO__INIT;
    tls.verify_error = "\x1b[2J";
    r.probe_id = 9;
    r.ts_us = time_now_us();
    r.status = PARALLAX__STATUS__STATUS_LOCAL_ERROR;
    r.message = "bad\x01\xff text";
    r.tls = &tls;
    assert_int_equal(outbox_add(ob, &r), 0);
    assert_int_equal(f->link.sent, 1);
    assert_int_equal(counters(f).dropped, 0);
    outbox_destroy(&ob);
}

static void test_bad_settings(void **state)
{
    fixture_t *f = *state;
    open_spool(f, 10);
    outbox_config_t cfg = {.batch_interval_ms = 10, .resend_ms = 100, .window = 0};
    err_t err = {{0}};
    assert_null(outbox_new(f->base, &cfg, f->spool, fake_send, &f->link, &err));
    assert_non_null(strstr(err.msg, "invalid"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_batches_by_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batches_by_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ack_frees_and_unknown_ack_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stored_with_refused_items_not_resent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_pauses_then_resends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resend_after_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_not_resent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_down_keeps_then_resends_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_window_limits_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_earlier_run_sent_at_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_text_replaced_not_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_settings, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
