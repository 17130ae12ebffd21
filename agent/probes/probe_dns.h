/* probe_dns: the `dns:QNAME[:QTYPE]` probe kind: one query (class IN, RD=0, no EDNS0) to the
 * target's port 53 over UDP, retried over TCP if the answer comes back truncated.
 *
 * Status: OK for NOERROR and NXDOMAIN (a server that says a name does not exist is working;
 * app_code = 3 tells the two apart); APP_ERROR for any other rcode (SERVFAIL, REFUSED, ...,
 * named in the message); TIMEOUT when no usable answer came; REFUSED for an ICMP port
 * unreachable (the host is up, nothing listens on 53); UNREACHABLE for other ICMP errors (with
 * type, code and sender); PROTOCOL_ERROR when the only replies were unusable (malformed, or
 * for another question) or the TCP answer was cut short; LOCAL_ERROR when the vantage cannot
 * even send. app_code = rcode and the dns detail are set whenever a valid answer came (with
 * the A, AAAA, NS, MX and CNAME records of its answer section, at most 16); rtt_us is from
 * sending the UDP query to the final answer (the TCP retry included).
 *
 * The destination port is probe_target_t.port when non-zero, else 53. Specs never carry a
 * dns port (probespec gives 0), so only tests, which fill the target themselves, use it. */
#ifndef PX_PROBE_DNS_H
#define PX_PROBE_DNS_H

#include "probe.h"

/* Records of the answer kept at most (dns_answer's DNS_ANSWER_RECORDS_MAX). */
#define PROBE_DNS_RECORDS_MAX 16
/* Room for the records' strings. Sixteen records with names of the longest kind would need
 * 16 x 2 x 255 bytes, which no result has room for (PROBE_DETAIL_MAX); real answers need a
 * tenth of this, and a record whose strings no longer fit is left out and counted. */
#define PROBE_DNS_TEXT_MAX 3936

/* One A, AAAA, NS, MX or CNAME record of the answer section; its strings are in the detail's
 * text, NUL-terminated, lower case, names with their final dot. */
typedef struct probe_dns_record {
    uint16_t type;       /* RR type number: 1 A, 28 AAAA, 2 NS, 15 MX, 5 CNAME */
    uint16_t preference; /* MX only */
    uint16_t name;       /* offset in text of the owner name */
    uint16_t data;       /* offset in text of the address (A, AAAA) or the target name */
} probe_dns_record_t;

/* What a DNS answer said: the run's details (the wire's DnsInfo), set whenever a valid
 * answer came. */
typedef struct probe_dns_detail {
    uint16_t rcode;
    uint8_t aa;
    uint8_t has_soa;
    uint8_t over_tcp; /* answered over TCP after a truncated UDP answer */
    uint16_t answers;
    uint32_t soa_serial;
    uint16_t n_records;        /* the answer section's records kept, in order */
    uint16_t records_left_out; /* of those types, not kept: past the maximum or no room */
    probe_dns_record_t records[PROBE_DNS_RECORDS_MAX];
    char text[PROBE_DNS_TEXT_MAX];
} probe_dns_detail_t;

extern const probe_ops_t probe_dns_ops;

/* Copies the dns details of res into out (NULL: only asks). Returns 0, or -1 when res is not
 * a dns result with details. */
int probe_dns_detail(const probe_result_t *res, probe_dns_detail_t *out);

#endif
