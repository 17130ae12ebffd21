/* dns_answer: the reply checks a stub resolver makes before it believes a packet (RFC 5452:
 * id, response bit, the echoed question), done with ldns on bytes nobody vouches for. */
#include "dns_answer.h"

#include <ldns/ldns.h>
#include <stdio.h>
#include <string.h>

#define DNS_HEADER_LEN 12

static dns_answer_verdict_t verdict(dns_answer_t *out, dns_answer_verdict_t v, const char *why)
{
    out->verdict = v;
    snprintf(out->why, sizeof out->why, "%s", why);
    return v;
}

const char *dns_answer_verdict_name(dns_answer_verdict_t v)
{
    switch (v) {
    case DNS_ANSWER_VALID:
        return "valid";
    case DNS_ANSWER_NOT_REPLY:
        return "not a reply to the query";
    case DNS_ANSWER_MALFORMED:
        return "malformed reply";
    case DNS_ANSWER_WRONG_QUESTION:
        return "reply to another question";
    }
    return "?";
}

const char *dns_answer_rcode_name(uint16_t rcode, char *buf, size_t len)
{
    static const char *const names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                        "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
                                        "NXRRSET", "NOTAUTH", "NOTZONE"};
    if (rcode < sizeof names / sizeof names[0])
        return names[rcode];
    if (rcode == 16)
        return "BADVERS";
    snprintf(buf, len, "RCODE%u", (unsigned)rcode);
    return buf;
}

/* Reads the serial of rr if it is a well-formed SOA; returns 1 if it did. */
static int soa_serial(const ldns_rr *rr, uint32_t *serial)
{
    if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA || ldns_rr_rd_count(rr) < 3)
        return 0;
    const ldns_rdf *rdf = ldns_rr_rdf(rr, 2);
    if (!rdf || ldns_rdf_size(rdf) != 4)
        return 0;
    *serial = ldns_rdf2native_int32(rdf);
    return 1;
}

/* Checks that the question q is ours; fills why otherwise. */
static int question_matches(const ldns_rr *q, const ldns_rdf *want, uint16_t qtype, char *why,
                            size_t len)
{
    if (ldns_rr_get_type(q) != qtype || ldns_rr_get_class(q) != LDNS_RR_CLASS_IN) {
        snprintf(why, len, "reply is for type %u class %u", (unsigned)ldns_rr_get_type(q),
                 (unsigned)ldns_rr_get_class(q));
        return 0;
    }
    if (!ldns_rr_owner(q) || ldns_dname_compare(ldns_rr_owner(q), want) != 0) {
        snprintf(why, len, "reply is for another name");
        return 0;
    }
    return 1;
}

/* What walking the records found. */
typedef struct walk {
    int question_ok;   /* the one question is ours */
    uint8_t ext_rcode; /* upper 8 bits of the rcode, from an OPT record */
    uint8_t has_soa;
    uint32_t soa_serial;
} walk_t;

/* Decodes every record of every section with ldns_wire2rr(), one at a time, keeping only what
 * the verdict needs. This rather than ldns_wire2pkt(): that one keeps a TSIG record aside and
 * leaks it when a second one follows (ldns 1.8.3), so a hostile reply full of TSIG records
 * would leak memory on every probe. Records are freed as soon as they are read. */
static ldns_status walk_records(const uint8_t *pkt, size_t len, const ldns_rdf *want,
                                uint16_t qtype, walk_t *w, char *why, size_t whylen)
{
    static const ldns_pkt_section sections[] = {LDNS_SECTION_QUESTION, LDNS_SECTION_ANSWER,
                                                LDNS_SECTION_AUTHORITY, LDNS_SECTION_ADDITIONAL};
    size_t pos = DNS_HEADER_LEN;
    for (int s = 0; s < 4; s++) {
        unsigned count = (unsigned)(pkt[4 + 2 * s] << 8 | pkt[5 + 2 * s]);
        /* Each record takes at least 5 bytes (a question) or 11 (any other), and a failed
         * decode ends the walk, so the loop is bounded by the packet's length. */
        for (unsigned i = 0; i < count; i++) {
            ldns_rr *rr = NULL;
            ldns_status st = ldns_wire2rr(&rr, pkt, len, &pos, sections[s]);
            if (st != LDNS_STATUS_OK)
                return st;
            if (s == 0 && count == 1)
                w->question_ok = question_matches(rr, want, qtype, why, whylen);
            else if ((s == 1 || s == 2) && !w->has_soa)
                w->has_soa = (uint8_t)soa_serial(rr, &w->soa_serial);
            else if (s == 3 && ldns_rr_get_type(rr) == LDNS_RR_TYPE_OPT)
                w->ext_rcode = (uint8_t)(ldns_rr_ttl(rr) >> 24);
            ldns_rr_free(rr);
        }
    }
    return LDNS_STATUS_OK;
}

dns_answer_verdict_t dns_answer_parse(uint16_t id, const char *qname, uint16_t qtype,
                                      const uint8_t *pkt, size_t len, dns_answer_t *out)
{
    memset(out, 0, sizeof *out);
    /* The header is checked by hand first: a packet that is not even a reply to our id says
     * nothing about the server, whatever ldns would make of the rest. */
    if (len < DNS_HEADER_LEN)
        return verdict(out, DNS_ANSWER_NOT_REPLY, "shorter than a DNS header");
    if ((uint16_t)(pkt[0] << 8 | pkt[1]) != id)
        return verdict(out, DNS_ANSWER_NOT_REPLY, "another query id");
    if (!(pkt[2] & 0x80))
        return verdict(out, DNS_ANSWER_NOT_REPLY, "a query, not a response");
    uint8_t tc = (pkt[2] & 0x02) != 0;
    uint8_t aa = (pkt[2] & 0x04) != 0;
    uint16_t rcode = pkt[3] & 0x0f;
    unsigned qdcount = (unsigned)(pkt[4] << 8 | pkt[5]);

    ldns_rdf *want = ldns_dname_new_frm_str(qname);
    if (!want)
        return verdict(out, DNS_ANSWER_WRONG_QUESTION, "query name is not a DNS name");
    walk_t w = {0};
    char why[DNS_ANSWER_WHY_MAX] = "";
    ldns_status s = walk_records(pkt, len, want, qtype, &w, why, sizeof why);
    ldns_rdf_deep_free(want);
    if (s != LDNS_STATUS_OK) {
        if (tc) {
            /* Servers may cut a too-large answer anywhere; the header is all we need to
             * know that TCP must be tried. */
            out->verdict = DNS_ANSWER_VALID;
            out->tc = 1;
            out->aa = aa;
            out->rcode = rcode;
            return DNS_ANSWER_VALID;
        }
        snprintf(why, sizeof why, "unparseable reply: %s", ldns_get_errorstr_by_id(s));
        return verdict(out, DNS_ANSWER_MALFORMED, why);
    }
    rcode = (uint16_t)((unsigned)w.ext_rcode << 4 | rcode);
    /* Some servers send error replies (FORMERR, NOTIMP, ...) without the question section;
     * with our id and an error rcode such a reply is still the server's answer. */
    if (!(qdcount == 0 && rcode != LDNS_RCODE_NOERROR) && !w.question_ok) {
        if (qdcount != 1)
            snprintf(why, sizeof why, "%u questions in the reply instead of 1", qdcount);
        return verdict(out, DNS_ANSWER_WRONG_QUESTION, why);
    }
    out->verdict = DNS_ANSWER_VALID;
    out->rcode = rcode;
    out->aa = aa;
    out->tc = tc;
    out->answers = (uint16_t)(pkt[6] << 8 | pkt[7]);
    out->has_soa = w.has_soa;
    out->soa_serial = w.soa_serial;
    return DNS_ANSWER_VALID;
}
