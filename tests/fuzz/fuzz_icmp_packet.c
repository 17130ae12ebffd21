/* fuzz_icmp_packet: fuzz target for icmp_packet_parse(), which reads whatever arrives on the
 * agent's raw ICMP sockets. The first input byte picks the family and whether an IPv4 header
 * leads; the rest is the packet. Parsing must never read out of bounds, and what it reports
 * must be consistent with the kind it returns. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "icmp_packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int family = (data[0] & 1) ? AF_INET6 : AF_INET;
    int with_ip = family == AF_INET && (data[0] & 2);
    /* A copy of exactly the packet's length, so ASan sees any read past its end. */
    size_t len = size - 1;
    uint8_t *pkt = malloc(len ? len : 1);
    if (!pkt)
        return 0;
    memcpy(pkt, data + 1, len);
    icmp_packet_t out;
    memset(&out, 0xa5, sizeof out);
    icmp_packet_kind_t kind = icmp_packet_parse(family, with_ip, pkt, len, &out);
    if (kind != out.kind)
        abort();
    if (kind != ICMP_PACKET_IGNORE && len < 8)
        abort(); /* nothing shorter than an ICMP header can be an echo reply or error */
    free(pkt);
    return 0;
}
