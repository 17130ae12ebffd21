/* ctl_discover: `parallaxctl discover --zone ZONE`: a zone's servers from DNS (its name
 * servers, mail exchangers, www and apex addresses) with their roles, and border router
 * candidates from the traces already stored, written as a CSV file `target import` reads.
 *
 * The pure parts (collecting hosts, naming them, choosing border candidates from a table of
 * trace hops, writing the CSV) are separate from the lookups (ldns) and the database, so
 * tables test them. Everything written is derived in byte order from what was found, never
 * from the order answers came in: the same DNS data and traces give the same CSV, and
 * importing it twice changes nothing. */
#ifndef PX_CTL_DISCOVER_H
#define PX_CTL_DISCOVER_H

#include <stddef.h>
#include <stdio.h>

#include "ctl_command.h"
#include "ctl_parse.h"
#include "err.h"

/* The longest DNS name in presentation form, with the NUL. */
#define CTL_DISCOVER_DNAME_MAX 256
/* A target name as the schema checks it: at most 63 bytes, with the NUL. */
#define CTL_DISCOVER_NAME_MAX 64
/* Hosts one run proposes at most (servers and routers). */
#define CTL_DISCOVER_HOSTS_MAX 64

/* Roles, in the order a host with several is proposed under: a name server that also takes
 * mail is a dns target (probed for both). */
enum {
    CTL_DISCOVER_DNS = 1u << 0,
    CTL_DISCOVER_MAIL = 1u << 1,
    CTL_DISCOVER_WEB = 1u << 2,
    CTL_DISCOVER_ROUTER = 1u << 3
};

/* One address found, with everything that pointed at it. */
typedef struct ctl_discover_host {
    char address[CTL_PARSE_ADDR_MAX];      /* canonical text */
    unsigned roles;                        /* CTL_DISCOVER_* bits */
    char dns_name[CTL_DISCOVER_DNAME_MAX]; /* named after it: the least name of its first role */
    char web_name[CTL_DISCOVER_DNAME_MAX]; /* the name its http probe asks for; "" if not web */
    size_t agents;                         /* router: how many agents' traces enter there */
} ctl_discover_host_t;

typedef struct ctl_discover_set {
    ctl_discover_host_t hosts[CTL_DISCOVER_HOSTS_MAX];
    size_t n;
} ctl_discover_set_t;

/* Records that DNS name dns_name (lower case, no trailing dot) has address (any text form)
 * with role, merging by address. Returns 0, or -1 (err set) for a bad address or a full set. */
int ctl_discover_add(ctl_discover_set_t *set, const char *dns_name, const char *address,
                     unsigned role, err_t *err);

/* The target name for text (a DNS name, or "ZONE-router-ADDR"): lower case, any byte other
 * than a letter, digit, '.', '_' or '-' becomes '-', leading non-alphanumerics are dropped; a
 * result longer than 63 bytes keeps its first 54 and ends in '-' and 8 hex digits of a hash
 * of the whole, so different long names stay different and a rerun gives the same one.
 * Always succeeds ("host" when nothing is left). */
void ctl_discover_name(const char *text, char out[CTL_DISCOVER_NAME_MAX]);

/* The covering network of a server's address, where its border is looked for when the group
 * has no prefixes configured: the /24 of an IPv4 address, the /48 of an IPv6 one, as text.
 * Returns 0 or -1 (not an address). */
int ctl_discover_cover(const char *address, char *out, size_t size);

/* Whether address lies in network (ADDR/LEN text). 1, 0, or -1 if either is unreadable. */
int ctl_discover_in_net(const char *network, const char *address);

/* One responsive hop of a stored trace. A trace is the run of consecutive hops with the same
 * agent and dest, in TTL order. */
typedef struct ctl_discover_hop {
    const char *agent;   /* the vantage's agent name */
    const char *dest;    /* the trace's destination address */
    const char *address; /* the hop's address */
} ctl_discover_hop_t;

/* Adds the border router candidates of the traces in hops (nhops of them) to set: the entry
 * hop of each trace is its first hop inside one of nets (the zone's networks) that is not its
 * destination; a trace that reaches its destination without such a hop enters at the hop
 * before the destination (the border answering from an address outside the zone). An entry
 * hop shared by the traces of at least two agents is a candidate (role router), unless it is
 * one of the servers. Sets *found to the candidates added. Returns 0 or -1 (err set: a full
 * set or an unreadable network). */
int ctl_discover_borders(const ctl_discover_hop_t *hops, size_t nhops, const char *const *nets,
                         size_t nnets, ctl_discover_set_t *set, size_t *found, err_t *err);

/* Writes set as a `target import` CSV (header name,address,group,role,probes; one line per
 * host in byte order of name) for zone and group. Probes: icmp for all; dns:ZONE:SOA for a
 * name server, smtp for a mail exchanger, http:http://NAME/ for a web server. Returns 0 or -1
 * (err set: a write error). */
int ctl_discover_csv(const ctl_discover_set_t *set, const char *zone, const char *group, FILE *out,
                     err_t *err);

/* Parsed `discover` arguments; strings point into argv or into zone/group below. */
typedef struct ctl_discover_opts {
    char zone[CTL_DISCOVER_DNAME_MAX]; /* lower case, no trailing dot */
    char group[CTL_PARSE_GROUP_MAX + 1];
    char server[CTL_PARSE_ADDR_MAX]; /* "" for the system's resolver */
    unsigned port;                   /* --server's port, 53 by default */
    char via[64];                    /* --via: the agent that makes the lookups; "" for this host */
} ctl_discover_opts_t;

/* Parses the words after "discover". Returns 0 or -1 (err set, a usage error). The group is
 * --group, else the zone's first label in upper case (xx.test: XX). --via needs --server on
 * port 53: an agent asks the address it is given, without recursion. */
int ctl_discover_parse(int argc, char **argv, ctl_discover_opts_t *out, err_t *err);

/* The module's parallaxctl commands, for main.c's dispatch. */
extern const ctl_command_t ctl_discover_commands[];
extern const size_t ctl_discover_command_count;

#endif
