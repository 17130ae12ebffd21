/* trace_packet: the bytes of Paris-style UDP traceroute. Builds probe payloads that keep the
 * UDP checksum constant (so every probe of a trace looks like one flow to a load balancer)
 * while the payload length says which probe it is, and parses the ICMP errors that quote a
 * probe. Pure functions: no I/O, no allocation; every length is checked before a read. */
#ifndef PX_TRACE_PACKET_H
#define PX_TRACE_PACKET_H

#include <stddef.h>
#include <stdint.h>

/* Probe n carries TRACE_PACKET_PAYLOAD_MIN + n payload bytes, so the UDP length field, which
 * every router quotes (it is in the first 8 bytes after the IP header), identifies the probe
 * even when a router quotes nothing of the payload. */
#define TRACE_PACKET_PAYLOAD_MIN 16
#define TRACE_PACKET_SEQ_MAX 255
#define TRACE_PACKET_PAYLOAD_MAX (TRACE_PACKET_PAYLOAD_MIN + TRACE_PACKET_SEQ_MAX)
#define TRACE_PACKET_UDP_HEADER 8

/* The flow of one trace: everything the UDP checksum covers except the payload. */
typedef struct trace_packet_flow {
    int family;      /* AF_INET or AF_INET6 */
    uint8_t src[16]; /* 4 bytes used for IPv4; network order */
    uint8_t dst[16];
    uint16_t sport; /* host order */
    uint16_t dport;
    uint16_t checksum; /* the UDP checksum every probe carries; not 0 and not 0xffff */
} trace_packet_flow_t;

/* Writes the payload of probe seq (0..TRACE_PACKET_SEQ_MAX) to buf: its length is
 * TRACE_PACKET_PAYLOAD_MIN + seq, and its first two bytes are chosen so that the checksum the
 * kernel computes for the datagram is flow->checksum. Returns the length, or 0 if seq is out
 * of range, the flow's checksum is 0 or 0xffff, or buf is too small. */
size_t trace_packet_build_payload(const trace_packet_flow_t *flow, unsigned seq, uint8_t *buf,
                                  size_t len);

/* The UDP checksum (RFC 768 / RFC 8200 pseudo-header) of a datagram of flow with payload,
 * with the checksum field taken as zero: what a sender puts in the field (0 is sent as
 * 0xffff). For tests and for checking quoted headers. */
uint16_t trace_packet_udp_checksum(const trace_packet_flow_t *flow, const uint8_t *payload,
                                   size_t len);

/* What an ICMP message is, as far as a UDP trace cares. */
typedef enum trace_packet_kind {
    TRACE_PACKET_IGNORE,        /* malformed, truncated, or not an error quoting UDP */
    TRACE_PACKET_TIME_EXCEEDED, /* TTL / hop limit exceeded in transit (code 0) */
    TRACE_PACKET_UNREACH        /* destination unreachable, any code */
} trace_packet_kind_t;

typedef struct trace_packet {
    trace_packet_kind_t kind;
    uint8_t type; /* of the ICMP message */
    uint8_t code;
    uint8_t port_unreach; /* UNREACH with the port-unreachable code of the family */
    /* The quoted datagram (network-order addresses, 4 bytes used for IPv4). */
    uint8_t quoted_src[16];
    uint8_t quoted_dst[16];
    uint16_t sport; /* host order */
    uint16_t dport;
    uint16_t udp_len;      /* the quoted UDP length field */
    uint16_t udp_checksum; /* the quoted UDP checksum field */
} trace_packet_t;

/* Parses len bytes of buf (an ICMP or ICMPv6 message; for AF_INET with with_ip_header it
 * starts with the IPv4 header, as raw IPv4 sockets deliver it) into *out and returns
 * out->kind. Anything not a time-exceeded or destination-unreachable quoting at least the
 * IP and UDP headers of a UDP datagram is TRACE_PACKET_IGNORE with *out zeroed. */
trace_packet_kind_t trace_packet_parse(int family, int with_ip_header, const uint8_t *buf,
                                       size_t len, trace_packet_t *out);

/* The probe sequence number a quoted UDP length stands for, or -1 if it is none of ours. */
int trace_packet_seq_from_len(uint16_t udp_len);

#endif
