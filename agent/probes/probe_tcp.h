/* probe_tcp: the `tcp:PORT` probe kind: a non-blocking connect. OK with the connect time,
 * REFUSED on a reset (the host is alive), UNREACHABLE when an ICMP error aborts the connect,
 * TIMEOUT, or LOCAL_ERROR when the vantage itself cannot even try. */
#ifndef PX_PROBE_TCP_H
#define PX_PROBE_TCP_H

#include "probe.h"

extern const probe_ops_t probe_tcp_ops;

#endif
