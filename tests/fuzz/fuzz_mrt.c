/* fuzz_mrt: fuzz target for the MRT framing and decoder (routes/mrt.h, bgp_update.h). Input:
 * an MRT file. Every record is framed and decoded twice with fresh decoders; the two runs must
 * agree, every refusal must say why and point inside its record, and every route must be well
 * formed: a prefix of its family no longer than the family allows with no host bits set, an
 * AS path of digits, spaces and balanced sets whose last AS is the origin. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz_mrt: %s\n", what);
    abort();
}

typedef struct digest {
    uint64_t hash;
    size_t routes;
} digest_t;

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211u;
    return h;
}

static void check_path(const mrt_route_t *r)
{
    const char *s = r->as_path;
    int depth = 0;
    uint64_t last = 0;
    int have_last = 0, last_in_set = 0;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            if (i == 0 || s[i - 1] < '0' || s[i - 1] > '9')
                last = 0;
            last = last * 10 + (uint64_t)(c - '0');
            if (last > UINT32_MAX)
                fuzz_fail("AS number wider than 32 bits");
            have_last = 1;
            last_in_set = depth;
        } else if (c == '{') {
            if (depth++)
                fuzz_fail("nested set");
        } else if (c == '}') {
            if (!depth--)
                fuzz_fail("unbalanced set");
        } else if (c != ' ' && !(c == ',' && depth)) {
            fuzz_fail("unexpected character in AS path");
        }
    }
    if (depth)
        fuzz_fail("unclosed set");
    int64_t want = have_last && !last_in_set ? (int64_t)last : -1;
    if (r->origin_asn != want)
        fuzz_fail("origin AS is not the path's last AS");
}

static int on_route(void *ctx, const mrt_route_t *r)
{
    digest_t *d = ctx;
    if (r->kind > MRT_PEER_DOWN || !r->peer || (r->peer->family != 4 && r->peer->family != 6))
        fuzz_fail("route kind or peer out of range");
    if (r->ts_usec > 999999)
        fuzz_fail("microseconds out of range");
    if (r->kind == MRT_ANNOUNCE || r->kind == MRT_WITHDRAW) {
        const bgp_prefix_t *p = &r->prefix;
        unsigned max = p->family == 6 ? 128 : p->family == 4 ? 32 : 0;
        if (!max || p->len > max)
            fuzz_fail("prefix of no family or too long");
        for (unsigned bit = p->len; bit < 128; bit++)
            if (p->addr[bit / 8] & (0x80 >> (bit % 8)))
                fuzz_fail("host bits set in a prefix");
        char text[64];
        bgp_update_format_prefix(p, text, sizeof text);
        if (!strchr(text, '/'))
            fuzz_fail("prefix does not format");
    }
    if (r->kind == MRT_ANNOUNCE)
        check_path(r);
    d->hash = mix(d->hash, &r->kind, sizeof r->kind);
    d->hash = mix(d->hash, r->peer, sizeof *r->peer);
    if (r->kind == MRT_ANNOUNCE || r->kind == MRT_WITHDRAW)
        d->hash = mix(d->hash, &r->prefix, sizeof r->prefix);
    if (r->kind == MRT_ANNOUNCE)
        d->hash = mix(d->hash, r->as_path, strlen(r->as_path));
    d->routes++;
    return 0;
}

static digest_t run(const uint8_t *data, size_t size)
{
    digest_t d = {14695981039346656037u, 0};
    mrt_decoder_t *dec = mrt_decoder_new();
    if (!dec)
        return d;
    size_t at = 0;
    for (;;) {
        mrt_record_t rec;
        mrt_error_t err = {0, ""};
        int rc = mrt_record_next(data + at, size - at, &rec, &err);
        if (rc == 0)
            break;
        if (rc < 0) {
            if (!err.what[0] || err.offset >= MRT_HEADER_LEN + 4)
                fuzz_fail("framing refusal without a reason or outside the header");
            break;
        }
        if (rec.total_len > size - at || rec.body_offset + rec.body_len != rec.total_len)
            fuzz_fail("record larger than the input");
        mrt_skip_t skip;
        err.what[0] = '\0';
        rc = mrt_decoder_decode(dec, &rec, on_route, &d, &skip, &err);
        if (rc < 0 && (!err.what[0] || err.offset > rec.total_len))
            fuzz_fail("decode refusal without a reason or past its record");
        if (skip >= MRT_SKIP_COUNT)
            fuzz_fail("skip reason out of range");
        d.hash = mix(d.hash, &rc, sizeof rc);
        d.hash = mix(d.hash, &skip, sizeof skip);
        at += rec.total_len;
    }
    mrt_decoder_destroy(&dec);
    if (dec)
        fuzz_fail("destroy did not clear the pointer");
    return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    digest_t a = run(data, size), b = run(data, size);
    if (a.hash != b.hash || a.routes != b.routes)
        fuzz_fail("not deterministic");
    return 0;
}
