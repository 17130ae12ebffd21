/* probe_once: runs one probe now and prints its result, for `parallax-agent --probe`: an
 * operator's way to see what the agent sees from this host, and the tests' way to compare the
 * agent's verdicts with other tools' in the same network namespace. */
#ifndef PX_PROBE_ONCE_H
#define PX_PROBE_ONCE_H

#include <stdint.h>
#include <stdio.h>

#include "err.h"

/* Probes address with spec (e.g. "tcp:443"), waiting at most timeout_ms, and writes the result
 * to out as `key=value` lines (status, rtt_ms, app_code, icmp_*, message, and the kind's
 * details). Returns 0 if the status is ok, 3 for any other status, or -1 (err set) if the
 * probe could not be run at all (bad address or spec, a kind this agent cannot run). */
int probe_once(const char *address, const char *spec, uint32_t timeout_ms, FILE *out, err_t *err);

#endif
