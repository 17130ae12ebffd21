/* probe: the registry of probe kinds and the run life cycle shared by all of them. Results
 * are delivered through a zero-timeout event so that no caller ever sees its callback run
 * before probe_start() has returned. */
#include "probe.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "icmp_mux.h"
#include "log.h"
#include "probe_dns.h"
#include "probe_http.h"
#include "probe_icmp.h"
#include "probe_smtp.h"
#include "probe_tcp.h"
#include "probe_trace.h"
#include "tls_check.h"

struct probe_env {
    struct event_base *base;
    icmp_mux_t *icmp4;
    icmp_mux_t *icmp6;
    tls_check_ctx_t *tls;
};

/* A run is RUNNING until probe_done(), then DONE until the delivery event fires. */
typedef enum run_state { RUN_RUNNING, RUN_DONE } run_state_t;

struct probe_run {
    probe_env_t *env;
    const probe_ops_t *ops; /* NULL for runs that only report target->error */
    probe_target_t target;
    run_state_t state;
    void *kind_state;
    probe_done_fn done;
    void *arg;
    struct event *deliver;
    probe_result_t result;
};

/* Adding a kind means adding its ops here; nothing else in the agent changes. */
static const probe_ops_t *const registry[] = {&probe_icmp_ops, &probe_tcp_ops,   &probe_dns_ops,
                                              &probe_smtp_ops, &probe_trace_ops, &probe_http_ops,
                                              &probe_https_ops};

probe_env_t *probe_env_new(struct event_base *base)
{
    probe_env_t *env = calloc(1, sizeof *env);
    if (!env)
        return NULL;
    env->base = base;
    return env;
}

void probe_env_destroy(probe_env_t **env)
{
    if (!env || !*env)
        return;
    icmp_mux_destroy(&(*env)->icmp4);
    icmp_mux_destroy(&(*env)->icmp6);
    tls_check_ctx_destroy(&(*env)->tls);
    free(*env);
    *env = NULL;
}

struct event_base *probe_env_base(probe_env_t *env)
{
    return env->base;
}

tls_check_ctx_t *probe_env_tls(probe_env_t *env, err_t *err)
{
    /* On first use: setting up OpenSSL costs an agent without https probes ~7 MiB of memory
     * (agent_rss: 19 MiB made at start, 12 MiB without). */
    if (!env->tls)
        env->tls = tls_check_ctx_new(err);
    return env->tls;
}

icmp_mux_t *probe_env_icmp(probe_env_t *env, int family, err_t *err)
{
    icmp_mux_t **slot = family == AF_INET6 ? &env->icmp6 : &env->icmp4;
    if (!*slot) {
        /* Retried on every run while it fails: a capability granted later starts working
         * without a restart, and a failing socket() call is cheap. */
        *slot = icmp_mux_new(env->base, family, err);
        if (*slot)
            log_info("icmp%s: using a %s socket", family == AF_INET6 ? "v6" : "",
                     icmp_mux_mode(*slot));
    }
    return *slot;
}

const probe_ops_t *probe_ops_find(probe_kind_t kind)
{
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
        if (registry[i]->kind == kind)
            return registry[i];
    return NULL;
}

uint32_t probe_max_packets(probe_kind_t kind)
{
    const probe_ops_t *ops = probe_ops_find(kind);
    return ops && ops->max_packets > 1 ? ops->max_packets : 1;
}

size_t probe_kinds(const char **names, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof registry / sizeof registry[0] && n < max; i++)
        names[n++] = probespec_kind_name(registry[i]->kind);
    return n;
}

static void run_free(probe_run_t *run)
{
    if (run->deliver)
        event_free(run->deliver);
    free(run);
}

static void deliver_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    probe_run_t *run = arg;
    run->done(&run->result, run->arg);
    run_free(run);
}

probe_run_t *probe_start(probe_env_t *env, const probe_target_t *target, probe_done_fn done,
                         void *arg)
{
    probe_run_t *run = calloc(1, sizeof *run);
    if (!run)
        return NULL;
    run->env = env;
    run->target = *target;
    run->target.error = NULL;
    run->done = done;
    run->arg = arg;
    run->state = RUN_RUNNING;
    run->deliver = evtimer_new(env->base, deliver_cb, run);
    if (!run->deliver) {
        free(run);
        return NULL;
    }
    if (target->error) {
        probe_done_status(run, PX_STATUS_LOCAL_ERROR, 0, "%s", target->error);
        return run;
    }
    run->ops = probe_ops_find(target->kind);
    if (!run->ops) {
        probe_done_status(run, PX_STATUS_LOCAL_ERROR, 0,
                          "probe kind '%s' not supported by this agent",
                          probespec_kind_name(target->kind));
        return run;
    }
    run->ops->start(run);
    return run;
}

void probe_done(probe_run_t *run, const probe_result_t *res)
{
    /* A second probe_done() is a bug in a probe kind; ignoring it keeps "exactly one result
     * per run" true for the caller. */
    if (run->state != RUN_RUNNING) {
        log_error("probe: a %s run reported twice; ignoring the second result",
                  probespec_kind_name(run->target.kind));
        return;
    }
    run->state = RUN_DONE;
    run->result = *res;
    run->result.kind = run->target.kind;
    if (run->ops)
        run->ops->release(run);
    run->kind_state = NULL;
    event_active(run->deliver, EV_TIMEOUT, 0);
}

void probe_done_status(probe_run_t *run, px_status_t status, uint32_t rtt_us, const char *fmt, ...)
{
    probe_result_t res;
    memset(&res, 0, sizeof res);
    res.status = status;
    res.rtt_us = rtt_us;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res.message, sizeof res.message, fmt, ap);
    va_end(ap);
    probe_done(run, &res);
}

int probe_result_set_detail(probe_result_t *res, const void *detail, size_t len)
{
    if (len > sizeof res->detail)
        return -1;
    memcpy(res->detail, detail, len);
    res->detail_len = (uint16_t)len;
    return 0;
}

int probe_result_get_detail(const probe_result_t *res, void *out, size_t len)
{
    if (!res->detail_len || res->detail_len != len)
        return -1;
    if (out)
        memcpy(out, res->detail, len);
    return 0;
}

void probe_cancel(probe_run_t **run)
{
    if (!run || !*run)
        return;
    probe_run_t *r = *run;
    if (r->state == RUN_RUNNING && r->ops)
        r->ops->release(r);
    /* event_free() also removes a pending delivery, so done() can no longer fire. */
    run_free(r);
    *run = NULL;
}

const probe_target_t *probe_run_target(const probe_run_t *run)
{
    return &run->target;
}

probe_env_t *probe_run_env(probe_run_t *run)
{
    return run->env;
}

void *probe_run_state(const probe_run_t *run)
{
    return run->kind_state;
}

void probe_run_set_state(probe_run_t *run, void *state)
{
    run->kind_state = state;
}

const char *probe_addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
    const void *src = sa->sa_family == AF_INET6
                          ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                          : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
    if (!inet_ntop(sa->sa_family, src, buf, (socklen_t)len))
        snprintf(buf, len, "?");
    return buf;
}

void probe_target_prepare(probe_target_t *t, const char *address, const char *spec,
                          uint32_t timeout_ms, char *errbuf)
{
    memset(t, 0, sizeof *t);
    t->timeout_ms = timeout_ms;
    t->spec = spec;
    errbuf[0] = '\0';
    if (inet_pton(AF_INET, address, &t->addr.v4.sin_addr) == 1) {
        t->addr.v4.sin_family = AF_INET;
        t->addrlen = sizeof t->addr.v4;
    } else if (inet_pton(AF_INET6, address, &t->addr.v6.sin6_addr) == 1) {
        t->addr.v6.sin6_family = AF_INET6;
        t->addrlen = sizeof t->addr.v6;
    } else {
        snprintf(errbuf, PROBE_MSG_MAX, "invalid address '%.64s'", address);
        t->error = errbuf;
        return;
    }
    probespec_t ps;
    err_t err = {{0}};
    if (probespec_parse(spec, &ps, &err) < 0)
        snprintf(errbuf, PROBE_MSG_MAX, "bad probe spec: %.200s", err.msg);
    else if (!probe_ops_find(ps.kind))
        snprintf(errbuf, PROBE_MSG_MAX, "probe kind '%s' not supported by this agent",
                 probespec_kind_name(ps.kind));
    if (errbuf[0]) {
        t->error = errbuf;
        return;
    }
    t->kind = ps.kind;
    t->port = ps.port;
}
