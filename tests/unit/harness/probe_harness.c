/* probe_harness: one probe run to its end for the unit tests, loopback sockets, and servers
 * run beside a test. */
#include "probe_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "status.h"
#include "timeutil.h"

probe_target_t harness_target(probe_kind_t kind, const char *spec, const char *addr, uint16_t port,
                              uint32_t timeout_ms)
{
    probe_target_t t;
    memset(&t, 0, sizeof t);
    t.kind = kind;
    t.spec = spec;
    t.port = port;
    t.timeout_ms = timeout_ms;
    if (strchr(addr, ':')) {
        t.addr.v6.sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, addr, &t.addr.v6.sin6_addr), 1);
        t.addrlen = sizeof t.addr.v6;
    } else {
        t.addr.v4.sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, addr, &t.addr.v4.sin_addr), 1);
        t.addrlen = sizeof t.addr.v4;
    }
    return t;
}

typedef struct run_ctx {
    harness_outcome_t *out;
    struct event_base *base;
} run_ctx_t;

static void on_done(const probe_result_t *res, void *arg)
{
    run_ctx_t *ctx = arg;
    ctx->out->done++;
    ctx->out->res = *res;
    event_base_loopbreak(ctx->base);
}

/* Runs base's loop for ms milliseconds (or until something breaks it). */
static void run_for(struct event_base *base, int64_t ms)
{
    struct timeval limit = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    event_base_loopexit(base, &limit);
    event_base_dispatch(base);
}

harness_outcome_t harness_run(struct event_base *base, const probe_target_t *t, int64_t limit_ms)
{
    harness_outcome_t o;
    memset(&o, 0, sizeof o);
    run_ctx_t ctx = {&o, base ? base : event_base_new()};
    assert_non_null(ctx.base);
    probe_env_t *env = probe_env_new(ctx.base);
    assert_non_null(env);
    int64_t start = time_mono_us();
    probe_run_t *run = probe_start(env, t, on_done, &ctx);
    assert_non_null(run);
    assert_int_equal(o.done, 0); /* never from inside probe_start() */
    run_for(ctx.base, limit_ms);
    o.elapsed_us = time_mono_us() - start;
    if (!o.done)
        probe_cancel(&run);
    probe_env_destroy(&env);
    if (!base)
        event_base_free(ctx.base);
    if (o.done)
        print_message("  -> %s: %s (app_code %d, %lld ms)\n", status_name(o.res.status),
                      o.res.message, o.res.app_code, (long long)(o.elapsed_us / 1000));
    else
        print_message("  -> no result within %lld ms: cancelled\n", (long long)limit_ms);
    return o;
}

/* Records one of many runs' report without stopping the loop. */
static void on_done_many(const probe_result_t *res, void *arg)
{
    harness_outcome_t *o = arg;
    o->done++;
    o->res = *res;
}

size_t harness_run_many(const probe_target_t *t, size_t n, harness_outcome_t *out, int64_t limit_ms)
{
    struct event_base *base = event_base_new();
    assert_non_null(base);
    probe_env_t *env = probe_env_new(base);
    assert_non_null(env);
    probe_run_t **runs = calloc(n, sizeof *runs);
    assert_non_null(runs);
    int64_t start = time_mono_us(), until = start + limit_ms * 1000;
    for (size_t i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        runs[i] = probe_start(env, &t[i], on_done_many, &out[i]);
        assert_non_null(runs[i]);
    }
    size_t finished = 0;
    while (finished < n && time_mono_us() < until) {
        event_base_loop(base, EVLOOP_ONCE);
        finished = 0;
        for (size_t i = 0; i < n; i++)
            finished += out[i].done > 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!out[i].done)
            probe_cancel(&runs[i]);
        out[i].elapsed_us = time_mono_us() - start;
    }
    free(runs);
    probe_env_destroy(&env);
    event_base_free(base);
    return finished;
}

int harness_cancel_after(struct event_base *base, const probe_target_t *t, int64_t run_ms,
                         int64_t after_ms)
{
    harness_outcome_t o;
    memset(&o, 0, sizeof o);
    run_ctx_t ctx = {&o, base ? base : event_base_new()};
    assert_non_null(ctx.base);
    probe_env_t *env = probe_env_new(ctx.base);
    assert_non_null(env);
    probe_run_t *run = probe_start(env, t, on_done, &ctx);
    assert_non_null(run);
    if (run_ms > 0) /* 0: cancelled before the loop ever runs, a result already pending */
        run_for(ctx.base, run_ms);
    if (!o.done) {
        probe_cancel(&run);
        assert_null(run);
        probe_cancel(&run); /* idempotent */
    }
    run_for(ctx.base, after_ms);
    probe_env_destroy(&env);
    if (!base)
        event_base_free(ctx.base);
    return o.done;
}

int harness_tcp_socket(int family, int listening, int backlog, uint16_t *port)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    probe_addr_t a;
    memset(&a, 0, sizeof a);
    socklen_t len;
    if (family == AF_INET6) {
        a.v6.sin6_family = AF_INET6;
        a.v6.sin6_addr = in6addr_loopback;
        len = sizeof a.v6;
    } else {
        a.v4.sin_family = AF_INET;
        a.v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof a.v4;
    }
    if (bind(fd, &a.sa, len) < 0 || (listening && listen(fd, backlog) < 0) ||
        getsockname(fd, &a.sa, &len) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    *port = ntohs(family == AF_INET6 ? a.v6.sin6_port : a.v4.sin_port);
    return fd;
}

void harness_need_detail(int rc, const probe_result_t *r, const char *kind)
{
    if (rc < 0)
        fail_msg("no %s details: %s", kind, r->message);
}

int harness_daemon_dir(harness_daemon_t *d, const char *name)
{
    snprintf(d->dir, sizeof d->dir, "/tmp/px-test-%s-XXXXXX", name);
    if (!mkdtemp(d->dir)) {
        snprintf(d->why, sizeof d->why, "mkdtemp: %s", strerror(errno));
        d->dir[0] = '\0';
        return -1;
    }
    return 0;
}

int harness_daemon_write(harness_daemon_t *d, const char *name, const char *text)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", d->dir, name);
    FILE *f = fopen(path, "w");
    int failed = !f || fputs(text, f) < 0;
    if ((f && fclose(f) != 0) || failed) {
        snprintf(d->why, sizeof d->why, "cannot write %s", path);
        return -1;
    }
    return 0;
}

int harness_daemon_start(harness_daemon_t *d, const char *what, char *const argv[],
                         int (*ready)(harness_daemon_t *d))
{
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(d->why, sizeof d->why, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        /* The server dies with the test, however the test ends. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        char out[128];
        snprintf(out, sizeof out, "%s/stderr", d->dir);
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    d->pid = pid;
    if (ready(d))
        return 0;
    /* Typically another instance holds a socket it needs, or a user it drops to is missing;
     * its own words are in the stderr file. */
    snprintf(d->why, sizeof d->why, "%s did not start answering (see %s/stderr)", what, d->dir);
    if (d->pid > 0) {
        kill(d->pid, SIGKILL);
        waitpid(d->pid, NULL, 0);
    }
    d->pid = 0;
    return -1;
}

void harness_daemon_stop(harness_daemon_t *d)
{
    if (d->pid > 0) {
        kill(d->pid, SIGTERM);
        waitpid(d->pid, NULL, 0);
        d->pid = 0;
    }
    if (d->dir[0] && !d->why[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", d->dir);
        (void)!system(cmd);
    }
}
