/* result_wire: turns a probe's result record into the wire's Result message, details
 * included, without allocating: every nested message lives in one caller-provided struct. */
#ifndef PX_RESULT_WIRE_H
#define PX_RESULT_WIRE_H

#include "parallax.pb-c.h"
#include "probe.h"

typedef struct result_wire {
    Parallax__Result res;
    Parallax__HttpTiming http;
    Parallax__TlsInfo tls;
    Parallax__DnsInfo dns;
    Parallax__TraceInfo trace;
    Parallax__TraceHop hops[PROBE_TRACE_MAX_HOPS];
    Parallax__TraceHop *hop_ptrs[PROBE_TRACE_MAX_HOPS];
} result_wire_t;

/* Fills w->res from pr. w->res points into w and into pr (strings): both must outlive any use
 * of w->res. */
void result_wire_fill(result_wire_t *w, const probe_result_t *pr, uint64_t probe_id, int64_t ts_us,
                      int control);

#endif
