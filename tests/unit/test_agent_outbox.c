/* Unit tests for outbox: batching by count and by time, acks that free, retry, reject,
 * resending after resend_ms, and the max_pending bound with its drop counter. The send
 * function is a fake link that records what it was given and can be switched off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "outbox.h"
#include "timeutil.h"
#include "wire.h"

#define MAX_SENT 64
#define STREAM 12345

typedef struct fake_link {
    int up;
    size_t sent;
    uint64_t seq[MAX_SENT];
    size_t count[MAX_SENT];
    uint64_t first_probe[MAX_SENT];
} fake_link_t;

typedef struct fixture {
    struct event_base *base;
    fake_link_t link;
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
    assert_int_equal(env->batch->stream, STREAM);
    if (l->sent < MAX_SENT) {
        l->seq[l->sent] = env->batch->seq;
        l->count[l->sent] = env->batch->n_results;
        l->first_probe[l->sent] = env->batch->results[0]->probe_id;
    }
    l->sent++;
    wire_free(&env);
    return 0;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->base = event_base_new();
    f->link.up = 1;
    *state = f;
    return f->base ? 0 : -1;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    event_base_free(f->base);
    free(f);
    return 0;
}

static outbox_t *make(fixture_t *f, uint32_t batch_max, uint32_t interval_ms, uint32_t resend_ms,
                      uint64_t max_pending)
{
    outbox_config_t cfg = {.batch_max = batch_max,
                           .batch_interval_ms = interval_ms,
                           .resend_ms = resend_ms,
                           .max_pending = max_pending};
    err_t err = {{0}};
    outbox_t *ob = outbox_new(f->base, &cfg, STREAM, fake_send, &f->link, &err);
    assert_non_null(ob);
    return ob;
}

static void add(outbox_t *ob, uint64_t probe_id)
{
    Parallax__Result r = PARALLAX__RESULT__INIT;
    r.probe_id = probe_id;
    r.ts_us = time_now_us();
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

/* Runs the loop for ms milliseconds. */
static void run_for(fixture_t *f, int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    event_base_loopexit(f->base, &tv);
    event_base_dispatch(f->base);
}

static void test_batches_by_count(void **state)
{
    fixture_t *f = *state;
    outbox_t *ob = make(f, 3, 60000, 60000, 1000);
    for (uint64_t i = 1; i <= 7; i++)
        add(ob, i);
    assert_int_equal(f->link.sent, 2);
    assert_int_equal(f->link.seq[0], 1);
    assert_int_equal(f->link.count[0], 3);
    assert_int_equal(f->link.first_probe[0], 1);
    assert_int_equal(f->link.seq[1], 2);
    assert_int_equal(f->link.first_probe[1], 4);
    outbox_counters_t c;
    outbox_counters(ob, &c);
    assert_int_equal(c.produced, 7);
    assert_int_equal(c.pending, 7);
    assert_int_equal(c.batches, 2);
    /* An explicit flush sends the partial batch. */
    outbox_flush(ob);
    assert_int_equal(f->link.sent, 3);
    assert_int_equal(f->link.count[2], 1);
    outbox_destroy(&ob);
    assert_null(ob);
}

static void test_batches_by_time(void **state)
{
    fixture_t *f = *state;
    outbox_t *ob = make(f, 100, 20, 60000, 1000);
    add(ob, 1);
    add(ob, 2);
    assert_int_equal(f->link.sent, 0);
    run_for(f, 150);
    assert_int_equal(f->link.sent, 1);
    assert_int_equal(f->link.count[0], 2);
    outbox_destroy(&ob);
}

static void test_ack_frees_and_unknown_ack_ignored(void **state)
{
    fixture_t *f = *state;
    outbox_t *ob = make(f, 2, 60000, 60000, 1000);
    for (uint64_t i = 1; i <= 4; i++)
        add(ob, i);
    assert_int_equal(f->link.sent, 2);
    ack(ob, STREAM, 2, PARALLAX__ACK_CODE__ACK_STORED);
    outbox_counters_t c;
    outbox_counters(ob, &c);
    assert_int_equal(c.stored, 2);
    assert_int_equal(c.pending, 2);
    assert_int_equal(c.batches, 1);
    /* Duplicate ack, other stream, unknown seq: nothing changes. */
    ack(ob, STREAM, 2, PARALLAX__ACK_CODE__ACK_STORED);
    ack(ob, STREAM + 1, 1, PARALLAX__ACK_CODE__ACK_STORED);
    ack(ob, STREAM, 99, PARALLAX__ACK_CODE__ACK_STORED);
    outbox_counters(ob, &c);
    assert_int_equal(c.stored, 2);
    assert_int_equal(c.pending, 2);
    ack(ob, STREAM, 1, PARALLAX__ACK_CODE__ACK_STORED);
    outbox_counters(ob, &c);
    assert_int_equal(c.stored, 4);
    assert_int_equal(c.pending, 0);
    assert_int_equal(c.batches, 0);
    outbox_destroy(&ob);
}

static void test_retry_and_resend_after_timeout(void **state)
{
    fixture_t *f = *state;
    outbox_t *ob = make(f, 1, 60000, 100, 1000);
    add(ob, 1);
    assert_int_equal(f->link.sent, 1);
    ack(ob, STREAM, 1, PARALLAX__ACK_CODE__ACK_RETRY);
    outbox_counters_t c;
    outbox_counters(ob, &c);
    assert_int_equal(c.pending, 1);
    assert_int_equal(f->link.sent, 1); /* not at once: later */
    run_for(f, 300);
    assert_true(f->link.sent >= 2);
    assert_int_equal(f->link.seq[1], 1); /* the same batch again */
    ack(ob, STREAM, 1, PARALLAX__ACK_CODE__ACK_STORED);
    outbox_counters(ob, &c);
    assert_int_equal(c.pending, 0);
    assert_int_equal(c.stored, 1);
    outbox_destroy(&ob);
}

static void test_reject(void **state)
{
    fixture_t *f = *state;
    outbox_t *ob = make(f, 2, 60000, 60000, 1000);
    for (uint64_t i = 1; i <= 2; i++)
        add(ob, i);
    ack(ob, STREAM, 1, PARALLAX__ACK_CODE__ACK_REJECTED);
    outbox_counters_t c;
    outbox_counters(ob, &c);
    assert_int_equal(c.rejected, 1);
    assert_int_equal(c.stored, 0);
    assert_int_equal(c.pending, 0);
    assert_int_equal(c.batches, 0);
    /* Not resent. */
    run_for(f, 50);
    assert_int_equal(f->link.sent, 1);
    outbox_destroy(&ob);
}

static void test_link_down_keeps_then_resends_in_order(void **state)
{
    fixture_t *f = *state;
    f->link.up = 0;
    outbox_t *ob = make(f, 2, 60000, 60000, 1000);
    for (uint64_t i = 1; i <= 6; i++)
        add(ob, i);
    assert_int_equal(f->link.sent, 0);
    outbox_counters_t c;
    outbox_counters(ob, &c);
    assert_int_equal(c.batches, 3);
    f->link.up = 1;
    outbox_resend_all(ob);
    assert_int_equal(f->link.sent, 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(f->link.seq[i], i + 1);
    outbox_destroy(&ob);
}

static void test_max_pending_drops_oldest(void **state)
{
    fixture_t *f = *state;
    f->link.up = 0;
    outbox_t *ob = make(f, 5, 60000, 60000, 10);
    for (uint64_t i = 1; i <= 25; i++)
        add(ob, i);
    outbox_counters_t c;
    outbox_counters(ob, &c);
    assert_int_equal(c.produced, 25);
    assert_int_equal(c.dropped, 15);
    assert_int_equal(c.pending, 10);
    assert_true(c.pending <= 10);
    /* What survives is the newest: probes 16..25 in batches 4 and 5. */
    f->link.up = 1;
    outbox_resend_all(ob);
    assert_int_equal(f->link.sent, 2);
    assert_int_equal(f->link.seq[0], 4);
    assert_int_equal(f->link.first_probe[0], 16);
    assert_int_equal(f->link.first_probe[1], 21);
    outbox_destroy(&ob);
}

static void test_max_pending_smaller_than_batch(void **state)
{
    fixture_t *f = *state;
    f->link.up = 0;
    outbox_t *ob = make(f, 100, 60000, 60000, 3);
    for (uint64_t i = 1; i <= 10; i++)
        add(ob, i);
    outbox_counters_t c;
    outbox_counters(ob, &c);
    assert_true(c.pending <= 3);
    assert_int_equal(c.pending + c.dropped, 10);
    outbox_destroy(&ob);
}

static void test_bad_text_replaced_not_lost(void **state)
{
    fixture_t *f = *state;
    outbox_t *ob = make(f, 1, 60000, 60000, 100);
    Parallax__Result r = PARALLAX__RESULT__INIT;
    r.probe_id = 9;
    r.ts_us = time_now_us();
    r.status = PARALLAX__STATUS__STATUS_LOCAL_ERROR;
    r.message = "bad\x01\xff text";
    assert_int_equal(outbox_add(ob, &r), 0);
    assert_int_equal(f->link.sent, 1);
    outbox_destroy(&ob);
}

static void test_random_stream(void **state)
{
    (void)state;
    for (int i = 0; i < 100; i++) {
        uint64_t s = outbox_random_stream(NULL);
        assert_true(s != 0);
        assert_true(s <= INT64_MAX);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_batches_by_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batches_by_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ack_frees_and_unknown_ack_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_and_resend_after_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_down_keeps_then_resends_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_max_pending_drops_oldest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_pending_smaller_than_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_text_replaced_not_lost, setup, teardown),
        cmocka_unit_test(test_random_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
