/* mrt: MRT framing and decoding into route events. A record is checked whole before any of
 * its events is delivered, so a malformed record contributes nothing rather than half. */
#include "mrt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BGP4MP_STATE_CHANGE 0
#define BGP4MP_MESSAGE 1
#define BGP4MP_MESSAGE_AS4 4
#define BGP4MP_STATE_CHANGE_AS4 5
#define BGP4MP_MESSAGE_LOCAL 6
#define BGP4MP_MESSAGE_AS4_LOCAL 7
#define TDV2_PEER_INDEX_TABLE 1
#define TDV2_RIB_IPV4_UNICAST 2
#define TDV2_RIB_IPV6_UNICAST 4
#define BGP_STATE_ESTABLISHED 6

struct mrt_decoder {
    mrt_peer_t *peers; /* the last PEER_INDEX_TABLE; NULL before one */
    size_t npeers;
    int have_table;
};

const char *mrt_skip_name(mrt_skip_t s)
{
    static const char *const names[MRT_SKIP_COUNT] = {
        "none", "type", "local", "not-update", "no-peer-table", "other-state", "path-too-long"};
    return s < MRT_SKIP_COUNT ? names[s] : "?";
}

int mrt_record_next(const uint8_t *buf, size_t len, mrt_record_t *rec, mrt_error_t *err)
{
    if (len < MRT_HEADER_LEN)
        return 0;
    uint32_t blen = bgp_get32(buf + 8);
    if (blen > MRT_RECORD_MAX)
        return bgp_error_set(err, 8, "MRT record length %u over the limit of %u", blen,
                             MRT_RECORD_MAX);
    if (len - MRT_HEADER_LEN < blen)
        return 0;
    memset(rec, 0, sizeof *rec);
    rec->ts_sec = bgp_get32(buf);
    rec->type = bgp_get16(buf + 4);
    rec->subtype = bgp_get16(buf + 6);
    rec->total_len = MRT_HEADER_LEN + (size_t)blen;
    rec->body_offset = MRT_HEADER_LEN;
    if (rec->type == MRT_TYPE_BGP4MP_ET) {
        /* RFC 6396 4.1: the length counts the microseconds field too. */
        if (blen < 4)
            return bgp_error_set(err, 8, "BGP4MP_ET record of %u bytes has no microseconds", blen);
        rec->ts_usec = bgp_get32(buf + MRT_HEADER_LEN);
        if (rec->ts_usec > 999999)
            return bgp_error_set(err, MRT_HEADER_LEN, "microseconds %u over 999999", rec->ts_usec);
        rec->body_offset += 4;
    }
    rec->body = buf + rec->body_offset;
    rec->body_len = rec->total_len - rec->body_offset;
    return 1;
}

mrt_decoder_t *mrt_decoder_new(void)
{
    return calloc(1, sizeof(mrt_decoder_t));
}

void mrt_decoder_destroy(mrt_decoder_t **d)
{
    if (!d || !*d)
        return;
    free((*d)->peers);
    free(*d);
    *d = NULL;
}

/* The BGP4MP header before the message or states: peer AS, local AS, interface, AFI, peer
 * and local addresses. Returns its length, or -1. */
static int bgp4mp_peer(const mrt_record_t *rec, int as4, mrt_peer_t *peer, mrt_error_t *err)
{
    size_t aw = as4 ? 4 : 2, off = rec->body_offset;
    const uint8_t *b = rec->body;
    size_t fixed = 2 * aw + 4;
    if (rec->body_len < fixed)
        return bgp_error_set(err, off, "BGP4MP header needs %zu bytes, the record has %zu", fixed,
                             rec->body_len);
    uint16_t afi = bgp_get16(b + 2 * aw + 2);
    if (afi != BGP_AFI_IPV4 && afi != BGP_AFI_IPV6)
        return bgp_error_set(err, off + 2 * aw + 2, "BGP4MP address family %u unknown", afi);
    size_t alen = afi == BGP_AFI_IPV6 ? 16 : 4;
    if (rec->body_len - fixed < 2 * alen)
        return bgp_error_set(err, off + fixed, "BGP4MP addresses need %zu bytes, %zu left",
                             2 * alen, rec->body_len - fixed);
    memset(peer, 0, sizeof *peer);
    peer->family = afi == BGP_AFI_IPV6 ? 6 : 4;
    peer->asn = as4 ? bgp_get32(b) : bgp_get16(b);
    memcpy(peer->addr, b + fixed, alen);
    return (int)(fixed + 2 * alen);
}

static int emit_update(const bgp_update_t *u, const mrt_route_t *base, mrt_route_fn fn, void *ctx,
                       mrt_skip_t *skip)
{
    char path[MRT_AS_PATH_TEXT_MAX];
    mrt_route_t r = *base;
    int rc;
    bgp_prefix_list_t lists[4] = {u->withdrawn, u->mp_unreach, u->nlri, u->mp_reach};
    int announces = u->nlri.len || u->mp_reach.len;
    int64_t origin = -1;
    if (announces && bgp_update_format_path(u, path, sizeof path, &origin) < 0) {
        /* Withdrawals still count: only the announcements lack a storable path. */
        *skip = MRT_SKIP_PATH_TOO_LONG;
        announces = 0;
    }
    for (int l = 0; l < 4; l++) {
        int announce = l >= 2;
        if (announce && !announces)
            break;
        r.kind = announce ? MRT_ANNOUNCE : MRT_WITHDRAW;
        r.as_path = announce ? path : "";
        r.origin_asn = announce ? origin : -1;
        bgp_prefix_list_t list = lists[l];
        while (bgp_update_next_prefix(&list, &r.prefix))
            if ((rc = fn(ctx, &r)) != 0)
                return rc;
    }
    return 0;
}

static int decode_bgp4mp(const mrt_record_t *rec, mrt_route_fn fn, void *ctx, mrt_skip_t *skip,
                         mrt_error_t *err)
{
    int as4, state = 0, local = 0;
    switch (rec->subtype) {
    case BGP4MP_STATE_CHANGE:
        as4 = 0, state = 1;
        break;
    case BGP4MP_STATE_CHANGE_AS4:
        as4 = 1, state = 1;
        break;
    case BGP4MP_MESSAGE:
        as4 = 0;
        break;
    case BGP4MP_MESSAGE_AS4:
        as4 = 1;
        break;
    case BGP4MP_MESSAGE_LOCAL:
        as4 = 0, local = 1;
        break;
    case BGP4MP_MESSAGE_AS4_LOCAL:
        as4 = 1, local = 1;
        break;
    default:
        *skip = MRT_SKIP_TYPE;
        return 0;
    }
    mrt_peer_t peer;
    int hl = bgp4mp_peer(rec, as4, &peer, err);
    if (hl < 0)
        return -1;
    const uint8_t *p = rec->body + hl;
    size_t left = rec->body_len - (size_t)hl, off = rec->body_offset + (size_t)hl;
    mrt_route_t r = {.ts_sec = rec->ts_sec,
                     .ts_usec = rec->ts_usec,
                     .peer = &peer,
                     .as_path = "",
                     .origin_asn = -1};
    if (state) {
        if (left != 4)
            return bgp_error_set(err, off, "state change needs 4 bytes of states, has %zu", left);
        uint16_t from = bgp_get16(p), to = bgp_get16(p + 2);
        if (to == BGP_STATE_ESTABLISHED && from != BGP_STATE_ESTABLISHED)
            r.kind = MRT_PEER_UP;
        else if (from == BGP_STATE_ESTABLISHED && to != BGP_STATE_ESTABLISHED)
            r.kind = MRT_PEER_DOWN;
        else {
            *skip = MRT_SKIP_OTHER_STATE;
            return 0;
        }
        return fn(ctx, &r);
    }
    bgp_update_t u;
    bgp_error_t berr;
    if (bgp_update_parse(p, left, as4, &u, &berr) < 0)
        return bgp_error_set(err, off + berr.offset, "%s", berr.what);
    if (local) {
        *skip = MRT_SKIP_LOCAL;
        return 0;
    }
    if (u.type != BGP_TYPE_UPDATE) {
        *skip = MRT_SKIP_NOT_UPDATE;
        return 0;
    }
    return emit_update(&u, &r, fn, ctx, skip);
}

static int decode_peer_table(mrt_decoder_t *d, const mrt_record_t *rec, mrt_error_t *err)
{
    const uint8_t *b = rec->body;
    size_t n = rec->body_len, off = rec->body_offset;
    if (n < 6)
        return bgp_error_set(err, off, "PEER_INDEX_TABLE of %zu bytes is shorter than its header",
                             n);
    size_t vlen = bgp_get16(b + 4);
    if (vlen + 2 > n - 6)
        return bgp_error_set(err, off + 4, "view name of %zu bytes, %zu left before the peer count",
                             vlen, n - 6);
    size_t i = 6 + vlen;
    size_t count = bgp_get16(b + i);
    i += 2;
    mrt_peer_t *peers = count ? calloc(count, sizeof *peers) : NULL;
    if (count && !peers)
        return bgp_error_set(err, off, "out of memory for %zu peers", count);
    for (size_t k = 0; k < count; k++) {
        if (i >= n) {
            free(peers);
            return bgp_error_set(err, off + i, "peer %zu of %zu missing", k, count);
        }
        uint8_t t = b[i];
        size_t alen = t & 1 ? 16 : 4, aw = t & 2 ? 4 : 2;
        if (1 + 4 + alen + aw > n - i) {
            free(peers);
            return bgp_error_set(err, off + i, "peer entry %zu needs %zu bytes, %zu left", k,
                                 1 + 4 + alen + aw, n - i);
        }
        peers[k].family = t & 1 ? 6 : 4;
        memcpy(peers[k].addr, b + i + 5, alen);
        peers[k].asn = aw == 4 ? bgp_get32(b + i + 5 + alen) : bgp_get16(b + i + 5 + alen);
        i += 1 + 4 + alen + aw;
    }
    if (i != n) {
        free(peers);
        return bgp_error_set(err, off + i, "%zu bytes after the last peer entry", n - i);
    }
    free(d->peers);
    d->peers = peers;
    d->npeers = count;
    d->have_table = 1;
    return 0;
}

/* RIB_IPV4/IPV6_UNICAST: sequence, prefix, entry count, entries (peer index, originated time,
 * attributes). Pass 0 checks everything, pass 1 delivers. */
static int decode_rib(mrt_decoder_t *d, const mrt_record_t *rec, uint8_t family, mrt_route_fn fn,
                      void *ctx, mrt_skip_t *skip, mrt_error_t *err)
{
    const uint8_t *b = rec->body;
    size_t n = rec->body_len, off = rec->body_offset;
    if (!d->have_table) {
        *skip = MRT_SKIP_NO_PEER_TABLE;
        return 0;
    }
    if (n < 5)
        return bgp_error_set(err, off, "RIB record of %zu bytes is shorter than its header", n);
    unsigned bits = b[4], max = family == 6 ? 128 : 32;
    if (bits > max)
        return bgp_error_set(err, off + 4, "RIB prefix length %u longer than %u bits", bits, max);
    size_t plen_octets = (bits + 7) / 8;
    if (plen_octets > n - 5)
        return bgp_error_set(err, off + 4, "RIB prefix /%u needs %zu octets, %zu left", bits,
                             plen_octets, n - 5);
    bgp_prefix_list_t pl = {b + 4, 1 + plen_octets, family};
    mrt_route_t r = {.kind = MRT_ANNOUNCE, .ts_sec = rec->ts_sec, .ts_usec = rec->ts_usec};
    bgp_update_next_prefix(&pl, &r.prefix);
    size_t start = 5 + plen_octets;
    if (n - start < 2)
        return bgp_error_set(err, off + start, "RIB record cut short before its entry count");
    size_t count = bgp_get16(b + start);
    for (int pass = 0; pass < 2; pass++) {
        size_t i = start + 2;
        for (size_t k = 0; k < count; k++) {
            if (n - i < 8)
                return bgp_error_set(err, off + i, "RIB entry %zu of %zu cut short", k, count);
            size_t idx = bgp_get16(b + i), alen = bgp_get16(b + i + 6);
            if (idx >= d->npeers)
                return bgp_error_set(err, off + i, "RIB entry names peer %zu of a table of %zu",
                                     idx, d->npeers);
            if (alen > n - i - 8)
                return bgp_error_set(err, off + i + 6,
                                     "RIB entry attributes of %zu bytes, %zu left", alen,
                                     n - i - 8);
            bgp_update_t u;
            memset(&u, 0, sizeof u);
            bgp_error_t berr;
            /* RFC 6396 4.3.4: AS_PATH in a RIB entry is always 4-byte. */
            if (bgp_update_parse_attrs(b + i + 8, alen, 1, 0, &u, &berr) < 0)
                return bgp_error_set(err, off + i + 8 + berr.offset, "%s", berr.what);
            if (pass == 1) {
                char path[MRT_AS_PATH_TEXT_MAX];
                if (bgp_update_format_path(&u, path, sizeof path, &r.origin_asn) < 0) {
                    *skip = MRT_SKIP_PATH_TOO_LONG;
                } else {
                    r.peer = &d->peers[idx];
                    r.as_path = path;
                    int rc = fn(ctx, &r);
                    if (rc)
                        return rc;
                }
            }
            i += 8 + alen;
        }
        if (pass == 0 && i != n)
            return bgp_error_set(err, off + i, "%zu bytes after the last RIB entry", n - i);
    }
    return 0;
}

int mrt_decoder_decode(mrt_decoder_t *d, const mrt_record_t *rec, mrt_route_fn fn, void *ctx,
                       mrt_skip_t *skip, mrt_error_t *err)
{
    *skip = MRT_SKIP_NONE;
    if (rec->type == MRT_TYPE_BGP4MP || rec->type == MRT_TYPE_BGP4MP_ET)
        return decode_bgp4mp(rec, fn, ctx, skip, err);
    if (rec->type == MRT_TYPE_TABLE_DUMP_V2) {
        switch (rec->subtype) {
        case TDV2_PEER_INDEX_TABLE:
            return decode_peer_table(d, rec, err);
        case TDV2_RIB_IPV4_UNICAST:
            return decode_rib(d, rec, 4, fn, ctx, skip, err);
        case TDV2_RIB_IPV6_UNICAST:
            return decode_rib(d, rec, 6, fn, ctx, skip, err);
        default:
            break;
        }
    }
    *skip = MRT_SKIP_TYPE;
    return 0;
}
