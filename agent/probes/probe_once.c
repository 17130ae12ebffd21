/* probe_once: one probe on a private event loop, its result printed as key=value lines. */
#include "probe_once.h"

#include <event2/event.h>
#include <string.h>

#include "probe.h"
#include "status.h"

typedef struct once {
    struct event_base *base;
    probe_result_t result;
    int done;
} once_t;

static void once_done(const probe_result_t *res, void *arg)
{
    once_t *o = arg;
    o->result = *res;
    o->done = 1;
    event_base_loopbreak(o->base);
}

static void print_result(FILE *out, const probe_result_t *r)
{
    fprintf(out, "status=%s\nrtt_ms=%.3f\napp_code=%d\nmessage=%s\n", status_name(r->status),
            r->rtt_us / 1000.0, (int)r->app_code, r->message);
    if (r->icmp_from[0])
        fprintf(out, "icmp_type=%u\nicmp_code=%u\nicmp_from=%s\n", r->icmp_type, r->icmp_code,
                r->icmp_from);
    if (r->has_http)
        fprintf(out,
                "http_connect_ms=%.3f\nhttp_tls_ms=%.3f\nhttp_first_byte_ms=%.3f\n"
                "http_total_ms=%.3f\n",
                r->http.connect_us / 1000.0, r->http.tls_us / 1000.0,
                r->http.first_byte_us / 1000.0, r->http.total_us / 1000.0);
    if (r->has_tls)
        fprintf(out, "tls_verified=%d\ntls_days_left=%d\ntls_verify_error=%s\n", r->tls.verified,
                (int)r->tls.days_left, r->tls.verify_error);
    if (r->has_dns) {
        fprintf(out, "dns_rcode=%u\ndns_aa=%u\ndns_answers=%u\ndns_over_tcp=%u\n", r->dns.rcode,
                r->dns.aa, r->dns.answers, r->dns.over_tcp);
        if (r->dns.has_soa)
            fprintf(out, "dns_soa_serial=%u\n", r->dns.soa_serial);
    }
    if (r->has_trace) {
        fprintf(out, "trace_reached=%u\ntrace_last_responsive_ttl=%u\ntrace_hops=%u\n",
                r->trace.reached, r->trace.last_responsive_ttl, r->trace.n_hops);
        for (unsigned i = 0; i < r->trace.n_hops && i < PROBE_TRACE_MAX_HOPS; i++)
            fprintf(out, "trace_hop=%u %s %.3f\n", r->trace.hops[i].ttl,
                    r->trace.hops[i].addr[0] ? r->trace.hops[i].addr : "*",
                    r->trace.hops[i].rtt_us / 1000.0);
    }
}

int probe_once(const char *address, const char *spec, uint32_t timeout_ms, FILE *out, err_t *err)
{
    once_t o;
    memset(&o, 0, sizeof o);
    int rc = -1;
    o.base = event_base_new();
    probe_env_t *env = o.base ? probe_env_new(o.base) : NULL;
    if (!env) {
        err_set(err, "out of memory");
        goto out;
    }
    char errbuf[PROBE_MSG_MAX];
    probe_target_t t;
    probe_target_prepare(&t, address, spec, timeout_ms, errbuf);
    if (t.error) {
        err_set(err, "%s", t.error);
        goto out;
    }
    probe_run_t *run = probe_start(env, &t, once_done, &o);
    if (!run) {
        err_set(err, "out of memory");
        goto out;
    }
    /* Every probe ends within its timeout; the loop ends with its done call. */
    event_base_dispatch(o.base);
    if (!o.done) {
        probe_cancel(&run);
        err_set(err, "the probe never reported (a bug: please report it)");
        goto out;
    }
    print_result(out, &o.result);
    rc = o.result.status == PX_STATUS_OK ? 0 : 3;
out:
    probe_env_destroy(&env);
    if (o.base)
        event_base_free(o.base);
    return rc;
}
