/* zap_request: every frame is checked for its exact length before its bytes are compared, so
 * a request of any shape is read within its frames. */
#include "zap_request.h"

#include <string.h>
#include <zmq.h>

enum { F_VERSION, F_REQUEST_ID, F_DOMAIN, F_ADDRESS, F_IDENTITY, F_MECHANISM, F_KEY };

/* 1 if frame f holds exactly the text s. */
static int frame_is(const zap_frame_t *f, const char *s)
{
    size_t n = strlen(s);
    return f->len == n && (n == 0 || memcmp(f->data, s, n) == 0);
}

int zap_request_parse(const zap_frame_t *frames, size_t nframes, const char *domain,
                      zap_request_t *out, const char **reason)
{
    memset(out, 0, sizeof *out);
    size_t have = nframes < ZAP_REQUEST_FRAMES ? nframes : ZAP_REQUEST_FRAMES;
    if (have > F_REQUEST_ID) {
        const zap_frame_t *rid = &frames[F_REQUEST_ID];
        out->request_id_len = rid->len < ZAP_REQUEST_FRAME_MAX ? rid->len : ZAP_REQUEST_FRAME_MAX;
        if (out->request_id_len)
            memcpy(out->request_id, rid->data, out->request_id_len);
    }
    if (nframes != ZAP_REQUEST_FRAMES) {
        *reason = "not a CURVE request of 7 frames";
        return -1;
    }
    for (size_t i = 0; i < ZAP_REQUEST_FRAMES; i++) {
        if (frames[i].len > ZAP_REQUEST_FRAME_MAX) {
            *reason = "a frame is too long";
            return -1;
        }
    }
    if (!frame_is(&frames[F_VERSION], "1.0")) {
        *reason = "not ZAP version 1.0";
        return -1;
    }
    if (!frame_is(&frames[F_DOMAIN], domain)) {
        *reason = "wrong domain";
        return -1;
    }
    if (!frame_is(&frames[F_MECHANISM], "CURVE")) {
        *reason = "not CURVE";
        return -1;
    }
    if (frames[F_KEY].len != 32 ||
        !zmq_z85_encode(out->public_key, (const uint8_t *)frames[F_KEY].data, 32)) {
        out->public_key[0] = '\0';
        *reason = "not a 32-byte CURVE key";
        return -1;
    }
    return 0;
}
