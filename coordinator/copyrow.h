/* copyrow: one validated result as one line of PostgreSQL COPY text for parallax.results
 * (columns COPYROW_COLUMNS). Pure formatting, kept apart from the store so it is tested
 * without a database. */
#ifndef PX_COPYROW_H
#define PX_COPYROW_H

#include <stddef.h>

#include "parallax.pb-c.h"

/* The column list the lines fill, in order, for "COPY ... (COPYROW_COLUMNS) FROM STDIN". */
#define COPYROW_COLUMNS                                                                            \
    "ts, agent_id, probe_id, status, rtt_ms, app_code, icmp_type, icmp_code, icmp_from, "          \
    "message, control, detail"

/* Room one line may need: results are bounded by the wire limits (text fields of 512 bytes,
 * 64 trace hops), so a buffer this size always fits one. */
#define COPYROW_LINE_MAX (48 * 1024)

/* Writes r (already validated by the wire module) of agent_id as one newline-terminated line
 * into buf (cap bytes). Returns its length, or -1 if it does not fit. */
int copyrow_result(char *buf, size_t cap, int agent_id, const Parallax__Result *r);

#endif
