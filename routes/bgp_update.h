/* bgp_update: reads one BGP message (RFC 4271) and, if it is an UPDATE, its withdrawn routes,
 * path attributes (ORIGIN, AS_PATH in 2- or 4-byte form, MP_REACH_NLRI / MP_UNREACH_NLRI of
 * RFC 4760) and NLRI. Pure: no I/O, no allocation; the bytes are hostile and every length is
 * checked before use. Pointers in the result point into the caller's message. */
#ifndef PX_BGP_UPDATE_H
#define PX_BGP_UPDATE_H

#include <stddef.h>
#include <stdint.h>

#define BGP_HEADER_LEN 19
#define BGP_TYPE_UPDATE 2
#define BGP_AFI_IPV4 1
#define BGP_AFI_IPV6 2
#define BGP_WHY_MAX 160

/* What was wrong and where: offset counts bytes from the start of the message. */
typedef struct bgp_error {
    size_t offset;
    char what[BGP_WHY_MAX];
} bgp_error_t;

/* Fills *err (if not NULL) with offset and the printf-style message; returns -1, so a parser
 * can `return bgp_error_set(...)`. Shared by the MRT decoder, whose errors are the same. */
int bgp_error_set(bgp_error_t *err, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Big-endian reads; the caller has checked the length. */
static inline uint16_t bgp_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t bgp_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A prefix: family 4 or 6, len in bits (<= 32 or 128), addr with the host bits zero. */
typedef struct bgp_prefix {
    uint8_t family;
    uint8_t len;
    uint8_t addr[16];
} bgp_prefix_t;

/* A run of encoded prefixes of one family (length byte, then the significant octets),
 * already checked to parse completely by bgp_update_parse(). */
typedef struct bgp_prefix_list {
    const uint8_t *data;
    size_t len;
    uint8_t family;
} bgp_prefix_list_t;

/* An UPDATE taken apart. Lists with len 0 are empty; as_path is NULL without AS_PATH. */
typedef struct bgp_update {
    uint8_t type;                 /* the message type; the rest is filled for UPDATEs only */
    bgp_prefix_list_t withdrawn;  /* IPv4 withdrawn routes */
    bgp_prefix_list_t nlri;       /* IPv4 announced routes */
    bgp_prefix_list_t mp_reach;   /* MP_REACH_NLRI's prefixes (unicast IPv4/IPv6 only) */
    bgp_prefix_list_t mp_unreach; /* MP_UNREACH_NLRI's prefixes (unicast IPv4/IPv6 only) */
    const uint8_t *as_path;       /* AS_PATH's value (segments) */
    size_t as_path_len;
    uint8_t as4;             /* AS numbers in as_path are 4 bytes wide */
    const uint8_t *as4_path; /* AS4_PATH's value (4-byte ASes), NULL if absent or malformed */
    size_t as4_path_len;
    int origin;       /* ORIGIN (0 IGP, 1 EGP, 2 INCOMPLETE), -1 if absent */
    uint8_t mp_other; /* an MP attribute of another AFI/SAFI was ignored */
} bgp_update_t;

/* Parses the len bytes at msg as one BGP message (marker, length, type). as4 says whether
 * the session uses 4-byte AS numbers (BGP4MP_MESSAGE_AS4, TABLE_DUMP_V2). A non-UPDATE
 * message parses with only type set. Returns 0, or -1 with *err (optional) saying what and
 * where. */
int bgp_update_parse(const uint8_t *msg, size_t len, int as4, bgp_update_t *out, bgp_error_t *err);

/* Parses the path attributes at attrs (len bytes) into *out's attribute fields, as in an
 * UPDATE; base is added to error offsets. TABLE_DUMP_V2 RIB entries carry attributes alone. */
int bgp_update_parse_attrs(const uint8_t *attrs, size_t len, int as4, size_t base,
                           bgp_update_t *out, bgp_error_t *err);

/* Checks that the len bytes at data are whole prefixes of family (4 or 6). Returns the number
 * of prefixes, or -1 with *err (offsets from base). */
int bgp_update_check_prefixes(const uint8_t *data, size_t len, uint8_t family, size_t base,
                              bgp_error_t *err);

/* Takes the next prefix off a list checked by bgp_update_check_prefixes(): returns 1 and
 * advances *list, 0 at its end. */
int bgp_update_next_prefix(bgp_prefix_list_t *list, bgp_prefix_t *out);

/* Writes AS_PATH as text into buf (cap bytes): ASNs separated by spaces, a set as {a,b}; on a
 * 2-byte session with AS4_PATH, merged as RFC 6793 4.2.3 says (AS_TRANS replaced).
 * *origin_asn gets the last AS of the path, or -1 when the path is empty or ends in a set.
 * Returns the text's length, or -1 if it does not fit (buf then holds ""). */
int bgp_update_format_path(const bgp_update_t *u, char *buf, size_t cap, int64_t *origin_asn);

/* Writes a prefix as "a.b.c.d/len" or IPv6 text into buf (at least 50 bytes). */
void bgp_update_format_prefix(const bgp_prefix_t *p, char *buf, size_t cap);

#endif
