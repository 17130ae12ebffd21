/* fuzz_trace_packet: fuzz target for trace_packet_parse(), which reads every ICMP message the
 * agent's raw sockets pass to a running traceroute. The first input byte picks the family and
 * whether an IPv4 header leads; the rest is the message. Parsing must never read out of
 * bounds and must report consistently. The same bytes also make a flow (addresses, ports,
 * checksum) whose payloads must all carry exactly the flow's checksum. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "trace_packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz_trace_packet: %s\n", what);
    abort();
}

static void check_parse(int family, int with_ip, const uint8_t *data, size_t len)
{
    /* A copy of exactly the message's length, so ASan sees any read past its end. */
    uint8_t *pkt = malloc(len ? len : 1);
    if (!pkt)
        return;
    memcpy(pkt, data, len);
    trace_packet_t out;
    memset(&out, 0xa5, sizeof out);
    trace_packet_kind_t kind = trace_packet_parse(family, with_ip, pkt, len, &out);
    if (kind != out.kind)
        fuzz_fail("returned kind differs from out->kind");
    if (kind == TRACE_PACKET_IGNORE) {
        trace_packet_t zero;
        memset(&zero, 0, sizeof zero);
        if (memcmp(&out, &zero, sizeof out) != 0)
            fuzz_fail("an ignored message left fields set");
    } else {
        if (out.port_unreach && kind != TRACE_PACKET_UNREACH)
            fuzz_fail("port unreachable that is not an unreachable");
        if (kind == TRACE_PACKET_TIME_EXCEEDED && out.code != 0)
            fuzz_fail("time exceeded with a code other than 0");
        /* The quote must have held IP header + 8 bytes, plus the ICMP header. */
        size_t min = family == AF_INET6 ? 8 + 40 + 8 : 8 + 20 + 8 + (with_ip ? 20 : 0);
        if (len < min)
            fuzz_fail("accepted a message too short to quote a UDP header");
    }
    int seq = trace_packet_seq_from_len(out.udp_len);
    if (seq < -1 || seq > TRACE_PACKET_SEQ_MAX)
        fuzz_fail("sequence out of range");
    free(pkt);
}

static void check_flow(int family, const uint8_t *data, size_t size)
{
    /* 16 + 16 address bytes, 2 + 2 ports, 2 checksum, 1 sequence. */
    if (size < 39)
        return;
    trace_packet_flow_t f;
    memset(&f, 0, sizeof f);
    f.family = family;
    memcpy(f.src, data, 16);
    memcpy(f.dst, data + 16, 16);
    f.sport = (uint16_t)(data[32] << 8 | data[33]);
    f.dport = (uint16_t)(data[34] << 8 | data[35]);
    f.checksum = (uint16_t)(data[36] << 8 | data[37]);
    unsigned seq = data[38];
    uint8_t buf[TRACE_PACKET_PAYLOAD_MAX];
    size_t n = trace_packet_build_payload(&f, seq, buf, sizeof buf);
    if (f.checksum == 0 || f.checksum == 0xffff) {
        if (n != 0)
            fuzz_fail("built a payload for a checksum that cannot be sent");
        return;
    }
    if (n != TRACE_PACKET_PAYLOAD_MIN + seq)
        fuzz_fail("payload length does not encode the sequence");
    if (trace_packet_udp_checksum(&f, buf, n) != f.checksum)
        fuzz_fail("payload does not give the flow's checksum");
    if (trace_packet_seq_from_len((uint16_t)(TRACE_PACKET_UDP_HEADER + n)) != (int)seq)
        fuzz_fail("length does not give the sequence back");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int family = (data[0] & 1) ? AF_INET6 : AF_INET;
    int with_ip = family == AF_INET && (data[0] & 2);
    check_parse(family, with_ip, data + 1, size - 1);
    check_flow(family, data + 1, size - 1);
    return 0;
}
