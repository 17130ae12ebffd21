/* probe_icmp: the `icmp` probe kind: one echo request through the shared ICMP socket of the
 * target's family; OK with the round-trip time, UNREACHABLE with the ICMP error's type, code
 * and reporting router, TIMEOUT, or LOCAL_ERROR when no ICMP socket can be had. */
#ifndef PX_PROBE_ICMP_H
#define PX_PROBE_ICMP_H

#include "probe.h"

extern const probe_ops_t probe_icmp_ops;

#endif
