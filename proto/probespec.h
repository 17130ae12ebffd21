/* probespec: parses and validates probe specs (`icmp`, `tcp:PORT`, `http:URL`, `https:URL`,
 * `dns:QNAME[:QTYPE]`, `smtp[:PORT]`, `trace`). An http(s) URL may be followed by options:
 * `|expect=STATUS` (the status required, 100..599) and `|body=TEXT` (a substring the body
 * must contain: printable ASCII, at most 128 bytes, no '|'); '|' is never part of a URL. Shared by
 * parallaxctl, which refuses bad specs before they reach the database, and the agent, which parses
 * what the schedule carries. Pure functions: no I/O, no allocation. */
#ifndef PX_PROBESPEC_H
#define PX_PROBESPEC_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define PX_PROBE_KIND_LIST(X)                                                                      \
    X(ICMP, "icmp")                                                                                \
    X(TCP, "tcp")                                                                                  \
    X(HTTP, "http")                                                                                \
    X(HTTPS, "https")                                                                              \
    X(DNS, "dns")                                                                                  \
    X(SMTP, "smtp")                                                                                \
    X(TRACE, "trace")

typedef enum probe_kind {
#define PX_KIND_ENUM(name, text) PROBE_KIND_##name,
    PX_PROBE_KIND_LIST(PX_KIND_ENUM)
#undef PX_KIND_ENUM
        PROBE_KIND_COUNT
} probe_kind_t;

#define PROBESPEC_MAX 1024
#define PROBESPEC_HOST_MAX 256
#define PROBESPEC_BODY_MAX 129

/* A parsed spec. Plain data, no pointers: it can be copied freely. */
typedef struct probespec {
    probe_kind_t kind;
    uint16_t port;                        /* tcp, smtp, http(s): the port to connect to */
    char host[PROBESPEC_HOST_MAX];        /* http(s): Host header / SNI; dns: the query name */
    char path[PROBESPEC_MAX];             /* http(s): path and query, at least "/" */
    char qtype[16];                       /* dns: upper-case query type, default "A" */
    uint16_t expect_status;               /* http(s): required status; 0 = any below 500 */
    char expect_body[PROBESPEC_BODY_MAX]; /* http(s): required body substring; "" = none */
} probespec_t;

/* Parses text into *out. Returns 0, or -1 with err saying what is wrong and what a valid spec
 * looks like. */
int probespec_parse(const char *text, probespec_t *out, err_t *err);

/* Writes the canonical text of spec into buf (at most len bytes with the NUL). Returns the
 * length written, or -1 if buf is too small. */
int probespec_format(const probespec_t *spec, char *buf, size_t len);

/* Name of a kind ("icmp", ...), or NULL for an out-of-range value. */
const char *probespec_kind_name(probe_kind_t kind);

/* Kind for a name, or -1 if unknown. */
int probespec_kind_from_name(const char *name);

#endif
