/* ctl_parse: validators for parallaxctl's arguments (names, countries, numbers, endpoints,
 * addresses, roles, paths). Pure functions: on refusal err reads "bad LABEL 'VALUE': why",
 * where LABEL names the argument as the user typed it (e.g. "--address" or "agent name"). */
#ifndef PX_CTL_PARSE_H
#define PX_CTL_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Longest canonical address text (an IPv6 address), with the NUL. */
#define CTL_PARSE_ADDR_MAX 46

/* An agent or target name: ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$ (as the schema checks).
 * Returns 0 or -1 (err set). */
int ctl_parse_name(const char *label, const char *s, err_t *err);

/* A two-letter country code, written upper-case into out. Returns 0 or -1 (err set). */
int ctl_parse_country(const char *label, const char *s, char out[3], err_t *err);

/* A decimal integer in [min, max], digits only (no sign, spaces or hex). Returns 0 and sets
 * *out, or -1 (err set, giving the range). */
int ctl_parse_uint(const char *label, const char *s, uint64_t min, uint64_t max, uint64_t *out,
                   err_t *err);

/* A ZeroMQ endpoint an agent can connect to: tcp://HOST:PORT, HOST a DNS name, an IPv4
 * address or a bracketed IPv6 address, PORT 1..65535. Returns 0 or -1 (err set). */
int ctl_parse_endpoint(const char *label, const char *s, err_t *err);

/* A single IPv4 or IPv6 host address (no prefix length, no zone), written in canonical form
 * into out. Returns 0 or -1 (err set). */
int ctl_parse_address(const char *label, const char *s, char out[CTL_PARSE_ADDR_MAX], err_t *err);

/* A target role: web, mail, dns, router or host. Returns 0 or -1 (err set). */
int ctl_parse_role(const char *label, const char *s, err_t *err);

/* A duration: one or more NUMBER UNIT pairs, UNIT s, m, h, d or w ("30m", "2h", "7d",
 * "1h30m"), from 1 second to 3650 days. Sets *seconds. Returns 0 or -1 (err set). */
int ctl_parse_duration(const char *label, const char *s, uint64_t *seconds, err_t *err);

/* An outage id: a whole number from 1 to 2^63-1. Sets *id. Returns 0 or -1 (err set). */
int ctl_parse_id(const char *label, const char *s, uint64_t *id, err_t *err);

/* Longest target group name, in bytes (a group is free text for people and SQL). */
#define CTL_PARSE_GROUP_MAX 128

/* One line of free text (a group name, a reason): 1 to max bytes, no control characters.
 * Returns 0 or -1 (err set; a value with a control character is not echoed). */
int ctl_parse_line(const char *label, const char *s, size_t max, err_t *err);

/* An absolute path without control characters (it goes into a line-based config file).
 * Returns 0 or -1 (err set). */
int ctl_parse_abs_path(const char *label, const char *s, err_t *err);

#endif
