/* probe_connect: the non-blocking TCP connect every TCP-based probe kind starts with (tcp,
 * smtp, http(s), the dns kind's TCP retry), and the one map from a failed connect's errno to
 * a status, so that a refused or unreachable port means the same thing in every kind. */
#ifndef PX_PROBE_CONNECT_H
#define PX_PROBE_CONNECT_H

#include <stdint.h>

#include "probe.h"
#include "status.h"

/* Why a connect could not even start. */
typedef struct probe_connect_fail {
    const char *call;   /* the call that failed: "socket" or "connect" (static text) */
    int err;            /* its errno */
    px_status_t status; /* LOCAL_ERROR for socket(); for connect() probe_connect_status(err, 1) */
} probe_connect_fail_t;

/* Opens a non-blocking, close-on-exec stream socket of addr's family and starts connecting it
 * to addr (addrlen bytes) at port (addr's own port is ignored). Returns the socket, owned by
 * the caller (who closes it): it becomes writable once the connect has settled, connected at
 * once or not, and probe_connect_result() then says how. *at_once (if not NULL) is set to 1
 * when connect() completed at once (loopback), so a caller with nothing more to do need not
 * wait a turn of the loop for writability. Returns -1 with *fail filled when socket() or
 * connect() failed at once (nothing is left open then). */
int probe_connect_start(const probe_addr_t *addr, socklen_t addrlen, uint16_t port,
                        probe_connect_fail_t *fail, int *at_once);

/* The outcome of the connect on fd, to be asked once fd is writable: 0 when connected, else
 * the errno it failed with. */
int probe_connect_result(int fd);

/* The status a failed connect maps to; immediate says connect() itself failed (as opposed to
 * the error arriving later through SO_ERROR), which makes no-route errors local. err 0 maps
 * to OK; a reset arriving through SO_ERROR (the peer accepted, then reset) is a protocol
 * error, as the same reset read a moment later would be. */
px_status_t probe_connect_status(int err, int immediate);

#endif
