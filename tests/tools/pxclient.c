/* pxclient: a scripted stand-in for an agent, for integration tests that need to send exactly
 * the messages a test wants — duplicate batches, forged names, garbage — which a real agent
 * never would. Prints what the coordinator answers, one line each, on stdout.
 *
 *   pxclient -e ENDPOINT -k SERVER_KEY -s SECRET_KEY COMMAND [ARGS]
 *     hello [NAME]                      say hello; print "schedule VERSION N" and "probe ID SPEC"
 *     batch STREAM SEQ PROBE_ID N [REPEAT [STATUS]]
 *                                       send a batch of N results REPEAT times; print "ack SEQ CODE"
 *     garbage                           send bytes that are not an envelope, then a hello
 * Exit: 0 answered, 3 no answer within the time limit, 2 usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "status.h"
#include "timeutil.h"
#include "wire.h"

#define WAIT_MS 5000

static void *connect_dealer(void *ctx, const char *ep, const char *server, const char *secret)
{
    char pub[41];
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    if (!d || zmq_curve_public(pub, secret) != 0)
        return NULL;
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, server, 41) || zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, pub, 41) ||
        zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, secret, 41) || zmq_connect(d, ep))
        return NULL;
    return d;
}

static int send_env(void *d, Parallax__Envelope *env)
{
    uint8_t *buf;
    size_t len;
    err_t err;
    env->version = PX_PROTOCOL_VERSION;
    if (wire_pack(env, &buf, &len, &err) < 0) {
        fprintf(stderr, "pxclient: %s\n", err.msg);
        return -1;
    }
    int rc = zmq_send(d, buf, len, 0) == (int)len ? 0 : -1;
    free(buf);
    return rc;
}

/* Waits for the next envelope of the wanted body type, skipping heartbeats and others. */
static Parallax__Envelope *recv_env(void *d, Parallax__Envelope__BodyCase want)
{
    int64_t deadline = time_mono_us() + WAIT_MS * 1000LL;
    for (;;) {
        long left = (long)((deadline - time_mono_us()) / 1000);
        zmq_pollitem_t it = {.socket = d, .events = ZMQ_POLLIN};
        if (left <= 0 || zmq_poll(&it, 1, left) <= 0)
            return NULL;
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, d, 0) < 0) {
            zmq_msg_close(&m);
            return NULL;
        }
        err_t err;
        Parallax__Envelope *env = wire_unpack(zmq_msg_data(&m), zmq_msg_size(&m), PX_WIRE_MAX_TO_AGENT, &err);
        zmq_msg_close(&m);
        if (env && env->body_case == want)
            return env;
        wire_free(&env);
    }
}

static int do_hello(void *d, const char *name)
{
    Parallax__Hello h = PARALLAX__HELLO__INIT;
    h.name = (char *)(name ? name : "");
    h.agent_version = (char *)"pxclient";
    h.sent_us = time_now_us();
    Parallax__Envelope env = PARALLAX__ENVELOPE__INIT;
    env.body_case = PARALLAX__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    if (send_env(d, &env) < 0)
        return 1;
    Parallax__Envelope *r = recv_env(d, PARALLAX__ENVELOPE__BODY_SCHEDULE);
    if (!r)
        return 3;
    printf("schedule %llu %zu\n", (unsigned long long)r->schedule->version, r->schedule->n_probes);
    for (size_t i = 0; i < r->schedule->n_probes; i++)
        printf("probe %llu %s\n", (unsigned long long)r->schedule->probes[i]->probe_id,
               r->schedule->probes[i]->spec);
    wire_free(&r);
    return 0;
}

static int do_batch(void *d, char **argv, int argc)
{
    if (argc < 4)
        return 2;
    uint64_t stream = strtoull(argv[0], NULL, 10), seq = strtoull(argv[1], NULL, 10);
    uint64_t probe = strtoull(argv[2], NULL, 10);
    size_t n = strtoul(argv[3], NULL, 10);
    int repeat = argc > 4 ? atoi(argv[4]) : 1;
    int status = argc > 5 ? status_from_name(argv[5]) : PX_STATUS_OK;
    if (n < 1 || n > PX_WIRE_MAX_RESULTS || status < 0)
        return 2;
    Parallax__Result *rs = calloc(n, sizeof *rs);
    Parallax__Result **rp = calloc(n, sizeof *rp);
    /* Distinct timestamps, one second apart, ending now: N distinct rows. */
    int64_t now = time_now_us() / 1000000 * 1000000;
    for (size_t i = 0; i < n; i++) {
        parallax__result__init(&rs[i]);
        rs[i].probe_id = probe;
        rs[i].ts_us = now - (int64_t)(n - i) * 1000000;
        rs[i].status = status;
        rs[i].rtt_us = 1234;
        rs[i].message = (char *)"from pxclient";
        rp[i] = &rs[i];
    }
    Parallax__ResultBatch b = PARALLAX__RESULT_BATCH__INIT;
    b.stream = stream;
    b.seq = seq;
    b.n_results = n;
    b.results = rp;
    Parallax__Envelope env = PARALLAX__ENVELOPE__INIT;
    env.body_case = PARALLAX__ENVELOPE__BODY_BATCH;
    env.batch = &b;
    int rc = 0;
    for (int i = 0; i < repeat && rc == 0; i++) {
        if (send_env(d, &env) < 0) {
            rc = 1;
            break;
        }
        Parallax__Envelope *r = recv_env(d, PARALLAX__ENVELOPE__BODY_ACK);
        if (!r) {
            rc = 3;
            break;
        }
        const char *code = r->ack->code == PARALLAX__ACK_CODE__ACK_STORED   ? "stored"
                           : r->ack->code == PARALLAX__ACK_CODE__ACK_RETRY ? "retry"
                                                                             : "rejected";
        printf("ack %llu %s\n", (unsigned long long)r->ack->seq, code);
        wire_free(&r);
    }
    fflush(stdout);
    free(rs);
    free(rp);
    return rc;
}

int main(int argc, char **argv)
{
    const char *ep = NULL, *server = NULL, *secret = NULL;
    int i = 1;
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (!strcmp(argv[i], "-e"))
            ep = argv[i + 1];
        else if (!strcmp(argv[i], "-k"))
            server = argv[i + 1];
        else if (!strcmp(argv[i], "-s"))
            secret = argv[i + 1];
    }
    if (!ep || !server || !secret || i >= argc) {
        fprintf(stderr, "usage: pxclient -e ENDPOINT -k SERVER_KEY -s SECRET_KEY hello|batch|garbage ...\n");
        return 2;
    }
    void *ctx = zmq_ctx_new();
    void *d = connect_dealer(ctx, ep, server, secret);
    if (!d) {
        fprintf(stderr, "pxclient: cannot set up the socket\n");
        return 2;
    }
    int rc = 2;
    if (!strcmp(argv[i], "hello"))
        rc = do_hello(d, i + 1 < argc ? argv[i + 1] : NULL);
    else if (!strcmp(argv[i], "batch"))
        rc = do_batch(d, argv + i + 1, argc - i - 1);
    else if (!strcmp(argv[i], "garbage")) {
        static const char junk[] = "\xff\xff\xff\xff\x0f not protobuf";
        zmq_send(d, junk, sizeof junk, 0);
        rc = do_hello(d, NULL);
    }
    zmq_close(d);
    zmq_ctx_term(ctx);
    return rc;
}
