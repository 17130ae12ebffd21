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
#include <stdint.h>

#include "err.h"

#define TARGET_NETS_MAX 64

/* Why address (an IPv4 or IPv6 literal) is denied — "loopback", "link-local",
 * "cloud metadata service", ... — or NULL if it may be probed. An IPv4-mapped IPv6 address
 * is judged by its IPv4 address. An address that does not parse is not denied here (the
 * probe reports it as a local error). */
const char *target_deny_reason(const char *address);

/* Networks (address and prefix length), e.g. this host's own: with `deny_own_networks` an
 * agent does not probe its neighbours on its provider's network either. */
typedef struct target_nets {
    size_t n;
    struct {
        int family; /* AF_INET or AF_INET6 */
        uint8_t addr[16];
        int bits;
    } net[TARGET_NETS_MAX];
} target_nets_t;

/* Fills *nets with the networks of this host's interfaces that are up (getifaddrs), at most
 * TARGET_NETS_MAX (the rest are left out, with a warning). Returns 0, or -1 with err. */
int target_nets_local(target_nets_t *nets, err_t *err);

/* Adds family/addr/bits to *nets. Returns 0, or -1 if it is full. */
int target_nets_add(target_nets_t *nets, int family, const void *addr, int bits);

/* 1 if address (an IPv4 or IPv6 literal) lies in one of nets, else 0 (also if it does not
 * parse). */
int target_nets_contain(const target_nets_t *nets, const char *address);

#endif
