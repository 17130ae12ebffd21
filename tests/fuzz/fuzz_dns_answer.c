/* fuzz_dns_answer: fuzz target for dns_answer_parse(). Input: one control byte, then the
 * reply packet. Control bits 0-2 pick the query type, bit 3 makes the query id the packet's
 * own (so the fuzzer gets past the id check at once), bits 4-5 pick the query name. Judging
 * must never crash, must explain every refusal, must be deterministic, and what it reports
 * must fit in the packet; the records it keeps are of the five types, only from a valid
 * answer, at most the maximum, with whole lower-case names and addresses that read back. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_answer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz_dns_answer: %s\n", what);
    abort();
}

/* A name as dns_answer promises it: ended inside its buffer, ending in a dot, no upper case,
 * nothing outside printable ASCII (odd bytes are escaped). */
static void check_name(const char *name)
{
    const char *end = memchr(name, '\0', DNS_ANSWER_NAME_MAX);
    if (!end || end == name || end[-1] != '.')
        fuzz_fail("a record name not ended, empty or without its final dot");
    for (const char *c = name; c < end; c++)
        if ((*c >= 'A' && *c <= 'Z') || *c <= ' ' || *c > '~')
            fuzz_fail("a record name with upper case or an unescaped byte");
}

static void check_records(const dns_answer_t *a, size_t len)
{
    if (a->n_records > DNS_ANSWER_RECORDS_MAX)
        fuzz_fail("more records than the maximum");
    /* Every record takes at least 11 bytes (root name, type, class, ttl, rdlength). */
    if (((size_t)a->n_records + a->records_left_out) * 11 > len)
        fuzz_fail("more records than the packet can hold");
    if (a->n_records + a->records_left_out > a->answers)
        fuzz_fail("more records than the answer section counts");
    for (unsigned i = 0; i < a->n_records; i++) {
        const dns_answer_record_t *r = &a->records[i];
        const char *type = dns_answer_type_name(r->type);
        if (!type)
            fuzz_fail("a record of a type not kept");
        if (r->preference && r->type != 15)
            fuzz_fail("a preference on a record that is not an MX");
        check_name(r->name);
        if (r->type == 1 || r->type == 28) {
            unsigned char bin[16];
            if (!memchr(r->data, '\0', sizeof r->data) ||
                inet_pton(r->type == 1 ? AF_INET : AF_INET6, r->data, bin) != 1)
                fuzz_fail("an address record whose address does not read back");
        } else {
            check_name(r->data);
        }
    }
    /* Slots past the records are left empty. */
    for (unsigned i = a->n_records; i < DNS_ANSWER_RECORDS_MAX; i++)
        if (a->records[i].type || a->records[i].name[0] || a->records[i].data[0])
            fuzz_fail("a record slot past n_records is not empty");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint16_t qtypes[] = {1, 2, 6, 15, 16, 28, 255, 65};
    static const char *const qnames[] = {"www.parallax.test.", "parallax.test", ".",
                                         "a.b.c.d.e.f.g.h.parallax.test."};
    if (size < 1)
        return 0;
    uint8_t ctl = data[0];
    const uint8_t *pkt = data + 1;
    size_t len = size - 1;
    uint16_t qtype = qtypes[ctl & 7];
    const char *qname = qnames[(ctl >> 4) & 3];
    uint16_t id = 0x1234;
    if ((ctl & 8) && len >= 2)
        id = (uint16_t)(pkt[0] << 8 | pkt[1]);

    dns_answer_t a, b;
    dns_answer_verdict_t v = dns_answer_parse(id, qname, qtype, pkt, len, &a);
    if (v != a.verdict || v > DNS_ANSWER_WRONG_QUESTION)
        fuzz_fail("verdict out of range or not stored");
    if (dns_answer_parse(id, qname, qtype, pkt, len, &b) != v || memcmp(&a, &b, sizeof a) != 0)
        fuzz_fail("not deterministic");
    if (v != DNS_ANSWER_VALID) {
        if (a.n_records || a.records_left_out)
            fuzz_fail("records from a packet that is not a valid answer");
        if (!a.why[0] || memchr(a.why, '\0', sizeof a.why) == NULL)
            fuzz_fail("refused without a reason");
        return 0;
    }
    if (len < 12)
        fuzz_fail("valid answer shorter than a header");
    if (a.rcode > 0xfff)
        fuzz_fail("rcode wider than 12 bits");
    if (!a.has_soa && a.soa_serial)
        fuzz_fail("a serial without an SOA");
    /* Every record takes at least 11 bytes (root name, type, class, ttl, rdlength). */
    if (!a.tc && (size_t)a.answers * 11 > len)
        fuzz_fail("more answers than the packet can hold");
    check_records(&a, len);
    char buf[16];
    if (!dns_answer_rcode_name(a.rcode, buf, sizeof buf)[0])
        fuzz_fail("rcode without a name");
    return 0;
}
