/* ctl_group: the `group` commands — a group's networks (the prefixes it is announced as,
 * and their origin AS) and what the route collectors see of them. A group exists while a
 * target names it; its prefixes are configured here or derived from its targets' addresses
 * and the announced prefixes (parallax.group_prefix_list). */
#ifndef PX_CTL_GROUP_H
#define PX_CTL_GROUP_H

#include <stddef.h>
#include <stdio.h>

#include "ctl_command.h"

/* What `group set` was asked. Pointers borrow argv; prefixes is owned (free() it). */
typedef struct ctl_group_set {
    const char *group;
    const char **prefixes; /* nprefixes of them */
    size_t nprefixes;
    const char *asn; /* digits, checked; NULL: none */
    int clear;       /* --clear: back to derived prefixes */
} ctl_group_set_t;

/* Parses the words after "group set". Returns 0, or -1 with err set (a usage error); on
 * success free(set->prefixes). */
int ctl_group_parse_set(int argc, char **argv, ctl_group_set_t *set, err_t *err);

/* For `status`: a line per group whose prefixes the route collectors do not all see now
 * (unroutable or partly routed), saying whether its probes find it dark too or it is a route
 * anomaly; nothing without BGP data. Returns 0, or -1 with err set. */
int ctl_group_status(ctl_db_t *db, FILE *out, err_t *err);

extern const ctl_command_t ctl_group_commands[];
extern const size_t ctl_group_command_count;

#endif
