/* dns_answer: decides what one DNS reply packet says about our query: whether it answers it
 * at all (same id, a reply, the same question), and if so its rcode, AA and TC flags, answer
 * count and SOA serial. Pure: no I/O, no state between calls; the bytes are hostile. */
#ifndef PX_DNS_ANSWER_H
#define PX_DNS_ANSWER_H

#include <stddef.h>
#include <stdint.h>

/* What a packet is to the query that was sent. Only DNS_ANSWER_VALID fills the fields. */
typedef enum dns_answer_verdict {
    DNS_ANSWER_VALID = 0,     /* the reply to our query (may be truncated: see tc) */
    DNS_ANSWER_NOT_REPLY,     /* shorter than a header, not a response, or another id */
    DNS_ANSWER_MALFORMED,     /* our id, but the packet does not parse */
    DNS_ANSWER_WRONG_QUESTION /* our id, parses, but does not echo our one question */
} dns_answer_verdict_t;

#define DNS_ANSWER_WHY_MAX 128

typedef struct dns_answer {
    dns_answer_verdict_t verdict;
    uint16_t rcode;   /* 12-bit: header RCODE plus the EDNS0 extended bits */
    uint8_t aa;       /* authoritative answer */
    uint8_t tc;       /* truncated: the full answer needs TCP */
    uint8_t has_soa;  /* an SOA record was in the answer or authority section */
    uint16_t answers; /* ANCOUNT */
    uint32_t soa_serial;
    char why[DNS_ANSWER_WHY_MAX]; /* for any other verdict: what was wrong, for messages */
} dns_answer_t;

/* Interprets the len bytes at pkt as the reply to a query with the given id, query name
 * (presentation form, e.g. "parallax.test." or "parallax.test"; compared case-insensitively)
 * and query type (class IN). Fills *out and returns its verdict. Never fails otherwise: an
 * unusable packet is a verdict, not an error. A truncated (TC=1) reply with our id whose
 * sections do not parse is still VALID with tc = 1, since the TCP retry will tell. */
dns_answer_verdict_t dns_answer_parse(uint16_t id, const char *qname, uint16_t qtype,
                                      const uint8_t *pkt, size_t len, dns_answer_t *out);

/* Name of a verdict ("valid", "not a reply", ...). */
const char *dns_answer_verdict_name(dns_answer_verdict_t v);

/* Mnemonic of an rcode ("NOERROR", "SERVFAIL", ...), or "RCODE<n>" written into buf (of at
 * least 16 bytes) for one without a name. Returns a static string or buf. */
const char *dns_answer_rcode_name(uint16_t rcode, char *buf, size_t len);

#endif
