/* pxclient: a scripted stand-in for an agent, for integration tests and the ingest bench that
 * need to send exactly the messages a case wants — duplicate batches, gap records, a skewed
 * clock, garbage, a thousand agents at once — which a real agent never would. Prints what the
 * coordinator answers, one line each, on stdout.
 *
 *   pxclient -e ENDPOINT -k SERVER_KEY -s SECRET_KEY [-g GAP]... [-P VERSION] COMMAND [ARGS]
 *     hello [NAME]                      say hello; print "schedule VERSION N" and "probe ID SPEC"
 *     batch STREAM SEQ PROBE_ID N [REPEAT [STATUS [STEP_S]]]
 *                                       send a batch of N results (N may be 0 with -g), stamped
 *                                       STEP_S seconds apart (default 1) and ending now, REPEAT
 *                                       times; print "ack SEQ CODE[: REASON]" for each, or for
 *                                       items refused at the door "ack SEQ CODE refused R results
 *                                       G gaps clamped C gaps: REASON"
 *     stream STREAM FIRST LAST PROBE_ID N [INTERVAL_MS]
 *                                       send batches FIRST..LAST of N results, each sent again
 *                                       until stored (after "retry" or 2 s of silence); print
 *                                       "stored SEQ" and at the end "done STORED RETRIES RESENDS"
 *     heartbeats COUNT INTERVAL_MS SKEW_MS [noecho|swing]
 *                                       heartbeats from a clock SKEW_MS ahead (negative: behind),
 *                                       each echoing the previous exchange (unless noecho, like
 *                                       an agent that predates the echo; swing: the clock jumps
 *                                       between SKEW_MS ahead and behind at every exchange);
 *                                       print "heartbeat OFFSET_MS RTT_MS" as the agent
 *                                       measures it
 *     follow SECONDS                    hello, then for SECONDS print "schedule VERSION N WALL_MS"
 *                                       for every schedule received and acknowledge each at once
 *                                       with a heartbeat carrying its version (as agents do)
 *     garbage                           send bytes that are not an envelope, then a hello
 *     latency SECONDS INTERVAL_MS STREAM PROBE_ID
 *                                       for SECONDS, every INTERVAL_MS a heartbeat and a batch of
 *                                       10 results (stream STREAM), never waiting for answers;
 *                                       print per kind "KIND sent N answered M p50 X p99 Y max
 *                                       Z" (milliseconds from send to answer; an unanswered one
 *                                       counts as answered 2 s after the end)
 *     chatter SECONDS INTERVAL_MS       a heartbeat every INTERVAL_MS for SECONDS, answers or
 *                                       not, as an agent goes on trying; print "received BODY"
 *                                       for each message that comes back and at the end
 *                                       "sent N received M"
 *   -g PROBE_ID:FROM_AGO_S:TO_AGO_S:COUNT[:REASON] adds a gap record (times in seconds before
 *                                       now; REASON the GapReason number, default 0)
 *   -P VERSION                          stamp every envelope with protocol VERSION instead of
 *                                       this build's, like a frozen encoder of that version: the
 *                                       same messages, valid here but for the version (0 is
 *                                       sent as no version field, as proto3 does)
 *
 *   pxclient keygen N                   print N CURVE key pairs, "PUBLIC SECRET" per line
 *   pxclient -e ENDPOINT -k SERVER_KEY handshakes N
 *       N connections, each with a fresh random key (so unregistered), AT_ONCE at a time, each
 *       saying hello and waiting up to 500 ms for an answer; prints "handshakes N answered M"
 *   pxclient -e ENDPOINT -k SERVER_KEY flood KEYFILE AGENTS BATCHES RESULTS PROBES [WINDOW
 * [HOLD_S]] AGENTS simulated agents (keys from KEYFILE, "PUBLIC SECRET" lines) each send BATCHES
 *       batches of RESULTS results over probes 1..PROBES, WINDOW unacknowledged at a time;
 *       prints results/s from first send to last ack and the send-to-ack latency percentiles,
 *       then, with HOLD_S, keeps every agent connected and heartbeating for HOLD_S seconds
 *       (printing "holding") so the coordinator's memory can be measured.
 * Exit: 0 answered, 3 no answer within the time limit, 2 usage, 1 other failure. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "status.h"
#include "timeutil.h"
#include "wire.h"

#define WAIT_MS 5000
#define MAX_GAPS 16

static Parallax__Gap gap_list[MAX_GAPS];
static size_t n_gap_list;
static uint32_t protocol = PX_PROTOCOL_VERSION; /* -P */

static void *connect_dealer(void *ctx, const char *ep, const char *server, const char *secret)
{
    char pub[41];
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    if (!d || zmq_curve_public(pub, secret) != 0)
        return NULL;
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, server, 41) ||
        zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, pub, 41) ||
        zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, secret, 41) || zmq_connect(d, ep))
        return NULL;
    return d;
}

static int send_env(void *d, Parallax__Envelope *env)
{
    uint8_t *buf;
    size_t len;
    err_t err = {{0}};
    env->version = PX_PROTOCOL_VERSION;
    if (wire_pack(env, &buf, &len, &err) < 0) {
        fprintf(stderr, "pxclient: %s\n", err.msg);
        return -1;
    }
    if (protocol != PX_PROTOCOL_VERSION) {
        /* wire_pack sends this build's version only: the checked envelope is packed again
         * with the other one. */
        free(buf);
        env->version = protocol;
        len = parallax__envelope__get_packed_size(env);
        if (!(buf = malloc(len ? len : 1)))
            return -1;
        parallax__envelope__pack(env, buf);
    }
    int rc = zmq_send(d, buf, len, 0) == (int)len ? 0 : -1;
    free(buf);
    return rc;
}

/* Receives one envelope if one arrives within wait_ms (0: only what is queued). */
static Parallax__Envelope *recv_any(void *d, long wait_ms)
{
    zmq_pollitem_t it = {.socket = d, .events = ZMQ_POLLIN};
    if (zmq_poll(&it, 1, wait_ms) <= 0)
        return NULL;
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, d, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return NULL;
    }
    err_t err = {{0}};
    Parallax__Envelope *env =
        wire_unpack(zmq_msg_data(&m), zmq_msg_size(&m), PX_WIRE_MAX_TO_AGENT, &err);
    zmq_msg_close(&m);
    return env;
}

/* Waits for the next envelope of the wanted body type, skipping heartbeats and others. */
static Parallax__Envelope *recv_env_within(void *d, Parallax__Envelope__BodyCase want, long ms)
{
    int64_t deadline = time_mono_us() + ms * 1000LL;
    for (;;) {
        long left = (long)((deadline - time_mono_us()) / 1000);
        if (left <= 0)
            return NULL;
        Parallax__Envelope *env = recv_any(d, left);
        if (env && env->body_case == want)
            return env;
        wire_free(&env);
    }
}

static Parallax__Envelope *recv_env(void *d, Parallax__Envelope__BodyCase want)
{
    return recv_env_within(d, want, WAIT_MS);
}

/* Paces a sequence: lets ms pass, discarding whatever arrives meanwhile (late acks of
 * earlier copies, heartbeats). */
static void pace(void *d, long ms)
{
    Parallax__Envelope *r = recv_env_within(d, PARALLAX__ENVELOPE__BODY_HELLO, ms);
    wire_free(&r);
}

static const char *ack_name(Parallax__AckCode code)
{
    return code == PARALLAX__ACK_CODE__ACK_STORED  ? "stored"
           : code == PARALLAX__ACK_CODE__ACK_RETRY ? "retry"
                                                   : "rejected";
}

static int send_hello(void *d, const char *name, uint64_t schedule_version)
{
    Parallax__Hello h = PARALLAX__HELLO__INIT;
    h.name = (char *)(name ? name : "");
    h.agent_version = (char *)"pxclient";
    h.schedule_version = schedule_version;
    h.sent_us = time_now_us();
    Parallax__Envelope env = PARALLAX__ENVELOPE__INIT;
    env.body_case = PARALLAX__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    return send_env(d, &env);
}

static int do_hello(void *d, const char *name)
{
    if (send_hello(d, name, 0) < 0)
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

/* A batch of n results of probe, stamped step_s seconds apart on whole seconds ending `end_s`
 * seconds before `base_us`, plus the -g gaps. Owned arrays: free with batch_free(). */
typedef struct batch {
    Parallax__ResultBatch b;
    Parallax__Result *rs;
    Parallax__Result **rp;
    Parallax__Gap *gp[MAX_GAPS];
} batch_t;

static int batch_make(batch_t *bt, uint64_t stream, uint64_t seq, uint64_t probe, size_t n,
                      int status, int64_t base_us, int64_t end_s, int64_t step_s)
{
    memset(bt, 0, sizeof *bt);
    parallax__result_batch__init(&bt->b);
    bt->rs = calloc(n ? n : 1, sizeof *bt->rs);
    bt->rp = calloc(n ? n : 1, sizeof *bt->rp);
    if (!bt->rs || !bt->rp)
        return -1;
    for (size_t i = 0; i < n; i++) {
        parallax__result__init(&bt->rs[i]);
        bt->rs[i].probe_id = probe;
        bt->rs[i].ts_us = base_us - (end_s + (int64_t)(n - i) * step_s) * 1000000;
        bt->rs[i].status = status;
        bt->rs[i].rtt_us = 1234;
        bt->rs[i].message = (char *)"from pxclient";
        bt->rp[i] = &bt->rs[i];
    }
    for (size_t i = 0; i < n_gap_list; i++)
        bt->gp[i] = &gap_list[i];
    bt->b.stream = stream;
    bt->b.seq = seq;
    bt->b.n_results = n;
    bt->b.results = bt->rp;
    bt->b.n_gaps = n_gap_list;
    bt->b.gaps = bt->gp;
    return 0;
}

static void batch_free(batch_t *bt)
{
    free(bt->rs);
    free(bt->rp);
}

static int send_batch(void *d, Parallax__ResultBatch *b)
{
    Parallax__Envelope env = PARALLAX__ENVELOPE__INIT;
    env.body_case = PARALLAX__ENVELOPE__BODY_BATCH;
    env.batch = b;
    return send_env(d, &env);
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
    int64_t step_s = argc > 6 ? atoll(argv[6]) : 1;
    if ((n < 1 && n_gap_list == 0) || n > PX_WIRE_MAX_RESULTS || status < 0 || step_s < 1)
        return 2;
    /* Distinct timestamps, step_s apart, ending now: N distinct rows. */
    batch_t bt;
    if (batch_make(&bt, stream, seq, probe, n, status, time_now_us() / 1000000 * 1000000, 0,
                   step_s) < 0)
        return 1;
    int rc = 0;
    for (int i = 0; i < repeat && rc == 0; i++) {
        if (send_batch(d, &bt.b) < 0) {
            rc = 1;
            break;
        }
        Parallax__Envelope *r = recv_env(d, PARALLAX__ENVELOPE__BODY_ACK);
        if (!r) {
            rc = 3;
            break;
        }
        const Parallax__Ack *a = r->ack;
        if (a->refused_results || a->refused_gaps || a->clamped_gaps)
            printf("ack %llu %s refused %u results %u gaps clamped %u gaps: %s\n",
                   (unsigned long long)a->seq, ack_name(a->code), a->refused_results,
                   a->refused_gaps, a->clamped_gaps, a->refused_reason);
        else if (r->ack->reason && *r->ack->reason)
            printf("ack %llu %s: %s\n", (unsigned long long)r->ack->seq, ack_name(r->ack->code),
                   r->ack->reason);
        else
            printf("ack %llu %s\n", (unsigned long long)r->ack->seq, ack_name(r->ack->code));
        wire_free(&r);
    }
    fflush(stdout);
    batch_free(&bt);
    return rc;
}

/* Waits for the ack of (stream, seq), ignoring acks of earlier copies of other batches.
 * Returns its code, or 0 if none came within ms. */
static int wait_ack(void *d, uint64_t stream, uint64_t seq, long ms, char *reason, size_t cap)
{
    int64_t deadline = time_mono_us() + ms * 1000LL;
    for (;;) {
        long left = (long)((deadline - time_mono_us()) / 1000);
        if (left <= 0)
            return 0;
        Parallax__Envelope *r = recv_env_within(d, PARALLAX__ENVELOPE__BODY_ACK, left);
        if (!r)
            return 0;
        int code = 0;
        if (r->ack->stream == stream && r->ack->seq == seq) {
            code = r->ack->code;
            snprintf(reason, cap, "%s", r->ack->reason ? r->ack->reason : "");
        }
        wire_free(&r);
        if (code)
            return code;
    }
}

static int do_stream(void *d, char **argv, int argc)
{
    if (argc < 5)
        return 2;
    uint64_t stream = strtoull(argv[0], NULL, 10);
    uint64_t first = strtoull(argv[1], NULL, 10), last = strtoull(argv[2], NULL, 10);
    uint64_t probe = strtoull(argv[3], NULL, 10);
    size_t n = strtoul(argv[4], NULL, 10);
    long interval_ms = argc > 5 ? atol(argv[5]) : 0;
    if (first < 1 || last < first || n < 1 || n > PX_WIRE_MAX_RESULTS)
        return 2;
    /* Every batch is built from its number alone, so a resend is the same batch. */
    int64_t base = time_now_us() / 1000000 * 1000000;
    int64_t deadline = time_mono_us() + 240 * 1000000LL;
    long retries = 0, resends = 0, stored = 0;
    for (uint64_t seq = first; seq <= last; seq++) {
        batch_t bt;
        if (batch_make(&bt, stream, seq, probe, n, PX_STATUS_OK, base, (int64_t)((last - seq) * n),
                       1) < 0)
            return 1;
        for (int sent = 0;; sent++) {
            if (time_mono_us() > deadline) {
                fprintf(stderr, "pxclient: batch %llu not stored in time\n",
                        (unsigned long long)seq);
                batch_free(&bt);
                return 3;
            }
            if (sent)
                resends++;
            if (send_batch(d, &bt.b) < 0) {
                batch_free(&bt);
                return 1;
            }
            char reason[PX_WIRE_MAX_TEXT + 1] = "";
            int code = wait_ack(d, stream, seq, 2000, reason, sizeof reason);
            if (code == PARALLAX__ACK_CODE__ACK_STORED)
                break;
            if (code == PARALLAX__ACK_CODE__ACK_REJECTED) {
                printf("rejected %llu: %s\n", (unsigned long long)seq, reason);
                batch_free(&bt);
                return 1;
            }
            if (code == PARALLAX__ACK_CODE__ACK_RETRY) {
                retries++;
                printf("retry %llu: %s\n", (unsigned long long)seq, reason);
                fflush(stdout);
                /* Like an agent: do not hammer a coordinator that asked to wait. */
                pace(d, 200);
            }
        }
        batch_free(&bt);
        stored++;
        printf("stored %llu\n", (unsigned long long)seq);
        fflush(stdout);
        if (interval_ms > 0 && seq < last)
            pace(d, interval_ms);
    }
    printf("done %ld %ld %ld\n", stored, retries, resends);
    return 0;
}

/* The four timestamps of the last exchange, echoed in the next heartbeat. */
typedef struct echo {
    int64_t agent_sent, coord_recv, coord_sent, agent_recv;
} echo_t;

static int send_heartbeat(void *d, int64_t skew_us, const echo_t *e, uint64_t schedule_version)
{
    Parallax__Heartbeat hb = PARALLAX__HEARTBEAT__INIT;
    hb.agent_sent_us = time_now_us() + skew_us;
    hb.schedule_version = schedule_version;
    if (e && e->agent_sent) {
        hb.echo_agent_sent_us = e->agent_sent;
        hb.echo_coord_recv_us = e->coord_recv;
        hb.echo_coord_sent_us = e->coord_sent;
        hb.echo_agent_recv_us = e->agent_recv;
    }
    Parallax__Envelope env = PARALLAX__ENVELOPE__INIT;
    env.body_case = PARALLAX__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    return send_env(d, &env);
}

static int do_heartbeats(void *d, char **argv, int argc)
{
    if (argc < 3)
        return 2;
    long count = atol(argv[0]), interval_ms = atol(argv[1]);
    int64_t skew_us = atoll(argv[2]) * 1000;
    int echo = !(argc > 3 && !strcmp(argv[3], "noecho"));
    int swing = argc > 3 && !strcmp(argv[3], "swing");
    echo_t e = {0};
    for (long i = 0; i < count; i++) {
        if (swing)
            skew_us = -skew_us;
        if (send_heartbeat(d, skew_us, echo ? &e : NULL, 0) < 0)
            return 1;
        Parallax__Envelope *r = recv_env(d, PARALLAX__ENVELOPE__BODY_HEARTBEAT);
        if (!r)
            return 3;
        e = (echo_t){r->heartbeat->agent_sent_us, r->heartbeat->coord_recv_us,
                     r->heartbeat->coord_sent_us, time_now_us() + skew_us};
        wire_free(&r);
        int64_t off = ((e.agent_sent - e.coord_recv) + (e.agent_recv - e.coord_sent)) / 2;
        int64_t rtt = (e.agent_recv - e.agent_sent) - (e.coord_sent - e.coord_recv);
        printf("heartbeat %lld %lld\n", (long long)(off / 1000), (long long)(rtt / 1000));
        fflush(stdout);
        if (i + 1 < count)
            pace(d, interval_ms);
    }
    /* The last exchange is only known to the coordinator once echoed. */
    return echo && send_heartbeat(d, skew_us, &e, 0) < 0 ? 1 : 0;
}

static int do_follow(void *d, char **argv, int argc)
{
    if (argc < 1)
        return 2;
    int64_t end = time_mono_us() + atoll(argv[0]) * 1000000;
    if (send_hello(d, NULL, 0) < 0)
        return 1;
    uint64_t running = 0;
    int64_t next_hb = time_mono_us() + 1000000;
    int got = 0;
    while (time_mono_us() < end) {
        Parallax__Envelope *r = recv_any(d, 100);
        if (r && r->body_case == PARALLAX__ENVELOPE__BODY_SCHEDULE) {
            running = r->schedule->version;
            printf("schedule %llu %zu %lld\n", (unsigned long long)running, r->schedule->n_probes,
                   (long long)(time_now_us() / 1000));
            fflush(stdout);
            got = 1;
            /* Applying it is instant here; acknowledge at once, as the agent does. */
            if (send_heartbeat(d, 0, NULL, running) < 0) {
                wire_free(&r);
                return 1;
            }
        }
        wire_free(&r);
        if (time_mono_us() >= next_hb) {
            next_hb += 1000000;
            if (send_heartbeat(d, 0, NULL, running) < 0)
                return 1;
        }
    }
    return got ? 0 : 3;
}

static int do_chatter(void *d, char **argv, int argc)
{
    if (argc < 2)
        return 2;
    int64_t end = time_mono_us() + atoll(argv[0]) * 1000000;
    long interval_ms = atol(argv[1]);
    if (interval_ms < 1)
        return 2;
    long sent = 0, received = 0;
    while (time_mono_us() < end) {
        if (send_heartbeat(d, 0, NULL, 0) < 0)
            return 1;
        sent++;
        int64_t next = time_mono_us() + interval_ms * 1000LL;
        for (long left; (left = (long)((next - time_mono_us()) / 1000)) > 0;) {
            Parallax__Envelope *r = recv_any(d, left);
            if (!r)
                continue;
            received++;
            printf("received %s\n", wire_body_name(r));
            fflush(stdout);
            wire_free(&r);
        }
    }
    printf("sent %ld received %ld\n", sent, received);
    return 0;
}

static int cmp_i64(const void *a, const void *b);

/* Send-to-answer times of one kind of message, by sequence number. */
typedef struct lat_log {
    const char *kind;
    int64_t *sent_us, *took_us; /* per sequence number from 0; took 0: not answered */
    size_t n, cap;
} lat_log_t;

static int lat_sent(lat_log_t *l, int64_t now)
{
    if (l->n == l->cap)
        return -1;
    l->sent_us[l->n] = now;
    l->took_us[l->n++] = 0;
    return 0;
}

static void lat_answered(lat_log_t *l, size_t i, int64_t now)
{
    if (i < l->n && !l->took_us[i])
        l->took_us[i] = now - l->sent_us[i] > 0 ? now - l->sent_us[i] : 1;
}

static void lat_print(lat_log_t *l, int64_t end)
{
    size_t answered = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (l->took_us[i])
            answered++;
        else
            l->took_us[i] = end - l->sent_us[i];
    }
    qsort(l->took_us, l->n, sizeof *l->took_us, cmp_i64);
    if (!l->n)
        return;
    printf("%s sent %zu answered %zu p50 %.1f p99 %.1f max %.1f\n", l->kind, l->n, answered,
           l->took_us[l->n / 2] / 1000.0, l->took_us[(l->n * 99) / 100] / 1000.0,
           l->took_us[l->n - 1] / 1000.0);
}

/* Times the answer r, if it is one: a heartbeat by the send time it echoes, an ack by seq. */
static void latency_note(const Parallax__Envelope *r, lat_log_t *hb, const int64_t *hb_stamp,
                         lat_log_t *ack, uint64_t stream, int64_t now)
{
    if (r->body_case == PARALLAX__ENVELOPE__BODY_HEARTBEAT) {
        for (size_t i = 0; i < hb->n; i++)
            if (hb_stamp[i] == r->heartbeat->agent_sent_us)
                lat_answered(hb, i, now);
    } else if (r->body_case == PARALLAX__ENVELOPE__BODY_ACK && r->ack->stream == stream &&
               r->ack->code == PARALLAX__ACK_CODE__ACK_STORED && r->ack->seq >= 1) {
        lat_answered(ack, (size_t)(r->ack->seq - 1), now);
    }
}

/* The stall bench's client: an agent's steady traffic, timed. Heartbeats are told apart by
 * the send time they echo, batches by their seq. */
static int do_latency(void *d, char **argv, int argc)
{
    if (argc < 4)
        return 2;
    int64_t seconds = atoll(argv[0]);
    long interval_ms = atol(argv[1]);
    uint64_t stream = strtoull(argv[2], NULL, 10), probe = strtoull(argv[3], NULL, 10);
    if (seconds < 1 || interval_ms < 1 || probe < 1)
        return 2;
    size_t cap = (size_t)(seconds * 1000 / interval_ms + 2);
    lat_log_t hb = {.kind = "heartbeat", .cap = cap}, ack = {.kind = "ack", .cap = cap};
    hb.sent_us = calloc(cap, sizeof(int64_t));
    hb.took_us = calloc(cap, sizeof(int64_t));
    ack.sent_us = calloc(cap, sizeof(int64_t));
    ack.took_us = calloc(cap, sizeof(int64_t));
    int64_t *hb_stamp = calloc(cap, sizeof(int64_t)); /* agent_sent_us of each heartbeat */
    if (!hb.sent_us || !hb.took_us || !ack.sent_us || !ack.took_us || !hb_stamp)
        return 1;
    int64_t base = time_now_us() / 1000000 * 1000000;
    int64_t start = time_mono_us(), end = start + seconds * 1000000, next = start;
    while (time_mono_us() < end) {
        int64_t now = time_mono_us();
        if (now >= next) {
            next += interval_ms * 1000LL;
            hb_stamp[hb.n] = time_now_us();
            Parallax__Heartbeat h = PARALLAX__HEARTBEAT__INIT;
            h.agent_sent_us = hb_stamp[hb.n];
            Parallax__Envelope env = PARALLAX__ENVELOPE__INIT;
            env.body_case = PARALLAX__ENVELOPE__BODY_HEARTBEAT;
            env.heartbeat = &h;
            batch_t bt;
            if (lat_sent(&hb, now) < 0 || send_env(d, &env) < 0 ||
                batch_make(&bt, stream, ack.n + 1, probe, 10, PX_STATUS_OK, base,
                           (int64_t)(cap - ack.n) * 10, 1) < 0)
                return 1;
            int rc = lat_sent(&ack, now) < 0 ? -1 : send_batch(d, &bt.b);
            batch_free(&bt);
            if (rc < 0)
                return 1;
        }
        long wait_ms = (long)((next - time_mono_us()) / 1000);
        Parallax__Envelope *r = recv_any(d, wait_ms > 0 ? wait_ms : 0);
        now = time_mono_us();
        if (!r)
            continue;
        latency_note(r, &hb, hb_stamp, &ack, stream, now);
        wire_free(&r);
    }
    /* The last answers, for what was sent near the end. */
    for (int64_t until = time_mono_us() + 2000000; time_mono_us() < until;) {
        Parallax__Envelope *r = recv_any(d, 100);
        if (!r)
            continue;
        int64_t now = time_mono_us();
        latency_note(r, &hb, hb_stamp, &ack, stream, now);
        wire_free(&r);
    }
    int64_t done = time_mono_us();
    lat_print(&hb, done);
    lat_print(&ack, done);
    free(hb.sent_us);
    free(hb.took_us);
    free(ack.sent_us);
    free(ack.took_us);
    free(hb_stamp);
    return 0;
}

static int parse_gap(const char *spec)
{
    unsigned long long probe, count;
    long long from_ago, to_ago;
    int end = 0;
    if (n_gap_list == MAX_GAPS ||
        sscanf(spec, "%llu:%lld:%lld:%llu%n", &probe, &from_ago, &to_ago, &count, &end) != 4)
        return -1;
    /* An optional reason as its wire number: 1 (run skipped); none: a spool drop. */
    int reason = 0;
    if (spec[end] == ':' && sscanf(spec + end + 1, "%d", &reason) != 1)
        return -1;
    int64_t now = time_now_us() / 1000000 * 1000000;
    Parallax__Gap *g = &gap_list[n_gap_list++];
    parallax__gap__init(g);
    g->probe_id = probe;
    g->from_us = now - from_ago * 1000000;
    g->to_us = now - to_ago * 1000000;
    g->count = count;
    g->reason = (Parallax__GapReason)reason;
    return 0;
}

/* ---- many agents at once (the ingest bench) --------------------------------------------- */

typedef struct sim {
    void *sock;
    uint64_t next_seq;   /* next batch to send for the first time, from 1 */
    uint64_t acked;      /* batches stored */
    int64_t *sent_us;    /* per batch: first send time (monotonic), 0 = not sent */
    int64_t *resend_at;  /* per batch: when to send again if still unacknowledged */
    unsigned char *done; /* per batch: stored */
    int64_t next_hb;
} sim_t;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int flood_send(sim_t *s, int idx, uint64_t seq, size_t results, uint64_t probes,
                      int64_t base_us, Parallax__Result *rs, Parallax__Result **rp)
{
    (void)idx;
    for (size_t i = 0; i < results; i++) {
        uint64_t k = (seq - 1) * results + i;
        parallax__result__init(&rs[i]);
        rs[i].probe_id = 1 + k % probes;
        rs[i].ts_us = base_us + (int64_t)(k / probes) * 1000000;
        rs[i].status = (k % 7) ? PARALLAX__STATUS__STATUS_OK : PARALLAX__STATUS__STATUS_TIMEOUT;
        rs[i].rtt_us = (k % 7) ? 1000 + (uint32_t)(k % 5000) : 0;
        rp[i] = &rs[i];
    }
    Parallax__ResultBatch b = PARALLAX__RESULT_BATCH__INIT;
    b.stream = 1;
    b.seq = seq;
    b.n_results = results;
    b.results = rp;
    return send_batch(s->sock, &b);
}

static int do_flood(void *ctx, const char *ep, const char *server, char **argv, int argc)
{
    if (argc < 5)
        return 2;
    const char *keyfile = argv[0];
    int agents = atoi(argv[1]);
    uint64_t batches = strtoull(argv[2], NULL, 10);
    size_t results = strtoul(argv[3], NULL, 10);
    uint64_t probes = strtoull(argv[4], NULL, 10);
    int window = argc > 5 ? atoi(argv[5]) : 4;
    long hold_s = argc > 6 ? atol(argv[6]) : 0;
    if (agents < 1 || batches < 1 || results < 1 || results > PX_WIRE_MAX_RESULTS || probes < 1 ||
        window < 1)
        return 2;
    FILE *kf = fopen(keyfile, "r");
    if (!kf) {
        fprintf(stderr, "pxclient: cannot open %s: %s\n", keyfile, strerror(errno));
        return 1;
    }
    sim_t *sims = calloc((size_t)agents, sizeof *sims);
    zmq_pollitem_t *items = calloc((size_t)agents, sizeof *items);
    Parallax__Result *rs = calloc(results, sizeof *rs);
    Parallax__Result **rp = calloc(results, sizeof *rp);
    int64_t *lat = calloc((size_t)(agents * batches), sizeof *lat);
    if (!sims || !items || !rs || !rp || !lat)
        return 1;
    for (int a = 0; a < agents; a++) {
        char pub[64], sec[64];
        if (fscanf(kf, "%63s %63s", pub, sec) != 2) {
            fprintf(stderr, "pxclient: %s has fewer than %d keys\n", keyfile, agents);
            return 1;
        }
        sims[a].sock = connect_dealer(ctx, ep, server, sec);
        sims[a].sent_us = calloc(batches + 1, sizeof(int64_t));
        sims[a].resend_at = calloc(batches + 1, sizeof(int64_t));
        sims[a].done = calloc(batches + 1, 1);
        if (!sims[a].sock || !sims[a].sent_us || !sims[a].resend_at || !sims[a].done) {
            fprintf(stderr, "pxclient: cannot set up agent %d: %s\n", a, zmq_strerror(zmq_errno()));
            return 1;
        }
        sims[a].next_seq = 1;
        items[a] = (zmq_pollitem_t){.socket = sims[a].sock, .events = ZMQ_POLLIN};
    }
    fclose(kf);
    /* Results cover the last few hours, so they fall in today's or yesterday's partition. */
    int64_t per_agent_s = (int64_t)(batches * results / probes) + 1;
    int64_t base_us = (time_now_us() / 1000000 - per_agent_s - 60) * 1000000;
    /* Hellos first, so the run measures storing rather than CURVE handshakes. */
    for (int a = 0; a < agents; a++)
        if (send_hello(sims[a].sock, NULL, 0) < 0)
            return 1;
    int greeted = 0;
    int64_t limit = time_mono_us() + 120 * 1000000LL;
    while (greeted < agents && time_mono_us() < limit) {
        if (zmq_poll(items, agents, 200) < 0)
            return 1;
        for (int a = 0; a < agents; a++) {
            if (!(items[a].revents & ZMQ_POLLIN))
                continue;
            Parallax__Envelope *r;
            while ((r = recv_any(sims[a].sock, 0))) {
                if (r->body_case == PARALLAX__ENVELOPE__BODY_SCHEDULE)
                    greeted++;
                wire_free(&r);
            }
        }
    }
    if (greeted < agents) {
        fprintf(stderr, "pxclient: only %d of %d agents got a schedule\n", greeted, agents);
        return 3;
    }
    fprintf(stderr, "pxclient: %d agents connected\n", agents);
    uint64_t total = (uint64_t)agents * batches, stored = 0, resends = 0, retries = 0;
    size_t n_lat = 0;
    int64_t start = time_mono_us(), last_ack = start;
    limit = start + 600 * 1000000LL;
    while (stored < total && time_mono_us() < limit) {
        int64_t now = time_mono_us();
        for (int a = 0; a < agents; a++) {
            sim_t *s = &sims[a];
            /* New batches while the window has room; resends of overdue ones. */
            while (s->next_seq <= batches && s->next_seq - 1 - s->acked < (uint64_t)window) {
                uint64_t q = s->next_seq++;
                s->sent_us[q] = now;
                s->resend_at[q] = now + 10000000;
                if (flood_send(s, a, q, results, probes, base_us, rs, rp) < 0)
                    return 1;
            }
            for (uint64_t q = s->acked + 1;
                 q < s->next_seq && q <= s->acked + (uint64_t)window + 1 && q <= batches; q++) {
                if (!s->done[q] && s->resend_at[q] && now >= s->resend_at[q]) {
                    s->resend_at[q] = now + 10000000;
                    resends++;
                    if (flood_send(s, a, q, results, probes, base_us, rs, rp) < 0)
                        return 1;
                }
            }
        }
        if (zmq_poll(items, agents, 50) < 0)
            return 1;
        now = time_mono_us();
        for (int a = 0; a < agents; a++) {
            if (!(items[a].revents & ZMQ_POLLIN))
                continue;
            sim_t *s = &sims[a];
            Parallax__Envelope *r;
            while ((r = recv_any(s->sock, 0))) {
                if (r->body_case == PARALLAX__ENVELOPE__BODY_ACK && r->ack->seq >= 1 &&
                    r->ack->seq <= batches && !s->done[r->ack->seq]) {
                    uint64_t q = r->ack->seq;
                    if (r->ack->code == PARALLAX__ACK_CODE__ACK_STORED) {
                        s->done[q] = 1;
                        lat[n_lat++] = now - s->sent_us[q];
                        stored++;
                        last_ack = now;
                        while (s->acked < batches && s->done[s->acked + 1])
                            s->acked++;
                    } else if (r->ack->code == PARALLAX__ACK_CODE__ACK_RETRY) {
                        retries++;
                        s->resend_at[q] = now + 100000;
                    } else {
                        fprintf(stderr, "pxclient: batch %llu rejected: %s\n",
                                (unsigned long long)q, r->ack->reason);
                        return 1;
                    }
                }
                wire_free(&r);
            }
        }
    }
    double secs = (double)(last_ack - start) / 1e6;
    qsort(lat, n_lat, sizeof *lat, cmp_i64);
    printf("flood agents %d batches %llu stored %llu results %llu seconds %.3f rate %.0f "
           "resends %llu retries %llu\n",
           agents, (unsigned long long)total, (unsigned long long)stored,
           (unsigned long long)(stored * results), secs, secs > 0 ? stored * results / secs : 0,
           (unsigned long long)resends, (unsigned long long)retries);
    if (n_lat)
        printf("latency_ms p50 %.1f p99 %.1f max %.1f\n", lat[n_lat / 2] / 1000.0,
               lat[(n_lat * 99) / 100] / 1000.0, lat[n_lat - 1] / 1000.0);
    fflush(stdout);
    int rc = stored == total ? 0 : 3;
    if (hold_s > 0) {
        printf("holding\n");
        fflush(stdout);
        int64_t end = time_mono_us() + hold_s * 1000000;
        int64_t next_hb = 0;
        while (time_mono_us() < end) {
            if (time_mono_us() >= next_hb) {
                next_hb = time_mono_us() + 2000000;
                for (int a = 0; a < agents; a++)
                    send_heartbeat(sims[a].sock, 0, NULL, 0);
            }
            zmq_poll(items, agents, 200);
            for (int a = 0; a < agents; a++) {
                Parallax__Envelope *r;
                while ((r = recv_any(sims[a].sock, 0)))
                    wire_free(&r);
            }
        }
    }
    for (int a = 0; a < agents; a++) {
        zmq_close(sims[a].sock);
        free(sims[a].sent_us);
        free(sims[a].resend_at);
        free(sims[a].done);
    }
    free(sims);
    free(items);
    free(rs);
    free(rp);
    free(lat);
    return rc;
}

static int do_keygen(int n)
{
    for (int i = 0; i < n; i++) {
        char pub[41], sec[41];
        if (zmq_curve_keypair(pub, sec) != 0)
            return 1;
        printf("%s %s\n", pub, sec);
    }
    return 0;
}

/* N handshakes with random keys, HANDSHAKES_AT_ONCE at a time. */
#define HANDSHAKES_AT_ONCE 200
static int do_handshakes(void *ctx, const char *ep, const char *server, char **argv, int argc)
{
    if (argc < 1 || atol(argv[0]) < 1)
        return 2;
    long n = atol(argv[0]), answered = 0;
    void *socks[HANDSHAKES_AT_ONCE];
    for (long done = 0; done < n;) {
        int k = 0;
        for (; k < HANDSHAKES_AT_ONCE && done + k < n; k++) {
            char pub[41], sec[41];
            if (zmq_curve_keypair(pub, sec) != 0 ||
                !(socks[k] = connect_dealer(ctx, ep, server, sec)))
                return 1;
            send_hello(socks[k], NULL, 0);
        }
        zmq_pollitem_t items[HANDSHAKES_AT_ONCE];
        for (int j = 0; j < k; j++)
            items[j] = (zmq_pollitem_t){.socket = socks[j], .events = ZMQ_POLLIN};
        int64_t end = time_mono_us() + 500000;
        for (int64_t now; (now = time_mono_us()) < end;) {
            if (zmq_poll(items, k, (long)((end - now) / 1000)) <= 0)
                break;
            for (int j = 0; j < k; j++)
                if (items[j].revents & ZMQ_POLLIN) {
                    char buf[64];
                    while (zmq_recv(socks[j], buf, sizeof buf, ZMQ_DONTWAIT) >= 0)
                        ;
                    answered++;
                    items[j].events = 0;
                }
        }
        for (int j = 0; j < k; j++)
            zmq_close(socks[j]);
        done += k;
    }
    printf("handshakes %ld answered %ld\n", n, answered);
    return 0;
}

int main(int argc, char **argv)
{
    const char *ep = NULL, *server = NULL, *secret = NULL;
    int i = 1;
    if (argc == 3 && !strcmp(argv[1], "keygen"))
        return do_keygen(atoi(argv[2]));
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (!strcmp(argv[i], "-e"))
            ep = argv[i + 1];
        else if (!strcmp(argv[i], "-k"))
            server = argv[i + 1];
        else if (!strcmp(argv[i], "-s"))
            secret = argv[i + 1];
        else if (!strcmp(argv[i], "-g") && parse_gap(argv[i + 1]) == 0)
            continue;
        else if (!strcmp(argv[i], "-P") && sscanf(argv[i + 1], "%" SCNu32, &protocol) == 1)
            continue;
        else
            i = argc; /* unknown option: usage */
    }
    int flood = i < argc && !strcmp(argv[i], "flood");
    int handshakes = i < argc && !strcmp(argv[i], "handshakes");
    if (!ep || !server || (!secret && !flood && !handshakes) || i >= argc) {
        fprintf(stderr,
                "usage: pxclient -e ENDPOINT -k SERVER_KEY -s SECRET_KEY [-g GAP]... "
                "[-P VERSION] hello|batch|stream|heartbeats|follow|garbage|chatter|latency ...\n"
                "       pxclient -e ENDPOINT -k SERVER_KEY flood KEYFILE AGENTS BATCHES "
                "RESULTS PROBES [WINDOW [HOLD_S]]\n"
                "       pxclient -e ENDPOINT -k SERVER_KEY handshakes N\n"
                "       pxclient keygen N\n");
        return 2;
    }
    void *ctx = zmq_ctx_new();
    if (flood) {
        /* A thousand simulated agents need more sockets than ZeroMQ's default 1023. */
        zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, 8192);
        int rc = do_flood(ctx, ep, server, argv + i + 1, argc - i - 1);
        zmq_ctx_term(ctx);
        return rc;
    }
    if (handshakes) {
        int rc = do_handshakes(ctx, ep, server, argv + i + 1, argc - i - 1);
        zmq_ctx_term(ctx);
        return rc;
    }
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
    else if (!strcmp(argv[i], "stream"))
        rc = do_stream(d, argv + i + 1, argc - i - 1);
    else if (!strcmp(argv[i], "heartbeats"))
        rc = do_heartbeats(d, argv + i + 1, argc - i - 1);
    else if (!strcmp(argv[i], "follow"))
        rc = do_follow(d, argv + i + 1, argc - i - 1);
    else if (!strcmp(argv[i], "chatter"))
        rc = do_chatter(d, argv + i + 1, argc - i - 1);
    else if (!strcmp(argv[i], "latency"))
        rc = do_latency(d, argv + i + 1, argc - i - 1);
    else if (!strcmp(argv[i], "garbage")) {
        static const char junk[] = "\xff\xff\xff\xff\x0f not protobuf";
        zmq_send(d, junk, sizeof junk, 0);
        rc = do_hello(d, NULL);
    }
    zmq_close(d);
    zmq_ctx_term(ctx);
    return rc;
}
