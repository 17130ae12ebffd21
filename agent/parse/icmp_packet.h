/* icmp_packet: builds ICMP/ICMPv6 echo requests and parses what comes back (echo replies and
 * errors quoting our request). Pure functions: no I/O, no allocation; every length is checked
 * before a byte is read, because anything on the wire may be hostile. */
#ifndef PX_ICMP_PACKET_H
#define PX_ICMP_PACKET_H

#include <stddef.h>
#include <stdint.h>

/* What a received packet is, as far as echo probes care. */
typedef enum icmp_packet_kind {
    ICMP_PACKET_IGNORE,     /* truncated, malformed, or not about an echo request */
    ICMP_PACKET_ECHO_REPLY, /* an echo reply: id and seq are valid */
    ICMP_PACKET_ERROR       /* unreachable / time exceeded quoting an echo request */
} icmp_packet_kind_t;

typedef struct icmp_packet {
    icmp_packet_kind_t kind;
    uint8_t type; /* of the received message */
    uint8_t code;
    uint16_t id; /* of the echo (reply) or of the quoted request, host order */
    uint16_t seq;
    /* ICMP_PACKET_ERROR: destination of the quoted request (4 bytes for IPv4, 16 for IPv6). */
    uint8_t quoted_dst[16];
} icmp_packet_t;

/* Parses len bytes of buf into *out and returns out->kind. family is AF_INET or AF_INET6;
 * with_ip_header says whether buf starts with the IPv4 header (raw IPv4 sockets) or with
 * the ICMP header (ping sockets, and always for ICMPv6). */
icmp_packet_kind_t icmp_packet_parse(int family, int with_ip_header, const uint8_t *buf, size_t len,
                                     icmp_packet_t *out);

/* Writes an echo request with id, seq and payload_len bytes of payload (a fixed pattern) to
 * buf. The IPv4 checksum is filled in; for ICMPv6 the kernel computes it. Returns the packet
 * length, or 0 if buf is smaller than 8 + payload_len bytes. */
size_t icmp_packet_build_echo(int family, uint16_t id, uint16_t seq, size_t payload_len,
                              uint8_t *buf, size_t len);

/* The Internet checksum (RFC 1071) of len bytes. */
uint16_t icmp_packet_checksum(const uint8_t *buf, size_t len);

#endif
