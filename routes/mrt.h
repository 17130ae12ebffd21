/* mrt: MRT record framing (RFC 6396) and the routes its records carry: BGP4MP and BGP4MP_ET
 * messages and state changes (2- and 4-byte AS), TABLE_DUMP_V2 peer index tables and IPv4/IPv6
 * unicast RIBs. Pure: no I/O; the bytes are hostile. Other types are skipped with a reason. */
#ifndef PX_MRT_H
#define PX_MRT_H

#include <stddef.h>
#include <stdint.h>

#include "bgp_update.h"

#define MRT_HEADER_LEN 12
/* A record longer than this is refused: BGP messages are at most 65535 bytes, and a RIB
 * entry list bigger than this is no MRT file we can read with bounded memory. */
#define MRT_RECORD_MAX (4u << 20)
#define MRT_TYPE_TABLE_DUMP_V2 13
#define MRT_TYPE_BGP4MP 16
#define MRT_TYPE_BGP4MP_ET 17
#define MRT_AS_PATH_TEXT_MAX 4096

/* What was wrong and where: offset counts bytes from the start of the record. */
typedef bgp_error_t mrt_error_t;

/* One record's framing; body points into the caller's buffer (after the ET microseconds). */
typedef struct mrt_record {
    uint32_t ts_sec;
    uint32_t ts_usec; /* BGP4MP_ET only, else 0 */
    uint16_t type;
    uint16_t subtype;
    const uint8_t *body;
    size_t body_len;
    size_t body_offset; /* where body starts in the record (12, or 16 with _ET) */
    size_t total_len;   /* header and body: where the next record starts */
} mrt_record_t;

/* Reads the record at the start of buf (len bytes). Returns 1 and fills *rec, 0 if buf holds
 * less than a whole record (read more and call again), -1 with *err if the header is
 * unusable (a length over MRT_RECORD_MAX, or an _ET record too short for its microseconds). */
int mrt_record_next(const uint8_t *buf, size_t len, mrt_record_t *rec, mrt_error_t *err);

typedef enum mrt_route_kind {
    MRT_ANNOUNCE = 0,
    MRT_WITHDRAW,
    MRT_PEER_UP,
    MRT_PEER_DOWN
} mrt_route_kind_t;

/* The BGP peer a route came from, as the record names it. */
typedef struct mrt_peer {
    uint8_t family; /* 4 or 6 */
    uint8_t addr[16];
    uint32_t asn;
} mrt_peer_t;

/* One route event; pointers are valid during the callback only. */
typedef struct mrt_route {
    mrt_route_kind_t kind;
    uint32_t ts_sec, ts_usec;
    const mrt_peer_t *peer;
    bgp_prefix_t prefix; /* announce and withdraw */
    const char *as_path; /* announce: text ("64500 64501", sets as {a,b}); "" if empty */
    int64_t origin_asn;  /* announce: last AS of the path, -1 if none or a set */
} mrt_route_t;

/* Called for every route event of a record; a nonzero return stops the record's decoding and
 * is returned by mrt_decoder_decode(). */
typedef int (*mrt_route_fn)(void *ctx, const mrt_route_t *route);

/* Why a whole record carried no routes (not an error: the file goes on). */
typedef enum mrt_skip {
    MRT_SKIP_NONE = 0,
    MRT_SKIP_TYPE,          /* a type or subtype we do not read (TABLE_DUMP, OSPF, ADD-PATH...) */
    MRT_SKIP_LOCAL,         /* BGP4MP_MESSAGE_LOCAL: what the collector sent, not what it heard */
    MRT_SKIP_NOT_UPDATE,    /* OPEN, KEEPALIVE, NOTIFICATION, ROUTE-REFRESH */
    MRT_SKIP_NO_PEER_TABLE, /* a RIB record before any PEER_INDEX_TABLE */
    MRT_SKIP_OTHER_STATE,   /* a state change that neither reaches nor leaves Established */
    MRT_SKIP_PATH_TOO_LONG, /* an AS_PATH longer than MRT_AS_PATH_TEXT_MAX as text */
    MRT_SKIP_COUNT
} mrt_skip_t;

/* "type", "local", ...: short names for the importer's counts. */
const char *mrt_skip_name(mrt_skip_t s);

/* State kept across records: the last PEER_INDEX_TABLE. */
typedef struct mrt_decoder mrt_decoder_t;

/* Returns a decoder (caller owns it; mrt_decoder_destroy), NULL if out of memory. */
mrt_decoder_t *mrt_decoder_new(void);
void mrt_decoder_destroy(mrt_decoder_t **d);

/* Decodes one record: calls fn for each route event in it, in order. Returns 0 (with *skip
 * telling whether the record was skipped whole), -1 with *err if the record is malformed (no
 * events of it were delivered: the record is checked whole first), or fn's nonzero return. */
int mrt_decoder_decode(mrt_decoder_t *d, const mrt_record_t *rec, mrt_route_fn fn, void *ctx,
                       mrt_skip_t *skip, mrt_error_t *err);

#endif
