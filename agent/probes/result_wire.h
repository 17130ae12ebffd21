/* result_wire: turns a probe's result record into the wire's Result message without
 * allocating: the common fields here, the details by the kind's own ops' encode(), whose
 * nested messages live in room this struct provides. It knows no kind. */
#ifndef PX_RESULT_WIRE_H
#define PX_RESULT_WIRE_H

#include <stddef.h>

#include "parallax.pb-c.h"
#include "probe.h"

/* Room for one result's detail messages: a copy of the kind's detail struct and the messages
 * pointing into it (the trace kind's 64 hops take about 8 KiB in all). */
#define RESULT_WIRE_ROOM (16 * 1024)

struct result_wire {
    Parallax__Result res;
    size_t used;
    _Alignas(max_align_t) unsigned char room[RESULT_WIRE_ROOM];
};

/* Fills w->res from pr, details included. w->res points into w and into pr (strings): both
 * must outlive any use of w->res. */
void result_wire_fill(result_wire_t *w, const probe_result_t *pr, uint64_t probe_id, int64_t ts_us,
                      int control);

/* For kinds' encode(): size bytes of zeroed room in w, aligned for any type and living as long
 * as w. Returns NULL when w has no more room. */
void *result_wire_alloc(result_wire_t *w, size_t size);

#endif
