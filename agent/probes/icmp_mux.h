/* icmp_mux: one ICMP socket per address family shared by every icmp probe. It sends echo
 * requests and routes each reply or ICMP error back to the registration it answers, matched
 * by sequence number, destination and (on raw sockets) identifier; other ICMP messages go
 * to watchers (traceroute). */
#ifndef PX_ICMP_MUX_H
#define PX_ICMP_MUX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "err.h"

struct event_base;
typedef struct icmp_mux icmp_mux_t;

/* What came back for one echo request. */
typedef struct icmp_mux_reply {
    int is_error; /* 0: echo reply; 1: ICMP error quoting the request */
    uint8_t type; /* of the received ICMP message */
    uint8_t code;
    char from[46];        /* who sent it (for errors: the reporting router) */
    int64_t recv_mono_us; /* time_mono_us() when it was read */
} icmp_mux_reply_t;

/* Called at most once per registration, from the event loop; the registration is already
 * gone when it runs. reply is valid during the call only. */
typedef void (*icmp_mux_fn)(const icmp_mux_reply_t *reply, void *arg);

/* Opens a raw ICMP socket for family (AF_INET / AF_INET6), or, if that is not permitted, an
 * unprivileged ping socket. base is borrowed. Returns NULL with err if neither works.
 * Caller owns the result. */
icmp_mux_t *icmp_mux_new(struct event_base *base, int family, err_t *err);

/* Closes the socket. Registrations must have been forgotten first. NULLs *mux; accepts NULL. */
void icmp_mux_destroy(icmp_mux_t **mux);

/* "raw" or "ping" (the unprivileged datagram socket). */
const char *icmp_mux_mode(const icmp_mux_t *mux);

/* Sends an echo request to dst and registers fn/arg for its answer; *seq_out receives the
 * sequence number that icmp_mux_forget() needs. Returns -1 with err (strerror text) if the
 * request could not be sent or too many are in flight; nothing stays registered then. */
int icmp_mux_send(icmp_mux_t *mux, const struct sockaddr *dst, socklen_t dstlen, icmp_mux_fn fn,
                  void *arg, uint16_t *seq_out, err_t *err);

/* Drops the registration for seq (a timeout or cancel); late answers are then ignored. */
void icmp_mux_forget(icmp_mux_t *mux, uint16_t seq);

/* Receives, on raw sockets only, every ICMP message that is not about the mux's own echo
 * requests (e.g. time-exceeded errors quoting a traceroute's UDP probe). buf is the message
 * as read: for AF_INET it starts with the IPv4 header, for AF_INET6 with the ICMPv6 header.
 * buf and from are valid during the call only. The callback may call icmp_mux_unwatch(). */
typedef void (*icmp_mux_watch_fn)(const uint8_t *buf, size_t len, const struct sockaddr *from,
                                  int64_t recv_mono_us, void *arg);

/* Registers fn/arg for those messages. Returns -1 with err if the socket is not raw (ping
 * sockets never see errors about other sockets' packets) or out of memory. */
int icmp_mux_watch(icmp_mux_t *mux, icmp_mux_watch_fn fn, void *arg, err_t *err);

/* Removes the registration of fn/arg; accepts one that is not registered. */
void icmp_mux_unwatch(icmp_mux_t *mux, icmp_mux_watch_fn fn, void *arg);

#endif
