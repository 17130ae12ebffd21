/* probe_connect: socket(), connect() and SO_ERROR for the TCP-based probe kinds, in one place
 * so that each kind only waits for writability and reads the outcome. */
#include "probe_connect.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

px_status_t probe_connect_status(int err, int immediate)
{
    switch (err) {
    case 0:
        return PX_STATUS_OK;
    case ECONNREFUSED:
        return PX_STATUS_REFUSED;
    case ETIMEDOUT:
        return PX_STATUS_TIMEOUT;
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EHOSTDOWN:
    case ENONET:
    case EPROTO:
        /* Reported at connect() time it is our own routing table saying no; reported later
         * it came from an ICMP error on the path. */
        return immediate ? PX_STATUS_LOCAL_ERROR : PX_STATUS_UNREACHABLE;
    case ECONNRESET:
        /* Refusing a SYN is ECONNREFUSED: a reset is of a connection the peer had accepted,
         * seen before its outcome was read (a server that accepts and resets at once, on a
         * busy machine). Read later, that is the session's protocol error; so it is here. */
        return immediate ? PX_STATUS_LOCAL_ERROR : PX_STATUS_PROTOCOL_ERROR;
    default:
        return PX_STATUS_LOCAL_ERROR;
    }
}

int probe_connect_start(const probe_addr_t *addr, socklen_t addrlen, uint16_t port,
                        probe_connect_fail_t *fail, int *at_once)
{
    if (at_once)
        *at_once = 0;
    probe_addr_t dst = *addr;
    if (dst.sa.sa_family == AF_INET6)
        dst.v6.sin6_port = htons(port);
    else
        dst.v4.sin_port = htons(port);
    int fd = socket(dst.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *fail =
            (probe_connect_fail_t){.call = "socket", .err = errno, .status = PX_STATUS_LOCAL_ERROR};
        return -1;
    }
    /* A connect that completes at once (loopback) leaves the socket writable as well, so the
     * caller has one path for both. */
    if (connect(fd, &dst.sa, addrlen) == 0) {
        if (at_once)
            *at_once = 1;
        return fd;
    }
    if (errno == EINPROGRESS)
        return fd;
    int e = errno;
    close(fd);
    *fail =
        (probe_connect_fail_t){.call = "connect", .err = e, .status = probe_connect_status(e, 1)};
    return -1;
}

int probe_connect_result(int fd)
{
    int e = 0;
    socklen_t len = sizeof e;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
        return errno;
    return e;
}
