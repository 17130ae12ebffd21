/* fuzz_dns_answer: fuzz target for dns_answer_parse(). Input: one control byte, then the
 * reply packet. Control bits 0-2 pick the query type, bit 3 makes the query id the packet's
 * own (so the fuzzer gets past the id check at once), bits 4-5 pick the query name. Judging
 * must never crash, must explain every refusal, must be deterministic, and what it reports
 * must fit in the packet. */
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
    char buf[16];
    if (!dns_answer_rcode_name(a.rcode, buf, sizeof buf)[0])
        fuzz_fail("rcode without a name");
    return 0;
}
