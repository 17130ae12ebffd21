/* probe_tcp: the `tcp:PORT` probe kind: a non-blocking connect. OK with the connect time,
 * REFUSED on a reset (the host is alive), UNREACHABLE when an ICMP error aborts the connect,
 * TIMEOUT, or LOCAL_ERROR when the vantage itself cannot even try. */
#ifndef PX_PROBE_TCP_H
#define PX_PROBE_TCP_H

#include "probe.h"

extern const probe_ops_t probe_tcp_ops;

/* Status a failed connect maps to; immediate says connect() itself failed (as opposed to
 * the error arriving later through SO_ERROR), which makes no-route errors local. */
px_status_t probe_tcp_status_for_errno(int err, int immediate);

#endif
