/* bgp_update: BGP UPDATE decoding for the MRT importer. Every read is preceded by a length
 * check against what is left of the enclosing field, so a lie in any length is an error
 * naming the field and its offset, never a read past the message. */
#include "bgp_update.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define ATTR_ORIGIN 1
#define ATTR_AS_PATH 2
#define ATTR_MP_REACH 14
#define ATTR_MP_UNREACH 15
#define ATTR_AS4_PATH 17
#define ATTR_FLAG_EXTENDED 0x10
#define SEG_AS_SET 1
#define SEG_AS_SEQUENCE 2
#define SEG_CONFED_SEQUENCE 3
#define SEG_CONFED_SET 4
#define SAFI_UNICAST 1

int bgp_error_set(bgp_error_t *err, size_t offset, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->offset = offset;
        vsnprintf(err->what, sizeof err->what, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int bgp_update_check_prefixes(const uint8_t *data, size_t len, uint8_t family, size_t base,
                              bgp_error_t *err)
{
    unsigned max = family == 6 ? 128 : 32;
    size_t i = 0;
    int n = 0;
    while (i < len) {
        unsigned bits = data[i];
        if (bits > max)
            return bgp_error_set(err, base + i, "prefix length %u longer than %u bits", bits, max);
        size_t octets = (bits + 7) / 8;
        if (octets > len - i - 1)
            return bgp_error_set(err, base + i, "prefix /%u needs %zu octets, %zu left", bits,
                                 octets, len - i - 1);
        i += 1 + octets;
        n++;
    }
    return n;
}

int bgp_update_next_prefix(bgp_prefix_list_t *list, bgp_prefix_t *out)
{
    if (list->len == 0)
        return 0;
    unsigned bits = list->data[0];
    size_t octets = (bits + 7) / 8;
    memset(out, 0, sizeof *out);
    out->family = list->family;
    out->len = (uint8_t)bits;
    memcpy(out->addr, list->data + 1, octets);
    /* Trailing bits past the length are not part of the prefix; a sender may leave junk. */
    if (bits % 8)
        out->addr[octets - 1] &= (uint8_t)(0xff << (8 - bits % 8));
    list->data += 1 + octets;
    list->len -= 1 + octets;
    return 1;
}

static int check_as_path(const uint8_t *p, size_t len, int as4, size_t base, bgp_error_t *err)
{
    size_t w = as4 ? 4 : 2;
    size_t i = 0;
    while (i < len) {
        if (len - i < 2)
            return bgp_error_set(err, base + i, "AS_PATH segment header cut short (%zu bytes left)",
                                 len - i);
        unsigned type = p[i], count = p[i + 1];
        if (type < SEG_AS_SET || type > SEG_CONFED_SET)
            return bgp_error_set(err, base + i, "AS_PATH segment type %u unknown", type);
        if (count == 0)
            return bgp_error_set(err, base + i, "AS_PATH segment with no AS");
        if (count * w > len - i - 2)
            return bgp_error_set(err, base + i,
                                 "AS_PATH segment of %u ASes needs %zu bytes, %zu left", count,
                                 count * w, len - i - 2);
        i += 2 + count * w;
    }
    return 0;
}

/* MP_REACH_NLRI: AFI, SAFI, next hop length and next hop, a reserved octet, then NLRI. */
static int parse_mp(const uint8_t *v, size_t len, int reach, size_t base, bgp_update_t *out,
                    bgp_error_t *err)
{
    const char *name = reach ? "MP_REACH_NLRI" : "MP_UNREACH_NLRI";
    if (len < 3)
        return bgp_error_set(err, base, "%s of %zu bytes is shorter than AFI and SAFI", name, len);
    uint16_t afi = bgp_get16(v);
    uint8_t safi = v[2];
    size_t i = 3;
    if (reach) {
        if (len < 5)
            return bgp_error_set(err, base + 3,
                                 "MP_REACH_NLRI cut short before the next hop length");
        size_t nh = v[3];
        if (nh + 1 > len - 4)
            return bgp_error_set(err, base + 3, "MP_REACH_NLRI next hop of %zu bytes, %zu left", nh,
                                 len - 4);
        i = 4 + nh + 1; /* next hop and the reserved octet */
    }
    if (safi != SAFI_UNICAST || (afi != BGP_AFI_IPV4 && afi != BGP_AFI_IPV6)) {
        out->mp_other = 1;
        return 0;
    }
    uint8_t family = afi == BGP_AFI_IPV6 ? 6 : 4;
    if (bgp_update_check_prefixes(v + i, len - i, family, base + i, err) < 0)
        return -1;
    bgp_prefix_list_t *l = reach ? &out->mp_reach : &out->mp_unreach;
    if (l->len)
        return bgp_error_set(err, base, "%s twice", name);
    l->data = v + i;
    l->len = len - i;
    l->family = family;
    return 0;
}

int bgp_update_parse_attrs(const uint8_t *attrs, size_t len, int as4, size_t base,
                           bgp_update_t *out, bgp_error_t *err)
{
    size_t i = 0;
    int seen_path = 0;
    out->as4 = as4 ? 1 : 0;
    while (i < len) {
        if (len - i < 3)
            return bgp_error_set(err, base + i, "path attribute header cut short (%zu bytes left)",
                                 len - i);
        uint8_t flags = attrs[i], type = attrs[i + 1];
        size_t hdr = flags & ATTR_FLAG_EXTENDED ? 4 : 3;
        if (len - i < hdr)
            return bgp_error_set(err, base + i, "extended attribute header cut short");
        size_t alen = hdr == 4 ? bgp_get16(attrs + i + 2) : attrs[i + 2];
        if (alen > len - i - hdr)
            return bgp_error_set(err, base + i, "attribute %u of %zu bytes, %zu left", type, alen,
                                 len - i - hdr);
        const uint8_t *v = attrs + i + hdr;
        size_t vbase = base + i + hdr;
        switch (type) {
        case ATTR_ORIGIN:
            if (alen != 1)
                return bgp_error_set(err, base + i, "ORIGIN of %zu bytes, not 1", alen);
            if (v[0] > 2)
                return bgp_error_set(err, vbase, "ORIGIN %u unknown", v[0]);
            out->origin = v[0];
            break;
        case ATTR_AS_PATH:
            if (seen_path++)
                return bgp_error_set(err, base + i, "AS_PATH twice");
            if (check_as_path(v, alen, as4, vbase, err) < 0)
                return -1;
            out->as_path = v;
            out->as_path_len = alen;
            break;
        case ATTR_AS4_PATH:
            /* RFC 6793 6: a malformed AS4_PATH is discarded, the UPDATE stands. */
            if (!out->as4_path && check_as_path(v, alen, 1, vbase, NULL) == 0) {
                out->as4_path = v;
                out->as4_path_len = alen;
            }
            break;
        case ATTR_MP_REACH:
        case ATTR_MP_UNREACH:
            if (parse_mp(v, alen, type == ATTR_MP_REACH, vbase, out, err) < 0)
                return -1;
            break;
        default:
            break; /* communities, next hop, MED...: not needed for visibility */
        }
        i += hdr + alen;
    }
    return 0;
}

int bgp_update_parse(const uint8_t *msg, size_t len, int as4, bgp_update_t *out, bgp_error_t *err)
{
    memset(out, 0, sizeof *out);
    out->origin = -1;
    out->withdrawn.family = out->nlri.family = 4;
    if (len < BGP_HEADER_LEN)
        return bgp_error_set(err, 0, "BGP message of %zu bytes is shorter than its header", len);
    for (int i = 0; i < 16; i++)
        if (msg[i] != 0xff)
            return bgp_error_set(err, (size_t)i, "BGP marker is not all ones");
    uint16_t mlen = bgp_get16(msg + 16);
    if (mlen < BGP_HEADER_LEN || mlen != len)
        return bgp_error_set(err, 16, "BGP length %u, but the message has %zu bytes", mlen, len);
    out->type = msg[18];
    if (out->type != BGP_TYPE_UPDATE)
        return 0;
    size_t i = BGP_HEADER_LEN;
    if (len - i < 2)
        return bgp_error_set(err, i, "UPDATE cut short before the withdrawn routes length");
    size_t wlen = bgp_get16(msg + i);
    i += 2;
    if (wlen > len - i)
        return bgp_error_set(err, i - 2, "withdrawn routes length %zu, %zu bytes left", wlen,
                             len - i);
    if (bgp_update_check_prefixes(msg + i, wlen, 4, i, err) < 0)
        return -1;
    out->withdrawn.data = msg + i;
    out->withdrawn.len = wlen;
    i += wlen;
    if (len - i < 2)
        return bgp_error_set(err, i, "UPDATE cut short before the path attributes length");
    size_t alen = bgp_get16(msg + i);
    i += 2;
    if (alen > len - i)
        return bgp_error_set(err, i - 2, "path attributes length %zu, %zu bytes left", alen,
                             len - i);
    if (bgp_update_parse_attrs(msg + i, alen, as4, i, out, err) < 0)
        return -1;
    i += alen;
    if (bgp_update_check_prefixes(msg + i, len - i, 4, i, err) < 0)
        return -1;
    out->nlri.data = msg + i;
    out->nlri.len = len - i;
    return 0;
}

static int put(char *buf, size_t cap, size_t *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int put(char *buf, size_t cap, size_t *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *at, cap - *at, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *at)
        return -1;
    *at += (size_t)n;
    return 0;
}

/* ASes a path counts for RFC 6793's merge: a set counts one, confederation segments none. */
static size_t path_count(const uint8_t *p, size_t len, size_t w)
{
    size_t n = 0;
    for (size_t i = 0; i + 2 <= len; i += 2 + (size_t)p[i + 1] * w)
        n += p[i] == SEG_AS_SEQUENCE ? p[i + 1] : p[i] == SEG_AS_SET ? 1 : 0;
    return n;
}

typedef struct path_text {
    char *buf;
    size_t cap, at;
    int64_t origin;
} path_text_t;

/* Appends the segments of a path (w-byte ASes) up to limit counted ASes (SIZE_MAX: all). */
static int path_write(path_text_t *t, const uint8_t *p, size_t len, size_t w, size_t limit)
{
    for (size_t i = 0; i + 2 <= len && limit > 0; i += 2 + (size_t)p[i + 1] * w) {
        unsigned type = p[i], count = p[i + 1];
        int set = type == SEG_AS_SET || type == SEG_CONFED_SET;
        if (type == SEG_AS_SEQUENCE && count > limit)
            count = (unsigned)limit;
        if (type == SEG_AS_SEQUENCE)
            limit -= count;
        else if (type == SEG_AS_SET)
            limit--;
        if (put(t->buf, t->cap, &t->at, "%s%s", t->at ? " " : "", set ? "{" : "") < 0)
            return -1;
        for (unsigned k = 0; k < count; k++) {
            uint32_t asn = w == 4 ? bgp_get32(p + i + 2 + k * w) : bgp_get16(p + i + 2 + k * w);
            if (put(t->buf, t->cap, &t->at, "%s%" PRIu32, k ? (set ? "," : " ") : "", asn) < 0)
                return -1;
            t->origin = set ? -1 : (int64_t)asn;
        }
        if (set && put(t->buf, t->cap, &t->at, "}") < 0)
            return -1;
    }
    return 0;
}

int bgp_update_format_path(const bgp_update_t *u, char *buf, size_t cap, int64_t *origin_asn)
{
    path_text_t t = {buf, cap, 0, -1};
    *origin_asn = -1;
    if (cap == 0)
        return -1;
    buf[0] = '\0';
    size_t w = u->as4 ? 4 : 2, keep = SIZE_MAX;
    /* RFC 6793 4.2.3: a 2-byte session carries the real path in AS4_PATH; it replaces the
     * tail of AS_PATH unless it claims more ASes than AS_PATH has (then it is ignored). */
    size_t n = path_count(u->as_path, u->as_path_len, w);
    size_t m = u->as4_path ? path_count(u->as4_path, u->as4_path_len, 4) : 0;
    int merge = !u->as4 && u->as4_path && n >= m;
    if (merge)
        keep = n - m;
    if (u->as_path && keep > 0 && path_write(&t, u->as_path, u->as_path_len, w, keep) < 0)
        goto full;
    if (merge && path_write(&t, u->as4_path, u->as4_path_len, 4, SIZE_MAX) < 0)
        goto full;
    *origin_asn = t.origin;
    return (int)t.at;
full:
    buf[0] = '\0';
    *origin_asn = -1;
    return -1;
}

void bgp_update_format_prefix(const bgp_prefix_t *p, char *buf, size_t cap)
{
    char addr[INET6_ADDRSTRLEN];
    if (!inet_ntop(p->family == 6 ? AF_INET6 : AF_INET, p->addr, addr, sizeof addr))
        addr[0] = '\0';
    snprintf(buf, cap, "%s/%u", addr, p->len);
}
