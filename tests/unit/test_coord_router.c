/* test_coord_router: the coordinator's socket admits only keys its ZAP handler approves, fails
 * closed without a handler, stamps every message with the authenticated key, and drops
 * malformed multi-part messages. Real ZeroMQ sockets on loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include <cmocka.h>

#include "keys.h"
#include "router.h"
#include "timeutil.h"

typedef struct fixture {
    keypair_t server, good, bad;
    char endpoint[64];
    int zap_calls;
} fixture_t;

static int admit_good(void *arg, const char *public_key, char *user_id, size_t len)
{
    fixture_t *f = arg;
    f->zap_calls++;
    if (strcmp(public_key, f->good.public_z85) != 0)
        return 0;
    snprintf(user_id, len, "%s", public_key);
    return 1;
}

static int setup(void **state)
{
    static fixture_t f;
    memset(&f, 0, sizeof f);
    assert_int_equal(keys_generate(&f.server, NULL), 0);
    assert_int_equal(keys_generate(&f.good, NULL), 0);
    assert_int_equal(keys_generate(&f.bad, NULL), 0);
    /* A port per process so parallel test runs do not collide. */
    snprintf(f.endpoint, sizeof f.endpoint, "tcp://127.0.0.1:%d", 40000 + getpid() % 20000);
    *state = &f;
    return 0;
}

/* A DEALER with the given keys that sends frames[0..n) as one message. */
static void *client_send(void *ctx, const fixture_t *f, const keypair_t *me, const char *server_pub,
                         const char *const *frames, int n)
{
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    assert_non_null(d);
    int linger = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, server_pub, 41), 0);
    assert_int_equal(zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, me->public_z85, 41), 0);
    assert_int_equal(zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, me->secret_z85, 41), 0);
    assert_int_equal(zmq_connect(d, f->endpoint), 0);
    for (int i = 0; i < n; i++)
        assert_true(zmq_send(d, frames[i], strlen(frames[i]), i + 1 < n ? ZMQ_SNDMORE : 0) >= 0);
    return d;
}

/* Serves the link for up to ms; returns 1 with *msg if a message arrived. */
static int serve(router_t *link, fixture_t *f, long ms, router_msg_t *msg, int *recv_errors)
{
    int64_t deadline = time_mono_us() + ms * 1000;
    while (time_mono_us() < deadline) {
        assert_int_equal(router_wait(link, NULL, NULL, 0, 50, NULL), 0);
        assert_true(router_serve_zap(link, admit_good, f, 64, NULL) >= 0);
        int rc = router_recv(link, msg, NULL);
        if (rc == 1)
            return 1;
        if (rc < 0 && recv_errors)
            (*recv_errors)++;
    }
    return 0;
}

static void test_registered_key_admitted_with_user_id(void **state)
{
    fixture_t *f = *state;
    router_t *link = router_new(f->endpoint, &f->server, 65536, 1, NULL);
    assert_non_null(link);
    void *ctx = zmq_ctx_new();
    const char *frames[] = {"payload"};
    void *d = client_send(ctx, f, &f->good, f->server.public_z85, frames, 1);
    router_msg_t msg;
    assert_int_equal(serve(link, f, 5000, &msg, NULL), 1);
    assert_int_equal(msg.len, 7);
    assert_memory_equal(msg.data, "payload", 7);
    assert_string_equal(msg.user_id, f->good.public_z85);
    /* A reply reaches the client through the route. */
    assert_int_equal(router_send(link, msg.route, msg.route_len, (const uint8_t *)"ok", 2, NULL),
                     0);
    char buf[8];
    zmq_pollitem_t it = {.socket = d, .events = ZMQ_POLLIN};
    assert_int_equal(zmq_poll(&it, 1, 5000), 1);
    assert_int_equal(zmq_recv(d, buf, sizeof buf, 0), 2);
    router_msg_clear(&msg);
    router_msg_clear(&msg);
    zmq_close(d);
    zmq_ctx_term(ctx);
    router_destroy(&link);
    assert_null(link);
    router_destroy(&link);
}

/* Opens a link (with or without its ZAP handler, capped at max_msg), sends one message from a
 * client with key `me` that trusts server_pub, and asserts nothing is delivered in 1.5 s. */
static void expect_nothing_delivered(fixture_t *f, int with_zap, size_t max_msg,
                                     const keypair_t *me, const char *server_pub,
                                     const char *payload)
{
    router_t *link = router_new(f->endpoint, &f->server, max_msg, with_zap, NULL);
    assert_non_null(link);
    void *ctx = zmq_ctx_new();
    const char *frames[] = {payload};
    void *d = client_send(ctx, f, me, server_pub, frames, 1);
    router_msg_t msg;
    assert_int_equal(serve(link, f, 1500, &msg, NULL), 0);
    zmq_close(d);
    zmq_ctx_term(ctx);
    router_destroy(&link);
}

static void test_unregistered_key_refused(void **state)
{
    fixture_t *f = *state;
    f->zap_calls = 0;
    expect_nothing_delivered(f, 1, 65536, &f->bad, f->server.public_z85, "forged");
    /* The handler was asked and said no (not merely never reached). */
    assert_true(f->zap_calls >= 1);
}

static void test_fails_closed_without_zap_handler(void **state)
{
    fixture_t *f = *state;
    /* Even the key a handler would admit gets nowhere when no handler answers. */
    expect_nothing_delivered(f, 0, 65536, &f->good, f->server.public_z85, "sneaky");
}

static void test_wrong_server_key_delivers_nothing(void **state)
{
    fixture_t *f = *state;
    expect_nothing_delivered(f, 1, 65536, &f->good, f->bad.public_z85, "lost");
}

static void test_oversized_message_never_delivered(void **state)
{
    fixture_t *f = *state;
    static char big[4096];
    memset(big, 'x', sizeof big - 1);
    expect_nothing_delivered(f, 1, 1024, &f->good, f->server.public_z85, big);
}

static void test_multipart_dropped_next_message_clean(void **state)
{
    fixture_t *f = *state;
    router_t *link = router_new(f->endpoint, &f->server, 65536, 1, NULL);
    assert_non_null(link);
    void *ctx = zmq_ctx_new();
    const char *frames[] = {"a", "b", "c"};
    void *d = client_send(ctx, f, &f->good, f->server.public_z85, frames, 3);
    assert_true(zmq_send(d, "next", 4, 0) == 4);
    router_msg_t msg;
    int errors = 0;
    assert_int_equal(serve(link, f, 5000, &msg, &errors), 1);
    assert_int_equal(errors, 1);
    assert_int_equal(msg.len, 4);
    assert_memory_equal(msg.data, "next", 4);
    router_msg_clear(&msg);
    zmq_close(d);
    zmq_ctx_term(ctx);
    router_destroy(&link);
}

static void test_bind_failure_reported(void **state)
{
    fixture_t *f = *state;
    char msg[ERR_MSG_MAX];
    err_t err = {{0}};
    router_t *link = router_new("tcp://256.0.0.1:1", &f->server, 1024, 1, &err);
    assert_null(link);
    snprintf(msg, sizeof msg, "%s", err.msg);
    assert_non_null(strstr(msg, "cannot bind"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registered_key_admitted_with_user_id),
        cmocka_unit_test(test_unregistered_key_refused),
        cmocka_unit_test(test_fails_closed_without_zap_handler),
        cmocka_unit_test(test_wrong_server_key_delivers_nothing),
        cmocka_unit_test(test_multipart_dropped_next_message_clean),
        cmocka_unit_test(test_oversized_message_never_delivered),
        cmocka_unit_test(test_bind_failure_reported),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
