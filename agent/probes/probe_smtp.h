/* probe_smtp: the `smtp[:PORT]` probe kind: connect, read the greeting, and if it is 220 say
 * `EHLO parallax-agent` and read the reply (proof that the server does more than print a
 * banner), then send QUIT and close without waiting for its 221.
 *
 * Status: OK for a 220 greeting answered EHLO with 2xx; APP_ERROR for any other greeting code
 * (554 "no service", 421, ...) or an EHLO refused with 4xx/5xx; REFUSED, UNREACHABLE,
 * LOCAL_ERROR as for tcp; TIMEOUT naming the phase that did not finish; PROTOCOL_ERROR for
 * anything that is not an SMTP reply (garbage, no code, a line over 512 bytes, the connection
 * closed or reset before a complete reply). app_code = the greeting code; message = the
 * greeting's first line, sanitised to printable ASCII (or what went wrong); rtt_us = from the
 * start of connect() to the complete greeting. */
#ifndef PX_PROBE_SMTP_H
#define PX_PROBE_SMTP_H

#include "probe.h"

extern const probe_ops_t probe_smtp_ops;

#endif
