/* target_deny: the addresses an agent will not probe unless the operator allowed it for that
 * target (`parallaxctl target add --allow-internal`, Probe.allow_internal): the host itself
 * (loopback, unspecified), its link (link-local, multicast, broadcast) and the cloud
 * metadata services (169.254.169.254, fd00:ec2::254, 100.100.100.200, 168.63.129.16), which
 * hold a VPS's credentials. A schedule is trusted input, but one mistyped or stolen
 * database row must not turn every vantage into a scanner of its own host and provider.
 * Pure: unit-tested without sockets. */
#ifndef PX_TARGET_DENY_H
#define PX_TARGET_DENY_H

#include <stddef.h>

/* Why address (an IPv4 or IPv6 literal) is denied — "loopback", "link-local",
 * "cloud metadata service", ... — or NULL if it may be probed. An IPv4-mapped IPv6 address
 * is judged by its IPv4 address. An address that does not parse is not denied here (the
 * probe reports it as a local error). */
const char *target_deny_reason(const char *address);

#endif
