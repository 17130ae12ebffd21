/* probe_once: one probe on a private event loop, its result printed as key=value lines. */
#include "probe_once.h"

#include <event2/event.h>
#include <string.h>

#include "probe.h"
#include "result_detail.h"
#include "result_wire.h"
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

/* The common fields, then the kind's details as its encode() puts them on the wire, printed
 * from the .proto's descriptors: what the coordinator would store, in key=value lines. */
static int print_result(FILE *out, const probe_result_t *r)
{
    fprintf(out, "status=%s\nrtt_ms=%.3f\napp_code=%d\nmessage=%s\n", status_name(r->status),
            r->rtt_us / 1000.0, (int)r->app_code, r->message);
    if (r->icmp_from[0])
        fprintf(out, "icmp_type=%u\nicmp_code=%u\nicmp_from=%s\n", r->icmp_type, r->icmp_code,
                r->icmp_from);
    result_wire_t w;
    result_wire_fill(&w, r, 1, 0, 0);
    return result_detail_print(&w.res, out);
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
    if (print_result(out, &o.result) < 0) {
        err_set(err, "cannot write the result");
        goto out;
    }
    rc = o.result.status == PX_STATUS_OK ? 0 : 3;
out:
    probe_env_destroy(&env);
    if (o.base)
        event_base_free(o.base);
    return rc;
}
