/* target_deny: the agent's deny-list of probe addresses. */
#include "target_deny.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "log.h"

typedef struct net4 {
    uint32_t addr;
    int bits;
    const char *why;
} net4_t;

/* The metadata addresses first: they fall inside wider ranges with less telling names. */
static const net4_t deny4[] = {
    {0xA9FEA9FEu, 32, "cloud metadata service"}, /* 169.254.169.254 */
    {0x646464C8u, 32, "cloud metadata service"}, /* 100.100.100.200 (Alibaba) */
    {0xA83F8110u, 32, "cloud metadata service"}, /* 168.63.129.16 (Azure) */
    {0x00000000u, 8, "unspecified or this network"},
    {0x7F000000u, 8, "loopback"},
    {0xA9FE0000u, 16, "link-local"},
    {0xE0000000u, 4, "multicast"},
    {0xFFFFFFFFu, 32, "broadcast"},
};

static const char *deny_v4(uint32_t a)
{
    for (size_t i = 0; i < sizeof deny4 / sizeof deny4[0]; i++) {
        uint32_t mask = deny4[i].bits ? 0xFFFFFFFFu << (32 - deny4[i].bits) : 0;
        if ((a & mask) == (deny4[i].addr & mask))
            return deny4[i].why;
    }
    return NULL;
}

const char *target_deny_reason(const char *address)
{
    struct in_addr v4;
    struct in6_addr v6;
    if (!address)
        return NULL;
    if (inet_pton(AF_INET, address, &v4) == 1)
        return deny_v4(ntohl(v4.s_addr));
    if (inet_pton(AF_INET6, address, &v6) != 1)
        return NULL;
    const uint8_t *b = v6.s6_addr;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(b, mapped, sizeof mapped) == 0)
        return deny_v4((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 |
                       b[15]);
    /* fd00:ec2::254 (AWS's metadata service over IPv6). */
    static const uint8_t aws[16] = {0xfd, 0, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54};
    if (memcmp(b, aws, sizeof aws) == 0)
        return "cloud metadata service";
    if (IN6_IS_ADDR_LOOPBACK(&v6))
        return "loopback";
    if (IN6_IS_ADDR_UNSPECIFIED(&v6))
        return "unspecified or this network";
    if (IN6_IS_ADDR_LINKLOCAL(&v6))
        return "link-local";
    if (IN6_IS_ADDR_MULTICAST(&v6))
        return "multicast";
    return NULL;
}

int target_nets_add(target_nets_t *nets, int family, const void *addr, int bits)
{
    if (nets->n == TARGET_NETS_MAX)
        return -1;
    nets->net[nets->n].family = family;
    memset(nets->net[nets->n].addr, 0, sizeof nets->net[nets->n].addr);
    memcpy(nets->net[nets->n].addr, addr, family == AF_INET ? 4 : 16);
    nets->net[nets->n].bits = bits;
    nets->n++;
    return 0;
}

/* The prefix length of a netmask (its leading one bits). */
static int mask_bits(const uint8_t *mask, size_t len)
{
    int bits = 0;
    for (size_t i = 0; i < len; i++)
        for (int b = 7; b >= 0 && (mask[i] >> b & 1); b--)
            bits++;
    return bits;
}

int target_nets_local(target_nets_t *nets, err_t *err)
{
    struct ifaddrs *list;
    nets->n = 0;
    if (getifaddrs(&list) != 0) {
        err_set(err, "cannot list this host's interfaces: %s", strerror(errno));
        return -1;
    }
    size_t skipped = 0;
    for (struct ifaddrs *i = list; i; i = i->ifa_next) {
        if (!i->ifa_addr || !i->ifa_netmask || !(i->ifa_flags & IFF_UP))
            continue;
        int family = i->ifa_addr->sa_family, rc = 0;
        if (family == AF_INET) {
            const struct sockaddr_in *a = (const void *)i->ifa_addr;
            const struct sockaddr_in *m = (const void *)i->ifa_netmask;
            rc = target_nets_add(nets, AF_INET, &a->sin_addr,
                                 mask_bits((const uint8_t *)&m->sin_addr, 4));
        } else if (family == AF_INET6) {
            const struct sockaddr_in6 *a = (const void *)i->ifa_addr;
            const struct sockaddr_in6 *m = (const void *)i->ifa_netmask;
            rc =
                target_nets_add(nets, AF_INET6, &a->sin6_addr, mask_bits(m->sin6_addr.s6_addr, 16));
        } else {
            continue;
        }
        skipped += rc < 0;
    }
    freeifaddrs(list);
    if (skipped)
        log_warn("deny: %zu of this host's networks beyond the first %d not on the deny-list",
                 skipped, TARGET_NETS_MAX);
    return 0;
}

int target_nets_contain(const target_nets_t *nets, const char *address)
{
    uint8_t a[16];
    int family;
    if (!address)
        return 0;
    if (inet_pton(AF_INET, address, a) == 1)
        family = AF_INET;
    else if (inet_pton(AF_INET6, address, a) == 1)
        family = AF_INET6;
    else
        return 0;
    for (size_t i = 0; i < nets->n; i++) {
        if (nets->net[i].family != family)
            continue;
        int bits = nets->net[i].bits, whole = bits / 8, rest = bits % 8;
        if (memcmp(a, nets->net[i].addr, (size_t)whole) != 0)
            continue;
        uint8_t mask = (uint8_t)(0xFF << (8 - rest));
        if (rest == 0 || (a[whole] & mask) == (nets->net[i].addr[whole] & mask))
            return 1;
    }
    return 0;
}
