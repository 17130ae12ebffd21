/* dns_answer: the reply checks a stub resolver makes before it believes a packet (RFC 5452:
 * id, response bit, the echoed question), done with ldns on bytes nobody vouches for. */
#include "dns_answer.h"

#include <arpa/inet.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <string.h>

#define DNS_HEADER_LEN 12

static dns_answer_verdict_t verdict(dns_answer_t *out, dns_answer_verdict_t v, const char *why)
{
    /* Records read before the packet was refused say nothing: only a valid answer has any. */
    memset(out->records, 0, sizeof out->records);
    out->n_records = out->records_left_out = 0;
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

const char *dns_answer_type_name(uint16_t type)
{
    switch (type) {
    case LDNS_RR_TYPE_A:
        return "A";
    case LDNS_RR_TYPE_AAAA:
        return "AAAA";
    case LDNS_RR_TYPE_NS:
        return "NS";
    case LDNS_RR_TYPE_MX:
        return "MX";
    case LDNS_RR_TYPE_CNAME:
        return "CNAME";
    default:
        return NULL;
    }
}

/* Writes the domain name rdf (wire form, as ldns decompressed it) to buf in lower-case
 * presentation form with the final dot, escaping what the master file format must: the
 * special characters with a backslash, other bytes outside printable ASCII as \DDD. Returns
 * 0, or -1 when it is not a well-formed name or does not fit len bytes (never cut). */
static int name_text(const ldns_rdf *rdf, char *buf, size_t len)
{
    if (!rdf || ldns_rdf_get_type(rdf) != LDNS_RDF_TYPE_DNAME || len < 2)
        return -1;
    const uint8_t *d = ldns_rdf_data(rdf);
    size_t size = ldns_rdf_size(rdf), at = 0, o = 0;
    while (at < size && d[at] != 0) {
        size_t label = d[at++];
        if (label > 63 || label > size - at)
            return -1;
        for (size_t i = 0; i < label; i++) {
            uint8_t c = d[at + i];
            char esc[5];
            if (c >= 'A' && c <= 'Z')
                snprintf(esc, sizeof esc, "%c", c - 'A' + 'a');
            else if (c && strchr(".\\\"();@$", c))
                snprintf(esc, sizeof esc, "\\%c", c);
            else if (c <= ' ' || c >= 0x7f)
                snprintf(esc, sizeof esc, "\\%03u", (unsigned)c);
            else
                snprintf(esc, sizeof esc, "%c", c);
            size_t n = strlen(esc);
            if (n >= len - o)
                return -1;
            memcpy(buf + o, esc, n);
            o += n;
        }
        at += label;
        if (o + 1 >= len)
            return -1;
        buf[o++] = '.';
    }
    if (at >= size)
        return -1; /* no root label: not a whole name */
    if (o == 0)
        buf[o++] = '.'; /* the root */
    buf[o] = '\0';
    return 0;
}

/* Fills rec from rr if rr is an A, AAAA, NS, MX or CNAME record that fits. Returns 1 if it
 * did, 0 for another type, -1 for one of those types that is malformed or does not fit. */
static int record_of(const ldns_rr *rr, dns_answer_record_t *rec)
{
    uint16_t type = (uint16_t)ldns_rr_get_type(rr);
    if (!dns_answer_type_name(type))
        return 0;
    memset(rec, 0, sizeof *rec);
    rec->type = type;
    if (name_text(ldns_rr_owner(rr), rec->name, sizeof rec->name) < 0)
        return -1;
    const ldns_rdf *rd = ldns_rr_rd_count(rr) > 0 ? ldns_rr_rdf(rr, 0) : NULL;
    switch (type) {
    case LDNS_RR_TYPE_A:
    case LDNS_RR_TYPE_AAAA: {
        int af = type == LDNS_RR_TYPE_A ? AF_INET : AF_INET6;
        size_t want = type == LDNS_RR_TYPE_A ? 4 : 16;
        if (!rd || ldns_rdf_size(rd) != want ||
            !inet_ntop(af, ldns_rdf_data(rd), rec->data, sizeof rec->data))
            return -1;
        return 1;
    }
    case LDNS_RR_TYPE_MX: {
        const ldns_rdf *host = ldns_rr_rd_count(rr) > 1 ? ldns_rr_rdf(rr, 1) : NULL;
        if (!rd || ldns_rdf_size(rd) != 2 || name_text(host, rec->data, sizeof rec->data) < 0)
            return -1;
        rec->preference = ldns_rdf2native_int16(rd);
        return 1;
    }
    default: /* NS, CNAME: one name */
        return name_text(rd, rec->data, sizeof rec->data) < 0 ? -1 : 1;
    }
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
    dns_answer_t *out; /* where the answer section's records go */
} walk_t;

/* Keeps rr, a record of the answer section, in w->out if it is of a type kept and fits. */
static void keep_record(walk_t *w, const ldns_rr *rr)
{
    dns_answer_t *out = w->out;
    if (out->n_records >= DNS_ANSWER_RECORDS_MAX) {
        if (dns_answer_type_name((uint16_t)ldns_rr_get_type(rr)) &&
            out->records_left_out < UINT16_MAX)
            out->records_left_out++;
        return;
    }
    int kept = record_of(rr, &out->records[out->n_records]);
    if (kept > 0)
        out->n_records++;
    else if (kept < 0 && out->records_left_out < UINT16_MAX)
        out->records_left_out++;
    if (kept <= 0)
        memset(&out->records[out->n_records], 0, sizeof out->records[0]);
}

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
            if (s == 1)
                keep_record(w, rr);
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
    walk_t w = {.out = out};
    char why[DNS_ANSWER_WHY_MAX] = "";
    ldns_status s = walk_records(pkt, len, want, qtype, &w, why, sizeof why);
    ldns_rdf_deep_free(want);
    if (s != LDNS_STATUS_OK) {
        if (tc) {
            /* Servers may cut a too-large answer anywhere; the header is all we need to
             * know that TCP must be tried. */
            memset(out->records, 0, sizeof out->records);
            out->n_records = out->records_left_out = 0;
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
