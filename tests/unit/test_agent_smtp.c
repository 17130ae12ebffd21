/* Unit tests for the smtp probe kind: against a real OpenSMTPD on loopback (skipped with the
 * reason if it cannot run here), and against fake servers in a thread of the test: a good
 * conversation, a 554 greeting, garbage, silence before the greeting and after EHLO, an
 * endless line, a close or reset mid-line, a refused EHLO; plus a closed port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_skip.h"
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe.h"
#include "probe_harness.h"
#include "probe_smtp.h"

#define SMTPD_BIN "/usr/sbin/smtpd"

typedef harness_outcome_t outcome_t;

static probe_target_t smtp_target(int family, uint16_t port, uint32_t timeout_ms)
{
    return harness_target(PROBE_KIND_SMTP, NULL, family == AF_INET6 ? "::1" : "127.0.0.1", port,
                          timeout_ms);
}

static outcome_t run_probe(const probe_target_t *t)
{
    return harness_run(NULL, t, 5000);
}

/* ---- fake SMTP servers (a thread with blocking, time-bounded I/O) ---- */

typedef enum fake_mode {
    FAKE_GOOD,          /* multi-line 220, 250 to EHLO, 221 to QUIT */
    FAKE_554,           /* 554 greeting */
    FAKE_GARBAGE,       /* an HTTP error page */
    FAKE_SILENT,        /* accepts, says nothing */
    FAKE_ENDLESS,       /* a line that never ends */
    FAKE_CLOSE_MIDLINE, /* half a greeting, then close */
    FAKE_RESET,         /* accepts, then resets */
    FAKE_EHLO_SILENT,   /* 220, then nothing after EHLO */
    FAKE_EHLO_502,      /* 220, then 502 to EHLO */
    FAKE_UGLY_BANNER,   /* 220 with control and high bytes in the text */
} fake_mode_t;

typedef struct fake {
    fake_mode_t mode;
    int fd;
    uint16_t port;
    pthread_t thread;
    char ehlo[128]; /* the command line the client sent after the greeting */
    int got_quit;
} fake_t;

/* Reads one line (up to LF) with a 3 s bound. Returns its length or -1. */
static int read_line(int c, char *buf, size_t len)
{
    size_t n = 0;
    while (n + 1 < len) {
        struct pollfd p = {.fd = c, .events = POLLIN};
        if (poll(&p, 1, 3000) != 1 || recv(c, buf + n, 1, 0) != 1)
            break;
        if (buf[n++] == '\n') {
            buf[n] = '\0';
            return (int)n;
        }
    }
    buf[n] = '\0';
    return -1;
}

static void say(int c, const char *text)
{
    (void)!send(c, text, strlen(text), MSG_NOSIGNAL);
}

/* Waits (at most 3 s) for the client to close, so the server never closes first. */
static void wait_for_close(int c)
{
    char buf[256];
    for (int i = 0; i < 100; i++) {
        struct pollfd p = {.fd = c, .events = POLLIN};
        if (poll(&p, 1, 3000) != 1 || recv(c, buf, sizeof buf, 0) <= 0)
            return;
    }
}

static void *fake_main(void *arg)
{
    fake_t *f = arg;
    struct pollfd p = {.fd = f->fd, .events = POLLIN};
    if (poll(&p, 1, 3000) != 1)
        return NULL;
    int c = accept(f->fd, NULL, NULL);
    if (c < 0)
        return NULL;
    char line[256];
    switch (f->mode) {
    case FAKE_GOOD:
    case FAKE_EHLO_SILENT:
    case FAKE_EHLO_502:
    case FAKE_UGLY_BANNER:
        if (f->mode == FAKE_GOOD)
            say(c, "220-mx.parallax.test ESMTP\r\n220 no UCE\r\n");
        else if (f->mode == FAKE_UGLY_BANNER)
            say(c, "220 h\x01\xffi\tthere\r\n");
        else
            say(c, "220 mx.parallax.test ESMTP\n");
        if (read_line(c, f->ehlo, sizeof f->ehlo) < 0)
            break;
        if (f->mode == FAKE_EHLO_SILENT) {
            wait_for_close(c);
            break;
        }
        say(c, f->mode == FAKE_EHLO_502 ? "502 5.5.1 not here\r\n"
                                        : "250-mx.parallax.test\r\n250 8BITMIME\r\n");
        if (read_line(c, line, sizeof line) > 0 && strcmp(line, "QUIT\r\n") == 0) {
            f->got_quit = 1;
            say(c, "221 bye\r\n");
        }
        wait_for_close(c);
        break;
    case FAKE_554:
        say(c, "554 5.3.2 mx.parallax.test no service for you\r\n");
        if (read_line(c, line, sizeof line) > 0 && strcmp(line, "QUIT\r\n") == 0)
            f->got_quit = 1;
        wait_for_close(c);
        break;
    case FAKE_GARBAGE:
        say(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        wait_for_close(c);
        break;
    case FAKE_SILENT:
        wait_for_close(c);
        break;
    case FAKE_ENDLESS: {
        char junk[1024];
        memset(junk, 'a', sizeof junk);
        memcpy(junk, "220 ", 4);
        for (int i = 0; i < 64; i++)
            if (send(c, junk, sizeof junk, MSG_NOSIGNAL) < 0)
                break;
        wait_for_close(c);
        break;
    }
    case FAKE_CLOSE_MIDLINE:
        say(c, "220 mx.parallax.te");
        break;
    case FAKE_RESET: {
        struct linger l = {.l_onoff = 1, .l_linger = 0};
        setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        break;
    }
    }
    close(c);
    return NULL;
}

static int fake_start(fake_t *f, fake_mode_t mode)
{
    memset(f, 0, sizeof *f);
    f->mode = mode;
    f->fd = harness_tcp_socket(AF_INET, 1, 4, &f->port);
    if (f->fd < 0)
        return -1;
    return pthread_create(&f->thread, NULL, fake_main, f) == 0 ? 0 : -1;
}

static void fake_stop(fake_t *f)
{
    pthread_join(f->thread, NULL);
    close(f->fd);
}

static outcome_t against_fake(fake_mode_t mode, uint32_t timeout_ms, fake_t *f)
{
    assert_int_equal(fake_start(f, mode), 0);
    probe_target_t t = smtp_target(AF_INET, f->port, timeout_ms);
    outcome_t o = run_probe(&t);
    fake_stop(f);
    assert_int_equal(o.done, 1);
    return o;
}

static void test_fake_good(void **state)
{
    (void)state;
    fake_t f;
    outcome_t o = against_fake(FAKE_GOOD, 2000, &f);
    assert_int_equal(o.res.status, PX_STATUS_OK);
    assert_int_equal(o.res.app_code, 220);
    assert_string_equal(o.res.message, "220-mx.parallax.test ESMTP");
    assert_string_equal(f.ehlo, "EHLO parallax-agent\r\n");
    assert_int_equal(f.got_quit, 1);
    assert_true(o.res.rtt_us > 0);
}

static void test_fake_554(void **state)
{
    (void)state;
    fake_t f;
    outcome_t o = against_fake(FAKE_554, 2000, &f);
    assert_int_equal(o.res.status, PX_STATUS_APP_ERROR);
    assert_int_equal(o.res.app_code, 554);
    assert_non_null(strstr(o.res.message, "554 5.3.2"));
    assert_int_equal(f.got_quit, 1);
}

static void test_fake_ugly_banner_is_sanitised(void **state)
{
    (void)state;
    fake_t f;
    outcome_t o = against_fake(FAKE_UGLY_BANNER, 2000, &f);
    assert_int_equal(o.res.status, PX_STATUS_OK);
    assert_string_equal(o.res.message, "220 h??i?there");
}

static void test_fake_failures(void **state)
{
    (void)state;
    static const struct {
        fake_mode_t mode;
        px_status_t status;
        int app_code;
        const char *why;
    } cases[] = {
        {FAKE_GARBAGE, PX_STATUS_PROTOCOL_ERROR, 0, "reply code"},
        {FAKE_SILENT, PX_STATUS_TIMEOUT, 0, "no complete greeting"},
        {FAKE_ENDLESS, PX_STATUS_PROTOCOL_ERROR, 0, "longer than 512"},
        {FAKE_CLOSE_MIDLINE, PX_STATUS_PROTOCOL_ERROR, 0, "closed before a complete greeting"},
        {FAKE_RESET, PX_STATUS_PROTOCOL_ERROR, 0, "reset"},
        {FAKE_EHLO_SILENT, PX_STATUS_TIMEOUT, 220, "no EHLO reply"},
        {FAKE_EHLO_502, PX_STATUS_APP_ERROR, 220, "EHLO refused: 502"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_t f;
        outcome_t o = against_fake(cases[i].mode, 700, &f);
        assert_int_equal(o.res.status, cases[i].status);
        assert_int_equal(o.res.app_code, cases[i].app_code);
        assert_non_null(strstr(o.res.message, cases[i].why));
    }
}

static void test_closed_port_is_refused(void **state)
{
    (void)state;
    uint16_t port;
    int fd = harness_tcp_socket(AF_INET, 0, 4, &port); /* bound, not listening: a reset */
    assert_true(fd >= 0);
    probe_target_t t = smtp_target(AF_INET, port, 2000);
    outcome_t o = run_probe(&t);
    close(fd);
    assert_int_equal(o.res.status, PX_STATUS_REFUSED);
    assert_int_equal(o.res.app_code, 0);
}

static void test_cancel_in_flight(void **state)
{
    (void)state;
    fake_t f;
    assert_int_equal(fake_start(&f, FAKE_SILENT), 0);
    probe_target_t t = smtp_target(AF_INET, f.port, 300);
    /* Cancelling closes the socket (the fake sees the close and ends); 400 ms more is past
     * the run's timeout: its timer must be gone. */
    assert_int_equal(harness_cancel_after(NULL, &t, 100, 400), 0);
    fake_stop(&f);
}

/* ---- a real OpenSMTPD ---- */

/* OpenSMTPD, run by the harness beside the tests. */
typedef harness_daemon_t smtpd_t;

/* Connects until smtpd listens (at most 50 tries 100 ms apart) or dies. */
static int smtpd_ready(smtpd_t *s)
{
    for (int i = 0; i < 50; i++) {
        if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
            s->pid = 0;
            return 0;
        }
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(s->port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        if (fd >= 0)
            close(fd);
        if (ok)
            return 1;
        poll(NULL, 0, 100);
    }
    return 0;
}

static int smtpd_setup(void **state)
{
    static smtpd_t s;
    memset(&s, 0, sizeof s);
    *state = &s;
    if (access(SMTPD_BIN, X_OK) != 0) {
        snprintf(s.why, sizeof s.why, "%s not installed", SMTPD_BIN);
        return 0;
    }
    if (geteuid() != 0) {
        snprintf(s.why, sizeof s.why, "OpenSMTPD must start as root");
        return 0;
    }
    if (harness_daemon_dir(&s, "smtpd") < 0)
        return 0;
    int fd = harness_tcp_socket(AF_INET, 0, 4, &s.port);
    if (fd < 0) {
        snprintf(s.why, sizeof s.why, "no free port");
        return 0;
    }
    close(fd);
    char conf[512], path[128];
    snprintf(conf, sizeof conf,
             "listen on 127.0.0.1 port %u\n"
             "action \"local\" mbox\n"
             "match from any for any reject\n",
             s.port);
    snprintf(path, sizeof path, "%s/smtpd.conf", s.dir);
    if (harness_daemon_write(&s, "smtpd.conf", conf) < 0)
        return 0;
    char *const argv[] = {SMTPD_BIN, "-d", "-f", path, NULL};
    (void)harness_daemon_start(&s, "smtpd", argv, smtpd_ready); /* the tests report a failure */
    return 0;
}

static int smtpd_teardown(void **state)
{
    harness_daemon_stop(*state);
    return 0;
}

static void test_opensmtpd(void **state)
{
    smtpd_t *s = *state;
    if (s->pid <= 0) {
        PX_SKIP_UNLESS_ROOT(s->why);
    }
    probe_target_t t = smtp_target(AF_INET, s->port, 3000);
    outcome_t o = run_probe(&t);
    assert_int_equal(o.res.status, PX_STATUS_OK);
    assert_int_equal(o.res.app_code, 220);
    assert_non_null(strstr(o.res.message, "220 "));
    assert_non_null(strstr(o.res.message, "OpenSMTPD"));
    /* Twice: the first conversation left the server in a state to take another. */
    o = run_probe(&t);
    assert_int_equal(o.res.status, PX_STATUS_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fake_good),
        cmocka_unit_test(test_fake_554),
        cmocka_unit_test(test_fake_ugly_banner_is_sanitised),
        cmocka_unit_test(test_fake_failures),
        cmocka_unit_test(test_closed_port_is_refused),
        cmocka_unit_test(test_cancel_in_flight),
        cmocka_unit_test(test_opensmtpd),
    };
    return cmocka_run_group_tests(tests, smtpd_setup, smtpd_teardown);
}
