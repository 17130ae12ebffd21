/* probe_http: runtime state of one http(s) run: a non-blocking socket driven by one io event
 * (re-armed for read or write as each phase needs) and one deadline timer, the TLS session
 * for https, the request being sent and the incremental response parser. The phase is an
 * explicit state that timeouts and error messages name. */
#include "probe_http.h"

#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_parse.h"
#include "probe_connect.h"
#include "result_wire.h"
#include "timeutil.h"
#include "tls_check.h"
#include "timer.h"

/* X(name, text): the phases of a run; the text completes "timed out after N ms ...". */
#define HTTP_PHASE_LIST(X)                                                                         \
    X(CONNECTING, "connecting")                                                                    \
    X(HANDSHAKING, "in the TLS handshake")                                                         \
    X(SENDING, "sending the request")                                                              \
    X(WAITING, "waiting for the first byte")                                                       \
    X(READING, "reading the response")

typedef enum http_phase {
#define HTTP_PHASE_ENUM(name, text) HTTP_PHASE_##name,
    HTTP_PHASE_LIST(HTTP_PHASE_ENUM)
#undef HTTP_PHASE_ENUM
} http_phase_t;

static const char *const phase_names[] = {
#define HTTP_PHASE_NAME(name, text) text,
    HTTP_PHASE_LIST(HTTP_PHASE_NAME)
#undef HTTP_PHASE_NAME
};

/* GET line, headers and the longest path and host a spec can hold. */
#define HTTP_REQUEST_MAX (PROBESPEC_MAX + PROBESPEC_HOST_MAX + 256)

typedef struct http_state {
    probe_run_t *run;
    probespec_t spec;
    int use_tls;
    http_phase_t phase;
    int fd;
    struct event *io;    /* re-assigned for EV_READ or EV_WRITE as the phase needs */
    struct event *timer; /* the run's deadline */
    int64_t start_mono_us;
    tls_check_t *tls;
    int cert_verified;
    char cert_summary[PROBE_MSG_MAX];
    char req[HTTP_REQUEST_MAX];
    size_t req_len, req_sent;
    size_t scanned;             /* response bytes read so far, at most PROBE_HTTP_SCAN_MAX */
    probe_result_t res;         /* app_code set on the way; the rest by finish() */
    probe_http_detail_t detail; /* filled in as phases complete */
    http_parse_t parse;
} http_state_t;

static void io_cb(evutil_socket_t fd, short what, void *arg);

static void set_phase(http_state_t *st, http_phase_t phase)
{
    st->phase = phase;
}

static uint32_t elapsed_us(const http_state_t *st)
{
    int64_t d = time_mono_us() - st->start_mono_us;
    /* 0 means "phase not reached" in the details, so a reached phase is at least 1 us. */
    return d < 1 ? 1 : d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

/* Ends the run. st is freed by probe_done() (through release): callers return at once. */
static void finish(http_state_t *st, px_status_t status, uint32_t rtt_us, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void finish(http_state_t *st, px_status_t status, uint32_t rtt_us, const char *fmt, ...)
{
    st->res.status = status;
    st->res.rtt_us = rtt_us;
    (void)probe_result_set_detail(&st->res, &st->detail, sizeof st->detail); /* fits: checked */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->res.message, sizeof st->res.message, fmt, ap);
    va_end(ap);
    probe_done(st->run, &st->res);
}

/* A socket error after the connect completed. A reset means the server (or something on the
 * path) gave up on the exchange: in the handshake that is a TLS failure (as a middlebox
 * refusing an SNI would cause), later a broken HTTP exchange. Everything else maps like a
 * failed connect. */
static void finish_errno(http_state_t *st, int e)
{
    if (e == ECONNRESET || e == EPIPE) {
        if (st->phase == HTTP_PHASE_HANDSHAKING)
            finish(st, PX_STATUS_TLS_ERROR, elapsed_us(st), "TLS handshake: %s", strerror(e));
        else
            finish(st, PX_STATUS_PROTOCOL_ERROR, elapsed_us(st), "%s %s", strerror(e),
                   phase_names[st->phase]);
        return;
    }
    finish(st, probe_connect_status(e, 0), 0, "%s %s", strerror(e), phase_names[st->phase]);
}

static void wait_io(http_state_t *st, short what)
{
    struct event_base *base = probe_env_base(probe_run_env(st->run));
    event_del(st->io);
    if (event_assign(st->io, base, st->fd, what, io_cb, st) < 0 || event_add(st->io, NULL) < 0)
        finish(st, PX_STATUS_LOCAL_ERROR, 0, "cannot wait for the socket");
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    http_state_t *st = arg;
    unsigned ms = (unsigned)probe_run_target(st->run)->timeout_ms;
    if (st->phase == HTTP_PHASE_CONNECTING)
        finish(st, PX_STATUS_TIMEOUT, 0, "no answer within %u ms", ms);
    else if (st->phase == HTTP_PHASE_READING)
        finish(st, PX_STATUS_TIMEOUT, 0, "timed out after %u ms reading the response (%zu bytes)",
               ms, st->scanned);
    else
        finish(st, PX_STATUS_TIMEOUT, 0, "timed out after %u ms %s", ms, phase_names[st->phase]);
}

/* The response is complete, or the scan cap was reached with the headers complete. */
static void judge(http_state_t *st, int truncated)
{
    const http_parse_t *p = &st->parse;
    uint32_t total = elapsed_us(st);
    st->detail.total_us = total;
    st->res.app_code = p->status;
    char line[HTTP_PARSE_REASON_MAX + 16];
    snprintf(line, sizeof line, "HTTP %d%s%s", p->status, p->reason[0] ? " " : "", p->reason);
    uint16_t expect = st->spec.expect_status;
    if (st->use_tls && !st->cert_verified)
        finish(st, PX_STATUS_TLS_ERROR, total, "%s; %s", st->cert_summary, line);
    else if (expect && p->status != expect)
        finish(st, PX_STATUS_APP_ERROR, total, "%s (expected %u)", line, (unsigned)expect);
    else if (!expect && p->status >= 500)
        finish(st, PX_STATUS_APP_ERROR, total, "%s", line);
    else if (!p->body_found)
        finish(st, PX_STATUS_APP_ERROR, total, "%s but the body%s does not contain \"%.64s\"", line,
               truncated ? "'s first 64 KiB" : "", st->spec.expect_body);
    else
        finish(st, PX_STATUS_OK, total, "%s", line);
}

static void protocol_error(http_state_t *st, const char *why)
{
    st->res.app_code = st->parse.headers_complete ? st->parse.status : 0;
    finish(st, PX_STATUS_PROTOCOL_ERROR, elapsed_us(st), "%s", why);
}

/* Feeds n bytes to the parser. Returns 1 if the run ended. */
static int take_bytes(http_state_t *st, const char *buf, size_t n)
{
    if (st->phase == HTTP_PHASE_WAITING) {
        st->detail.first_byte_us = elapsed_us(st);
        set_phase(st, HTTP_PHASE_READING);
    }
    st->scanned += n;
    switch (http_parse_feed(&st->parse, buf, n, NULL)) {
    case HTTP_PARSE_COMPLETE:
        judge(st, 0);
        return 1;
    case HTTP_PARSE_FAILED:
        protocol_error(st, st->parse.error);
        return 1;
    default:
        return 0;
    }
}

static void take_eof(http_state_t *st)
{
    if (http_parse_eof(&st->parse) == HTTP_PARSE_COMPLETE)
        judge(st, 0);
    else
        protocol_error(st, st->parse.error);
}

/* Reads until the socket has nothing more, the response is complete or the cap is reached.
 * TLS may hold decrypted bytes the socket no longer signals, hence the loop. */

/* After a TLS read or write that did not complete: wait for the socket, or end the run. */
static void tls_stalled(http_state_t *st, tls_check_io_t rc, int e, const char *why)
{
    switch (rc) {
    case TLS_CHECK_AGAIN_READ:
        wait_io(st, EV_READ);
        break;
    case TLS_CHECK_AGAIN_WRITE:
        wait_io(st, EV_WRITE);
        break;
    case TLS_CHECK_EOF:
        take_eof(st);
        break;
    case TLS_CHECK_SYSCALL:
        finish_errno(st, e);
        break;
    case TLS_CHECK_FAILED:
        finish(st, PX_STATUS_TLS_ERROR, elapsed_us(st), "TLS %s: %s", phase_names[st->phase], why);
        break;
    case TLS_CHECK_OK:
        break;
    }
}
static void step_read(http_state_t *st)
{
    char buf[16384];
    while (st->scanned < PROBE_HTTP_SCAN_MAX) {
        size_t want = PROBE_HTTP_SCAN_MAX - st->scanned;
        if (want > sizeof buf)
            want = sizeof buf;
        if (st->tls) {
            size_t n;
            int e;
            char why[128];
            tls_check_io_t rc = tls_check_read(st->tls, buf, want, &n, &e, why, sizeof why);
            if (rc != TLS_CHECK_OK) {
                tls_stalled(st, rc, e, why);
                return;
            }
            if (take_bytes(st, buf, n))
                return;
            continue;
        }
        ssize_t n = recv(st->fd, buf, want, 0);
        if (n > 0) {
            if (take_bytes(st, buf, (size_t)n))
                return;
        } else if (n == 0) {
            take_eof(st);
            return;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            wait_io(st, EV_READ);
            return;
        } else {
            finish_errno(st, errno);
            return;
        }
    }
    /* The cap: what was seen is judged, the rest is never read. The head cap is below the
     * scan cap, so the headers are complete here unless the parser already failed. */
    if (st->parse.headers_complete)
        judge(st, 1);
    else
        protocol_error(st, "no complete header section in the first 64 KiB");
}

static void step_send(http_state_t *st)
{
    while (st->req_sent < st->req_len) {
        const char *p = st->req + st->req_sent;
        size_t left = st->req_len - st->req_sent;
        if (st->tls) {
            size_t n;
            int e;
            char why[128];
            tls_check_io_t rc = tls_check_write(st->tls, p, left, &n, &e, why, sizeof why);
            if (rc != TLS_CHECK_OK) {
                tls_stalled(st, rc, e, why);
                return;
            }
            st->req_sent += n;
            continue;
        }
        ssize_t n = send(st->fd, p, left, MSG_NOSIGNAL);
        if (n >= 0) {
            st->req_sent += (size_t)n;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            wait_io(st, EV_WRITE);
            return;
        } else {
            finish_errno(st, errno);
            return;
        }
    }
    set_phase(st, HTTP_PHASE_WAITING);
    wait_io(st, EV_READ);
}

static void step_handshake(http_state_t *st)
{
    int e;
    char why[128];
    switch (tls_check_handshake(st->tls, &e, why, sizeof why)) {
    case TLS_CHECK_OK:
        st->detail.tls_us = elapsed_us(st);
        st->detail.has_tls = 1;
        st->cert_verified =
            tls_check_peer(st->tls, &st->detail.tls, st->cert_summary, sizeof st->cert_summary);
        set_phase(st, HTTP_PHASE_SENDING);
        step_send(st);
        return;
    case TLS_CHECK_AGAIN_READ:
        wait_io(st, EV_READ);
        return;
    case TLS_CHECK_AGAIN_WRITE:
        wait_io(st, EV_WRITE);
        return;
    case TLS_CHECK_EOF:
        finish(st, PX_STATUS_TLS_ERROR, elapsed_us(st),
               "TLS handshake: the server closed the connection");
        return;
    case TLS_CHECK_SYSCALL:
        finish_errno(st, e);
        return;
    case TLS_CHECK_FAILED:
        finish(st, PX_STATUS_TLS_ERROR, elapsed_us(st), "TLS handshake: %s", why);
        return;
    }
}

static void connected(http_state_t *st, int e)
{
    if (e) {
        px_status_t status = probe_connect_status(e, 0);
        finish(st, status, status == PX_STATUS_REFUSED ? elapsed_us(st) : 0, "connect: %s",
               strerror(e));
        return;
    }
    st->detail.connect_us = elapsed_us(st);
    if (!st->use_tls) {
        set_phase(st, HTTP_PHASE_SENDING);
        step_send(st);
        return;
    }
    err_t err = {{0}};
    tls_check_ctx_t *ctx = probe_env_tls(probe_run_env(st->run), &err);
    st->tls = ctx ? tls_check_new(ctx, st->fd, st->spec.host, &err) : NULL;
    if (!st->tls) {
        finish(st, PX_STATUS_LOCAL_ERROR, 0, "TLS setup: %s", err.msg);
        return;
    }
    set_phase(st, HTTP_PHASE_HANDSHAKING);
    step_handshake(st);
}

static void io_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    http_state_t *st = arg;
    switch (st->phase) {
    case HTTP_PHASE_CONNECTING:
        connected(st, probe_connect_result(fd));
        return;
    case HTTP_PHASE_HANDSHAKING:
        step_handshake(st);
        return;
    case HTTP_PHASE_SENDING:
        step_send(st);
        return;
    case HTTP_PHASE_WAITING:
    case HTTP_PHASE_READING:
        step_read(st);
        return;
    }
}

/* Writes the request into st->req. Returns 0, or -1 if it does not fit. */
static int build_request(http_state_t *st)
{
    const probespec_t *s = &st->spec;
    int v6 = strchr(s->host, ':') != NULL;
    char port[8] = "";
    if (s->port != (st->use_tls ? 443 : 80))
        snprintf(port, sizeof port, ":%u", (unsigned)s->port);
    int n = snprintf(st->req, sizeof st->req,
                     "GET %s HTTP/1.1\r\n"
                     "Host: %s%s%s%s\r\n"
                     "User-Agent: parallax-agent/" PX_VERSION "\r\n"
                     "Accept: */*\r\n"
                     "Connection: close\r\n"
                     "\r\n",
                     s->path, v6 ? "[" : "", s->host, v6 ? "]" : "", port);
    if (n < 0 || (size_t)n >= sizeof st->req)
        return -1;
    st->req_len = (size_t)n;
    return 0;
}

static void http_start(probe_run_t *run)
{
    const probe_target_t *t = probe_run_target(run);
    http_state_t *st = calloc(1, sizeof *st);
    if (!st) {
        probe_done_status(run, PX_STATUS_LOCAL_ERROR, 0, "out of memory");
        return;
    }
    st->run = run;
    st->fd = -1;
    st->use_tls = t->kind == PROBE_KIND_HTTPS;
    probe_run_set_state(run, st);
    err_t err = {{0}};
    if (!t->spec || probespec_parse(t->spec, &st->spec, &err) < 0) {
        finish(st, PX_STATUS_LOCAL_ERROR, 0, "bad probe spec: %s", t->spec ? err.msg : "none");
        return;
    }
    if (st->spec.kind != t->kind) {
        finish(st, PX_STATUS_LOCAL_ERROR, 0, "spec '%.64s' is not of kind %s", t->spec,
               probespec_kind_name(t->kind));
        return;
    }
    if (build_request(st) < 0 || http_parse_init(&st->parse, st->spec.expect_body) < 0) {
        finish(st, PX_STATUS_LOCAL_ERROR, 0, "request too long");
        return;
    }
    struct event_base *base = probe_env_base(probe_run_env(run));
    st->io = event_new(base, -1, 0, io_cb, st);
    st->timer = evtimer_new(base, timer_cb, st);
    if (!st->io || !st->timer) {
        finish(st, PX_STATUS_LOCAL_ERROR, 0, "out of memory");
        return;
    }
    if (timer_arm_ms(st->timer, t->timeout_ms) < 0) {
        finish(st, PX_STATUS_LOCAL_ERROR, 0, "cannot arm the run's deadline");
        return;
    }
    set_phase(st, HTTP_PHASE_CONNECTING);
    st->start_mono_us = time_mono_us();
    probe_connect_fail_t fail;
    st->fd = probe_connect_start(&t->addr, t->addrlen, st->spec.port, &fail, NULL);
    if (st->fd < 0) {
        finish(st, fail.status, fail.status == PX_STATUS_REFUSED ? elapsed_us(st) : 0, "%s: %s",
               fail.call, strerror(fail.err));
        return;
    }
    wait_io(st, EV_WRITE);
}

static void http_release(probe_run_t *run)
{
    http_state_t *st = probe_run_state(run);
    if (!st)
        return;
    if (st->io)
        event_free(st->io);
    if (st->timer)
        event_free(st->timer);
    tls_check_destroy(&st->tls);
    if (st->fd >= 0)
        close(st->fd);
    free(st);
    probe_run_set_state(run, NULL);
}

_Static_assert(sizeof(probe_http_detail_t) <= PROBE_DETAIL_MAX, "http details too large");

int probe_http_detail(const probe_result_t *res, probe_http_detail_t *out)
{
    if (res->kind != PROBE_KIND_HTTP && res->kind != PROBE_KIND_HTTPS)
        return -1;
    return probe_result_get_detail(res, out, sizeof *out);
}

/* The verify_error string points into a copy of the details in w, which lives as long as w. */
static int http_encode(const probe_result_t *res, result_wire_t *w)
{
    probe_http_detail_t *d = result_wire_alloc(w, sizeof *d);
    Parallax__HttpTiming *timing = result_wire_alloc(w, sizeof *timing);
    Parallax__TlsInfo *tls = result_wire_alloc(w, sizeof *tls);
    if (!d || !timing || !tls || probe_http_detail(res, d) < 0)
        return -1;
    parallax__http_timing__init(timing);
    timing->connect_us = d->connect_us;
    timing->tls_us = d->tls_us;
    timing->first_byte_us = d->first_byte_us;
    timing->total_us = d->total_us;
    w->res.http = timing;
    if (d->has_tls) {
        parallax__tls_info__init(tls);
        tls->verified = d->tls.verified;
        tls->days_left = d->tls.days_left;
        tls->verify_error = d->tls.verify_error;
        w->res.tls = tls;
    }
    return 0;
}

const probe_ops_t probe_http_ops = {
    .kind = PROBE_KIND_HTTP,
    .start = http_start,
    .release = http_release,
    .encode = http_encode,
};

const probe_ops_t probe_https_ops = {
    .kind = PROBE_KIND_HTTPS,
    .start = http_start,
    .release = http_release,
    .encode = http_encode,
};
