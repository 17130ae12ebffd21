/* probe_smtp: runtime state of one SMTP check: the socket, one event for the current phase,
 * one timer for the whole run, and the reply parser. Commands are a few bytes on a fresh
 * connection, so they are sent with one send() each; replies are parsed as they arrive. */
#include "probe_smtp.h"

#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "probe_connect.h"
#include "smtp_parse.h"
#include "timeutil.h"

#define SMTP_DEFAULT_PORT 25
#define SMTP_CMD_EHLO "EHLO parallax-agent\r\n"
#define SMTP_CMD_QUIT "QUIT\r\n"

/* The phases of a run. Every transition goes through set_phase(). */
typedef enum smtp_phase {
    SMTP_CONNECTING, /* non-blocking connect in progress */
    SMTP_GREETING,   /* connected, reading the server's greeting */
    SMTP_EHLO,       /* EHLO sent, reading its reply */
} smtp_phase_t;

static const char *const smtp_phase_names[] = {
    [SMTP_CONNECTING] = "connect",
    [SMTP_GREETING] = "greeting",
    [SMTP_EHLO] = "EHLO reply",
};

typedef struct smtp_state {
    probe_run_t *run;
    smtp_phase_t phase;
    int fd;
    struct event *ev;
    struct event *timer;
    int64_t start_mono_us;
    uint32_t greeting_us;
    int greeting_code;
    char greeting[PROBE_MSG_MAX]; /* first line of the greeting, sanitised */
    smtp_parse_t parser;
} smtp_state_t;

static void io_cb(evutil_socket_t fd, short what, void *arg);

static uint32_t elapsed_us(const smtp_state_t *st)
{
    int64_t d = time_mono_us() - st->start_mono_us;
    return d < 0 ? 0 : d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

/* Moves to phase and waits for events on the socket. Returns 0, or -1 having ended the run. */
static int set_phase(smtp_state_t *st, smtp_phase_t phase, short events)
{
    log_debug("smtp: %s -> %s", smtp_phase_names[st->phase], smtp_phase_names[phase]);
    st->phase = phase;
    if (st->ev)
        event_free(st->ev);
    st->ev = event_new(probe_env_base(probe_run_env(st->run)), st->fd, (short)(events | EV_PERSIST),
                       io_cb, st);
    if (!st->ev || event_add(st->ev, NULL) < 0) {
        probe_done_status(st->run, PX_STATUS_LOCAL_ERROR, 0, "out of memory");
        return -1;
    }
    return 0;
}

/* Ends the run with status and message; app_code is the greeting code once there is one.
 * st is gone after this. */
static void finish(smtp_state_t *st, px_status_t status, uint32_t rtt_us, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void finish(smtp_state_t *st, px_status_t status, uint32_t rtt_us, const char *fmt, ...)
{
    probe_result_t res;
    memset(&res, 0, sizeof res);
    res.status = status;
    res.rtt_us = rtt_us;
    res.app_code = st->greeting_code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res.message, sizeof res.message, fmt, ap);
    va_end(ap);
    probe_done(st->run, &res);
}

/* Ends the run on a socket error; immediate: connect() itself failed. */
static void finish_errno(smtp_state_t *st, int err, int immediate, const char *what)
{
    px_status_t status = probe_connect_status(err, immediate);
    if (status == PX_STATUS_OK)
        status = PX_STATUS_LOCAL_ERROR;
    finish(st, status, status == PX_STATUS_REFUSED ? elapsed_us(st) : 0, "%s: %s", what,
           strerror(err));
}

/* Sends a command; the socket is fresh and the command small, so a short write means the
 * connection is broken. Returns 0 or an errno. */
static int send_command(smtp_state_t *st, const char *cmd)
{
    size_t len = strlen(cmd);
    ssize_t n = send(st->fd, cmd, len, MSG_NOSIGNAL);
    if (n < 0)
        return errno;
    return (size_t)n == len ? 0 : EAGAIN;
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    smtp_state_t *st = arg;
    unsigned ms = (unsigned)probe_run_target(st->run)->timeout_ms;
    switch (st->phase) {
    case SMTP_CONNECTING:
        finish(st, PX_STATUS_TIMEOUT, 0, "connect: no answer within %u ms", ms);
        return;
    case SMTP_GREETING:
        finish(st, PX_STATUS_TIMEOUT, 0, "connected, but no complete greeting within %u ms", ms);
        return;
    case SMTP_EHLO:
        finish(st, PX_STATUS_TIMEOUT, 0, "no EHLO reply within %u ms; greeting: %s", ms,
               st->greeting);
        return;
    }
}

static void on_greeting(smtp_state_t *st)
{
    st->greeting_us = elapsed_us(st);
    st->greeting_code = st->parser.code;
    smtp_parse_sanitize(st->greeting, sizeof st->greeting, st->parser.first_line);
    if (st->greeting_code != 220) {
        /* RFC 5321 3.1: a server refusing service still waits for QUIT; saying it is
         * polite, and its answer adds nothing. */
        (void)send_command(st, SMTP_CMD_QUIT);
        finish(st, PX_STATUS_APP_ERROR, st->greeting_us, "%s", st->greeting);
        return;
    }
    int err = send_command(st, SMTP_CMD_EHLO);
    if (err) {
        finish(st, PX_STATUS_PROTOCOL_ERROR, st->greeting_us,
               "cannot send EHLO after the greeting (%s); greeting: %s", strerror(err),
               st->greeting);
        return;
    }
    smtp_parse_init(&st->parser);
    set_phase(st, SMTP_EHLO, EV_READ);
}

static void on_ehlo_reply(smtp_state_t *st)
{
    int code = st->parser.code;
    char line[PROBE_MSG_MAX];
    smtp_parse_sanitize(line, sizeof line, st->parser.first_line);
    (void)send_command(st, SMTP_CMD_QUIT);
    if (code / 100 == 2)
        finish(st, PX_STATUS_OK, st->greeting_us, "%s", st->greeting);
    else
        finish(st, PX_STATUS_APP_ERROR, st->greeting_us, "EHLO refused: %.100s; greeting: %.100s",
               line, st->greeting);
}

static void read_reply(smtp_state_t *st)
{
    char buf[1024];
    for (;;) {
        ssize_t n = recv(st->fd, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR)
                continue;
            if (errno == ECONNRESET)
                finish(st, PX_STATUS_PROTOCOL_ERROR, elapsed_us(st),
                       "connection reset before a complete %s", smtp_phase_names[st->phase]);
            else
                finish_errno(st, errno, 0, "recv");
            return;
        }
        if (n == 0) {
            finish(st, PX_STATUS_PROTOCOL_ERROR, elapsed_us(st),
                   "connection closed before a complete %s (%u line%s received)",
                   smtp_phase_names[st->phase], st->parser.lines, st->parser.lines == 1 ? "" : "s");
            return;
        }
        /* Whatever follows a complete reply is the server talking out of turn; it is left
         * unread, since the reply has already decided the next step. */
        switch (smtp_parse_feed(&st->parser, buf, (size_t)n, NULL)) {
        case SMTP_PARSE_MORE:
            continue;
        case SMTP_PARSE_ERROR:
            finish(st, PX_STATUS_PROTOCOL_ERROR, elapsed_us(st), "not an SMTP %s: %s",
                   smtp_phase_names[st->phase], st->parser.why);
            return;
        case SMTP_PARSE_DONE:
            if (st->phase == SMTP_GREETING)
                on_greeting(st);
            else
                on_ehlo_reply(st);
            return;
        }
    }
}

static void io_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    smtp_state_t *st = arg;
    if (st->phase != SMTP_CONNECTING) {
        read_reply(st);
        return;
    }
    int err = probe_connect_result(fd);
    if (err) {
        finish_errno(st, err, 0, "connect");
        return;
    }
    set_phase(st, SMTP_GREETING, EV_READ);
}

static void smtp_start(probe_run_t *run)
{
    const probe_target_t *t = probe_run_target(run);
    smtp_state_t *st = calloc(1, sizeof *st);
    if (!st) {
        probe_done_status(run, PX_STATUS_LOCAL_ERROR, 0, "out of memory");
        return;
    }
    st->run = run;
    st->fd = -1;
    st->phase = SMTP_CONNECTING;
    smtp_parse_init(&st->parser);
    probe_run_set_state(run, st);
    struct timeval tv = {.tv_sec = t->timeout_ms / 1000, .tv_usec = (t->timeout_ms % 1000) * 1000};
    st->timer = evtimer_new(probe_env_base(probe_run_env(run)), timeout_cb, st);
    if (!st->timer || evtimer_add(st->timer, &tv) < 0) {
        probe_done_status(run, PX_STATUS_LOCAL_ERROR, 0, "out of memory");
        return;
    }
    st->start_mono_us = time_mono_us();
    /* The scheduler fills the port from the spec; a spec-less target means the default. */
    probe_connect_fail_t fail;
    st->fd = probe_connect_start(&t->addr, t->addrlen, t->port ? t->port : SMTP_DEFAULT_PORT, &fail,
                                 NULL);
    if (st->fd < 0) {
        finish(st, fail.status, fail.status == PX_STATUS_REFUSED ? elapsed_us(st) : 0, "%s: %s",
               fail.call, strerror(fail.err));
        return;
    }
    set_phase(st, SMTP_CONNECTING, EV_WRITE);
}

static void smtp_release(probe_run_t *run)
{
    smtp_state_t *st = probe_run_state(run);
    if (!st)
        return;
    if (st->timer)
        event_free(st->timer);
    if (st->ev)
        event_free(st->ev);
    if (st->fd >= 0)
        close(st->fd);
    free(st);
    probe_run_set_state(run, NULL);
}

const probe_ops_t probe_smtp_ops = {
    .kind = PROBE_KIND_SMTP,
    .start = smtp_start,
    .release = smtp_release,
};
