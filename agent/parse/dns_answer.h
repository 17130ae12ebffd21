/* dns_answer: decides what one DNS reply packet says about our query: whether it answers it
 * at all (same id, a reply, the same question), and if so its rcode, AA and TC flags, answer
 * count, SOA serial and the A, AAAA, NS, MX and CNAME records of its answer section. Pure: no
 * I/O, no state between calls; the bytes are hostile. */
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
/* Records of the answer section kept at most; the rest are counted in records_left_out. */
#define DNS_ANSWER_RECORDS_MAX 16
/* Room for a name in presentation form with its final dot and the NUL: 253 characters, the
 * dot, the NUL, and one spare. A name whose escapes (\DDD for odd bytes) make it longer does
 * not fit: its record is left out and counted, never cut. */
#define DNS_ANSWER_NAME_MAX 256

/* One A, AAAA, NS, MX or CNAME record of the answer section. Names are lower case, in
 * presentation form with the final dot ("www.parallax.test."). */
typedef struct dns_answer_record {
    uint16_t type;                  /* 1 A, 28 AAAA, 2 NS, 15 MX or 5 CNAME (the RR type numbers) */
    uint16_t preference;            /* MX: its preference; 0 otherwise */
    char name[DNS_ANSWER_NAME_MAX]; /* the owner name */
    /* A/AAAA: the address ("192.0.2.10", "2001:db8::1"); NS/MX/CNAME: the name it points to */
    char data[DNS_ANSWER_NAME_MAX];
} dns_answer_record_t;

typedef struct dns_answer {
    dns_answer_verdict_t verdict;
    uint16_t rcode;   /* 12-bit: header RCODE plus the EDNS0 extended bits */
    uint8_t aa;       /* authoritative answer */
    uint8_t tc;       /* truncated: the full answer needs TCP */
    uint8_t has_soa;  /* an SOA record was in the answer or authority section */
    uint16_t answers; /* ANCOUNT */
    uint32_t soa_serial;
    /* The answer section's A, AAAA, NS, MX and CNAME records, in order, the first
     * DNS_ANSWER_RECORDS_MAX that fit; records of other types are skipped and not counted. */
    uint16_t n_records;
    uint16_t records_left_out; /* of those five types: past the maximum, or a name too long */
    dns_answer_record_t records[DNS_ANSWER_RECORDS_MAX];
    char why[DNS_ANSWER_WHY_MAX]; /* for any other verdict: what was wrong, for messages */
} dns_answer_t;

/* Interprets the len bytes at pkt as the reply to a query with the given id, query name
 * (presentation form, e.g. "parallax.test." or "parallax.test"; compared case-insensitively)
 * and query type (class IN). Fills *out and returns its verdict. Never fails otherwise: an
 * unusable packet is a verdict, not an error. A truncated (TC=1) reply with our id whose
 * sections do not parse is still VALID with tc = 1, since the TCP retry will tell. */
dns_answer_verdict_t dns_answer_parse(uint16_t id, const char *qname, uint16_t qtype,
                                      const uint8_t *pkt, size_t len, dns_answer_t *out);

/* Mnemonic of a record type this module keeps ("A", "AAAA", "NS", "MX", "CNAME"), or NULL
 * for any other. */
const char *dns_answer_type_name(uint16_t type);

/* Name of a verdict ("valid", "not a reply", ...). */
const char *dns_answer_verdict_name(dns_answer_verdict_t v);

/* Mnemonic of an rcode ("NOERROR", "SERVFAIL", ...), or "RCODE<n>" written into buf (of at
 * least 16 bytes) for one without a name. Returns a static string or buf. */
const char *dns_answer_rcode_name(uint16_t rcode, char *buf, size_t len);

#endif
