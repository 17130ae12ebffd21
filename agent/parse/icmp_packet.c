/* icmp_packet: byte-level ICMP echo handling. Fields are read with explicit big-endian
 * helpers instead of casting to kernel structs, so alignment and length are always ours. */
#include "icmp_packet.h"

#include <string.h>
#include <sys/socket.h>

#define ICMP4_ECHO_REPLY 0
#define ICMP4_DEST_UNREACH 3
#define ICMP4_ECHO_REQUEST 8
#define ICMP4_TIME_EXCEEDED 11
#define ICMP6_DEST_UNREACH_T 1
#define ICMP6_TIME_EXCEEDED_T 3
#define ICMP6_ECHO_REQUEST_T 128
#define ICMP6_ECHO_REPLY_T 129
#define IPV6_HEADER_LEN 40
#define ICMP_HEADER_LEN 8
#define PROTO_ICMP 1
#define PROTO_ICMPV6 58

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

uint16_t icmp_packet_checksum(const uint8_t *buf, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += be16(buf + i);
    if (len & 1)
        sum += (uint32_t)buf[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

size_t icmp_packet_build_echo(int family, uint16_t id, uint16_t seq, size_t payload_len,
                              uint8_t *buf, size_t len)
{
    if (len < ICMP_HEADER_LEN || payload_len > len - ICMP_HEADER_LEN)
        return 0;
    size_t n = ICMP_HEADER_LEN + payload_len;
    memset(buf, 0, ICMP_HEADER_LEN);
    buf[0] = family == AF_INET6 ? ICMP6_ECHO_REQUEST_T : ICMP4_ECHO_REQUEST;
    buf[4] = (uint8_t)(id >> 8);
    buf[5] = (uint8_t)id;
    buf[6] = (uint8_t)(seq >> 8);
    buf[7] = (uint8_t)seq;
    for (size_t i = 0; i < payload_len; i++)
        buf[ICMP_HEADER_LEN + i] = (uint8_t)("PARALLAX"[i % 8]);
    if (family != AF_INET6) {
        uint16_t ck = icmp_packet_checksum(buf, n);
        buf[2] = (uint8_t)(ck >> 8);
        buf[3] = (uint8_t)ck;
    }
    return n;
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

/* The quoted original datagram of an error: it must be our echo request. */
static icmp_packet_kind_t parse_quoted(int family, const uint8_t *q, size_t qlen,
                                       icmp_packet_t *out)
{
    const uint8_t *icmp;
    size_t rest;
    if (family == AF_INET6) {
        if (qlen < IPV6_HEADER_LEN + ICMP_HEADER_LEN || (q[0] >> 4) != 6 || q[6] != PROTO_ICMPV6)
            return ICMP_PACKET_IGNORE;
        memcpy(out->quoted_dst, q + 24, 16);
        icmp = q + IPV6_HEADER_LEN;
        rest = qlen - IPV6_HEADER_LEN;
        if (icmp[0] != ICMP6_ECHO_REQUEST_T)
            return ICMP_PACKET_IGNORE;
    } else {
        size_t ihl = ipv4_header_len(q, qlen);
        if (!ihl || q[9] != PROTO_ICMP)
            return ICMP_PACKET_IGNORE;
        memcpy(out->quoted_dst, q + 16, 4);
        icmp = q + ihl;
        rest = qlen - ihl;
        /* RFC 792 routers quote only 8 bytes past the IP header: exactly what we need. */
        if (rest < ICMP_HEADER_LEN || icmp[0] != ICMP4_ECHO_REQUEST)
            return ICMP_PACKET_IGNORE;
    }
    if (rest < ICMP_HEADER_LEN || icmp[1] != 0)
        return ICMP_PACKET_IGNORE;
    out->id = be16(icmp + 4);
    out->seq = be16(icmp + 6);
    return ICMP_PACKET_ERROR;
}

icmp_packet_kind_t icmp_packet_parse(int family, int with_ip_header, const uint8_t *buf, size_t len,
                                     icmp_packet_t *out)
{
    memset(out, 0, sizeof *out);
    out->kind = ICMP_PACKET_IGNORE;
    if (!buf)
        return out->kind;
    if (family == AF_INET && with_ip_header) {
        size_t ihl = ipv4_header_len(buf, len);
        if (!ihl || buf[9] != PROTO_ICMP)
            return out->kind;
        buf += ihl;
        len -= ihl;
    }
    if (len < ICMP_HEADER_LEN)
        return out->kind;
    out->type = buf[0];
    out->code = buf[1];
    int v6 = family == AF_INET6;
    if (buf[0] == (v6 ? ICMP6_ECHO_REPLY_T : ICMP4_ECHO_REPLY)) {
        if (buf[1] != 0)
            return out->kind;
        out->id = be16(buf + 4);
        out->seq = be16(buf + 6);
        out->kind = ICMP_PACKET_ECHO_REPLY;
    } else if (v6 ? (buf[0] == ICMP6_DEST_UNREACH_T || buf[0] == ICMP6_TIME_EXCEEDED_T)
                  : (buf[0] == ICMP4_DEST_UNREACH || buf[0] == ICMP4_TIME_EXCEEDED)) {
        out->kind = parse_quoted(family, buf + ICMP_HEADER_LEN, len - ICMP_HEADER_LEN, out);
    }
    if (out->kind == ICMP_PACKET_IGNORE) {
        uint8_t type = out->type, code = out->code;
        memset(out, 0, sizeof *out);
        out->type = type;
        out->code = code;
    }
    return out->kind;
}
