/* zap_request: the pure reading of one ZAP request (RFC 27) the coordinator's handler receives:
 * frames in, the client's CURVE key and the request id out, or the reason it is refused. No
 * socket, no event loop: router.c receives and answers, this decides what the frames say. */
#ifndef PX_COORD_ZAP_REQUEST_H
#define PX_COORD_ZAP_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"

/* Frames of a CURVE request: version, request id, domain, address, identity, mechanism, key. */
#define ZAP_REQUEST_FRAMES 7
/* Longest frame read; a longer one refuses the request (the request id is echoed cut to it). */
#define ZAP_REQUEST_FRAME_MAX 255

/* One received frame: len is its real length; at least min(len, ZAP_REQUEST_FRAME_MAX) bytes
 * of data are readable, and no more than that is ever read. */
typedef struct zap_frame {
    const uint8_t *data;
    size_t len;
} zap_frame_t;

typedef struct zap_request {
    /* The id to echo in the reply, filled even for a refused request when it has one. */
    uint8_t request_id[ZAP_REQUEST_FRAME_MAX];
    size_t request_id_len;
    char public_key[KEYS_Z85_LEN + 1]; /* the client's key in Z85; "" when refused */
} zap_request_t;

/* Reads a request of nframes frames, of which the first min(nframes, ZAP_REQUEST_FRAMES) are
 * in frames (a request has exactly ZAP_REQUEST_FRAMES). Admissible means: version "1.0",
 * exactly domain, mechanism "CURVE" and a 32-byte key. Returns 0 with *out filled, or -1 with
 * *out's request id filled as far as it came and *reason a static text saying why. */
int zap_request_parse(const zap_frame_t *frames, size_t nframes, const char *domain,
                      zap_request_t *out, const char **reason);

#endif
