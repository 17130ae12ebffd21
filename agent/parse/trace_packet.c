/* trace_packet: byte-level Paris traceroute. The constant checksum is reached with ones'
 * complement arithmetic: the payload's first word is whatever makes the sum come out right. */
#include "trace_packet.h"

#include <string.h>
#include <sys/socket.h>

#define ICMP4_DEST_UNREACH 3
#define ICMP4_TIME_EXCEEDED 11
#define ICMP4_PORT_UNREACH 3
#define ICMP6_DEST_UNREACH_T 1
#define ICMP6_TIME_EXCEEDED_T 3
#define ICMP6_PORT_UNREACH 4
#define ICMP_HEADER_LEN 8
#define IPV6_HEADER_LEN 40
#define PROTO_ICMP 1
#define PROTO_UDP 17

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

/* Adds len bytes as big-endian 16-bit words (an odd tail padded with zero) to sum. */
static uint32_t sum_bytes(uint32_t sum, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += be16(p + i);
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    /* Folding as we go keeps the 32-bit accumulator from overflowing on long inputs. */
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return sum;
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* Ones' complement sum of pseudo-header, UDP header (checksum field zero) and payload. */
static uint16_t flow_sum(const trace_packet_flow_t *flow, const uint8_t *payload, size_t len)
{
    uint32_t udp_len = (uint32_t)(TRACE_PACKET_UDP_HEADER + len);
    size_t alen = flow->family == AF_INET6 ? 16 : 4;
    uint32_t sum = 0;
    sum = sum_bytes(sum, flow->src, alen);
    sum = sum_bytes(sum, flow->dst, alen);
    /* IPv4: zero, protocol, UDP length; IPv6: 32-bit length, zeros, next header. Either way
     * the words add up to protocol + length. */
    sum += PROTO_UDP + (udp_len & 0xffff) + (udp_len >> 16);
    uint8_t hdr[TRACE_PACKET_UDP_HEADER] = {(uint8_t)(flow->sport >> 8),
                                            (uint8_t)flow->sport,
                                            (uint8_t)(flow->dport >> 8),
                                            (uint8_t)flow->dport,
                                            (uint8_t)(udp_len >> 8),
                                            (uint8_t)udp_len,
                                            0,
                                            0};
    sum = sum_bytes(sum, hdr, sizeof hdr);
    sum = sum_bytes(sum, payload, len);
    return fold(sum);
}

uint16_t trace_packet_udp_checksum(const trace_packet_flow_t *flow, const uint8_t *payload,
                                   size_t len)
{
    uint16_t ck = (uint16_t)~flow_sum(flow, payload, len);
    return ck ? ck : 0xffff;
}

size_t trace_packet_build_payload(const trace_packet_flow_t *flow, unsigned seq, uint8_t *buf,
                                  size_t len)
{
    static const char pattern[] = "PARALLAX-TRACE";
    size_t n = (size_t)TRACE_PACKET_PAYLOAD_MIN + seq;
    if (seq > TRACE_PACKET_SEQ_MAX || n > len || flow->checksum == 0 || flow->checksum == 0xffff)
        return 0;
    buf[0] = 0;
    buf[1] = 0;
    buf[2] = (uint8_t)seq; /* for humans reading a capture; the length is what identifies */
    for (size_t i = 3; i < n; i++)
        buf[i] = (uint8_t)pattern[(i - 3) % (sizeof pattern - 1)];
    /* Wanted: the folded sum S + w equals ~checksum, so w = ~checksum - S in ones'
     * complement, i.e. ~checksum + ~S. Since ~checksum is neither 0 nor 0xffff, the folded
     * result is exactly ~checksum and the kernel's checksum is exactly flow->checksum. */
    uint16_t s = flow_sum(flow, buf, n);
    uint16_t w = fold((uint32_t)(uint16_t)~flow->checksum + (uint16_t)~s);
    buf[0] = (uint8_t)(w >> 8);
    buf[1] = (uint8_t)w;
    return n;
}

int trace_packet_seq_from_len(uint16_t udp_len)
{
    int seq = (int)udp_len - TRACE_PACKET_UDP_HEADER - TRACE_PACKET_PAYLOAD_MIN;
    return seq < 0 || seq > TRACE_PACKET_SEQ_MAX ? -1 : seq;
}

/* Length of a valid IPv4 header at p (20..60 bytes, within len), or 0. */
static size_t ipv4_header_len(const uint8_t *p, size_t len)
{
    if (len < 20 || (p[0] >> 4) != 4)
        return 0;
    size_t ihl = (size_t)(p[0] & 0x0f) * 4;
    if (ihl < 20 || ihl > len)
        return 0;
    return ihl;
}

/* The quoted datagram: an IP header of family and at least the UDP header after it. */
static int parse_quoted(int family, const uint8_t *q, size_t qlen, trace_packet_t *out)
{
    const uint8_t *udp;
    size_t rest;
    if (family == AF_INET6) {
        /* Our probes carry no extension headers, so anything else is not ours. */
        if (qlen < IPV6_HEADER_LEN || (q[0] >> 4) != 6 || q[6] != PROTO_UDP)
            return -1;
        memcpy(out->quoted_src, q + 8, 16);
        memcpy(out->quoted_dst, q + 24, 16);
        udp = q + IPV6_HEADER_LEN;
        rest = qlen - IPV6_HEADER_LEN;
    } else {
        size_t ihl = ipv4_header_len(q, qlen);
        /* A non-first fragment quotes payload bytes, not a UDP header. */
        if (!ihl || q[9] != PROTO_UDP || ((q[6] & 0x1f) | q[7]) != 0)
            return -1;
        memcpy(out->quoted_src, q + 12, 4);
        memcpy(out->quoted_dst, q + 16, 4);
        udp = q + ihl;
        rest = qlen - ihl;
    }
    /* RFC 792 routers quote only 8 bytes past the IP header: exactly the UDP header. */
    if (rest < TRACE_PACKET_UDP_HEADER)
        return -1;
    out->sport = be16(udp);
    out->dport = be16(udp + 2);
    out->udp_len = be16(udp + 4);
    out->udp_checksum = be16(udp + 6);
    return 0;
}

trace_packet_kind_t trace_packet_parse(int family, int with_ip_header, const uint8_t *buf,
                                       size_t len, trace_packet_t *out)
{
    memset(out, 0, sizeof *out);
    if (!buf || (family != AF_INET && family != AF_INET6))
        return TRACE_PACKET_IGNORE;
    if (family == AF_INET && with_ip_header) {
        size_t ihl = ipv4_header_len(buf, len);
        if (!ihl || buf[9] != PROTO_ICMP)
            return TRACE_PACKET_IGNORE;
        buf += ihl;
        len -= ihl;
    }
    if (len < ICMP_HEADER_LEN)
        return TRACE_PACKET_IGNORE;
    int v6 = family == AF_INET6;
    uint8_t type = buf[0], code = buf[1];
    trace_packet_kind_t kind = TRACE_PACKET_IGNORE;
    /* Time exceeded code 1 is "fragment reassembly time exceeded": not a hop. */
    if (type == (v6 ? ICMP6_TIME_EXCEEDED_T : ICMP4_TIME_EXCEEDED) && code == 0)
        kind = TRACE_PACKET_TIME_EXCEEDED;
    else if (type == (v6 ? ICMP6_DEST_UNREACH_T : ICMP4_DEST_UNREACH))
        kind = TRACE_PACKET_UNREACH;
    if (kind == TRACE_PACKET_IGNORE ||
        parse_quoted(family, buf + ICMP_HEADER_LEN, len - ICMP_HEADER_LEN, out) < 0) {
        memset(out, 0, sizeof *out);
        return TRACE_PACKET_IGNORE;
    }
    out->kind = kind;
    out->type = type;
    out->code = code;
    out->port_unreach =
        kind == TRACE_PACKET_UNREACH && code == (v6 ? ICMP6_PORT_UNREACH : ICMP4_PORT_UNREACH);
    return kind;
}
