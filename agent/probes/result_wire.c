/* result_wire: probe_result_t -> Parallax__Result. */
#include "result_wire.h"

void result_wire_fill(result_wire_t *w, const probe_result_t *pr, uint64_t probe_id, int64_t ts_us,
                      int control)
{
    Parallax__Result *r = &w->res;
    parallax__result__init(r);
    r->probe_id = probe_id;
    r->ts_us = ts_us;
    r->status = (Parallax__Status)pr->status;
    r->rtt_us = pr->rtt_us;
    r->message = (char *)pr->message;
    r->icmp_type = pr->icmp_type;
    r->icmp_code = pr->icmp_code;
    r->icmp_from = (char *)pr->icmp_from;
    r->app_code = pr->app_code;
    r->control = control;
    if (pr->has_http) {
        parallax__http_timing__init(&w->http);
        w->http.connect_us = pr->http.connect_us;
        w->http.tls_us = pr->http.tls_us;
        w->http.first_byte_us = pr->http.first_byte_us;
        w->http.total_us = pr->http.total_us;
        r->http = &w->http;
    }
    if (pr->has_tls) {
        parallax__tls_info__init(&w->tls);
        w->tls.verified = pr->tls.verified;
        w->tls.days_left = pr->tls.days_left;
        w->tls.verify_error = (char *)pr->tls.verify_error;
        r->tls = &w->tls;
    }
    if (pr->has_dns) {
        parallax__dns_info__init(&w->dns);
        w->dns.rcode = pr->dns.rcode;
        w->dns.aa = pr->dns.aa;
        w->dns.answers = pr->dns.answers;
        w->dns.has_soa = pr->dns.has_soa;
        w->dns.soa_serial = pr->dns.soa_serial;
        w->dns.over_tcp = pr->dns.over_tcp;
        r->dns = &w->dns;
    }
    if (pr->has_trace) {
        parallax__trace_info__init(&w->trace);
        size_t n =
            pr->trace.n_hops < PROBE_TRACE_MAX_HOPS ? pr->trace.n_hops : PROBE_TRACE_MAX_HOPS;
        for (size_t i = 0; i < n; i++) {
            parallax__trace_hop__init(&w->hops[i]);
            w->hops[i].ttl = pr->trace.hops[i].ttl;
            w->hops[i].address = (char *)pr->trace.hops[i].addr;
            w->hops[i].rtt_us = pr->trace.hops[i].rtt_us;
            w->hop_ptrs[i] = &w->hops[i];
        }
        w->trace.n_hops = n;
        w->trace.hops = w->hop_ptrs;
        w->trace.reached = pr->trace.reached;
        w->trace.last_responsive_ttl = pr->trace.last_responsive_ttl;
        r->trace = &w->trace;
    }
}
