/* wire: the only place bytes from the network become messages. Packs and unpacks the
 * Envelope (proto/parallax.proto), unpacking under a memory budget and validating every field
 * afterwards, so the rest of the code can trust what it gets from wire_unpack(). */
#ifndef PX_WIRE_H
#define PX_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "parallax.pb-c.h"

/* Protocol version spoken by this build. */
#define PX_PROTOCOL_VERSION 1

/* Largest message the coordinator accepts (ZMQ_MAXMSGSIZE on its socket). */
#define PX_WIRE_MAX_TO_COORD (256 * 1024)
/* Largest message an agent accepts: schedules can be big. */
#define PX_WIRE_MAX_TO_AGENT (8 * 1024 * 1024)

#define PX_WIRE_MAX_RESULTS 1000 /* results in one batch */
#define PX_WIRE_MAX_GAPS 64      /* gap records in one batch */
#define PX_WIRE_MAX_PROBES 50000 /* probes in one schedule */
#define PX_WIRE_MAX_NAME 64      /* agent names, versions, kinds */
#define PX_WIRE_MAX_TEXT 512     /* messages and reasons */
#define PX_WIRE_MAX_INTERVAL_S 86400
#define PX_WIRE_MAX_TIMEOUT_MS 600000
#define PX_WIRE_MAX_HOPS 64 /* hops in one trace (result_detail allows 64 of any repeated) */
/* A DNS answer's records in one result: how many, the longest owner or target name in
 * presentation form, the longest type mnemonic ("AAAA", "CNAME", "TYPE65280"), and the bytes of
 * all their strings together. The agent never sends more (probe_dns.h); the bounds keep a
 * stored row's details whole: 64 records of 512-byte strings would pass the generic limits of
 * result_detail yet not fit the room copyrow.c gives a row's details. */
#define PX_WIRE_MAX_DNS_RECORDS 16
#define PX_WIRE_MAX_DNS_NAME 255
#define PX_WIRE_MAX_DNS_TYPE 16
#define PX_WIRE_MAX_DNS_TEXT 4096
/* Results stamped before this (2020-01-01T00:00:00Z) come from a broken clock. */
#define PX_WIRE_MIN_TS_US 1577836800000000LL
/* ... and after this (2100-01-01T00:00:00Z) too. */
#define PX_WIRE_MAX_TS_US 4102444800000000LL

/* Serialises env. On success *buf is a malloc'd buffer the caller owns (free()) of *len bytes.
 * Returns -1 (err set) if env is not valid, so invalid messages are never sent either. */
int wire_pack(const Parallax__Envelope *env, uint8_t **buf, size_t *len, err_t *err);

/* Parses and validates len bytes. Input longer than max_len, malformed, of another protocol
 * version or with any invalid field yields NULL and a one-line reason in err.
 * Caller owns the result: release it with wire_free(). */
Parallax__Envelope *wire_unpack(const uint8_t *buf, size_t len, size_t max_len, err_t *err);

/* Reads the protocol version len bytes say they speak, without unpacking or validating the
 * rest, so that a peer of another version can be told apart from a broken one (another
 * version's body may not even parse here). Returns 0 with *version if buf is a well-formed
 * sequence of protobuf fields at its top level: the last version field's value, 0 if there is
 * none (proto3 does not send a 0). Returns -1 (*version untouched) for empty input, a field
 * running past the end, a field number of 0, a group or an unknown wire type, or a version
 * field that is not a varint: bytes that say nothing about a version. */
int wire_peek_version(const uint8_t *buf, size_t len, uint32_t *version);

/* Frees an envelope from wire_unpack() and NULLs *env. Accepts NULL and *env == NULL. */
void wire_free(Parallax__Envelope **env);

/* Checks every field of env (also used by wire_pack). Returns 0 or -1 with err. */
int wire_validate(const Parallax__Envelope *env, err_t *err);

/* Checks one probe as wire_validate would in a schedule. Returns 0 or -1 with err. */
int wire_validate_probe(const Parallax__Probe *p, err_t *err);

/* Checks one result as wire_validate would in a batch (reported as "result 0").
 * Returns 0 or -1 with err. */
int wire_validate_result(const Parallax__Result *r, err_t *err);

/* Checks one gap record as wire_validate would in a batch (reported as "gap 0").
 * Returns 0 or -1 with err. */
int wire_validate_gap(const Parallax__Gap *g, err_t *err);

/* The SQL label (type parallax.gap_reason) of a gap reason: "spool_dropped" or "run_skipped";
 * NULL for a value this build does not know, which validation refuses. */
const char *wire_gap_reason_name(int reason);

/* Name of the body type ("hello", "batch", ...) for logs. */
const char *wire_body_name(const Parallax__Envelope *env);

/* 1 if s is valid UTF-8 without control characters other than tab, else 0. */
int wire_text_valid(const char *s);

/* 1 if s is an IPv4 or IPv6 address literal, else 0 (also for NULL). */
int wire_address_valid(const char *s);

#endif
