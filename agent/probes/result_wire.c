/* result_wire: probe_result_t -> Parallax__Result; the details go through the kind's ops. */
#include "result_wire.h"

#include <string.h>

#include "log.h"

void *result_wire_alloc(result_wire_t *w, size_t size)
{
    size_t align = _Alignof(max_align_t);
    size_t at = (w->used + align - 1) / align * align;
    if (at > sizeof w->room || size > sizeof w->room - at)
        return NULL;
    w->used = at + size;
    memset(w->room + at, 0, size);
    return w->room + at;
}

void result_wire_fill(result_wire_t *w, const probe_result_t *pr, uint64_t probe_id, int64_t ts_us,
                      int control)
{
    Parallax__Result *r = &w->res;
    parallax__result__init(r);
    w->used = 0;
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
    if (!pr->detail_len)
        return;
    const probe_ops_t *ops = probe_ops_find(pr->kind);
    /* Room is sized for the largest kind, so a failure is a kind outgrowing it: the result
     * still goes out, without its details, and the log says why. */
    if (ops && ops->encode && ops->encode(pr, w) < 0)
        log_error("probe %llu: the %s details do not fit the wire message; sent without them",
                  (unsigned long long)probe_id, probespec_kind_name(pr->kind));
}
