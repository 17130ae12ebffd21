/* target_deny: the agent's deny-list of probe addresses. */
#include "target_deny.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

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
