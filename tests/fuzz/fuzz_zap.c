/* fuzz_zap: the coordinator's reading of ZAP requests, whatever a peer's handshake makes the
 * socket hand to the handler. Input: frames, each a 2-byte little-endian length and its bytes
 * (a length past the end takes what is left), at most 12 frames. Checks: a refusal has a
 * reason and no key; an admission has the domain, version and mechanism it must and a Z85 key
 * that decodes to the 32 bytes sent; the echoed request id is the request's, cut to the max. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "zap_request.h"

#define FUZZ_FRAMES_MAX 12

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz_zap: %s\n", what);
    abort();
}

static int frame_is(const zap_frame_t *f, const char *s)
{
    return f->len == strlen(s) && memcmp(f->data, s, f->len) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zap_frame_t frames[FUZZ_FRAMES_MAX] = {{0}};
    size_t n = 0, pos = 0;
    while (pos < size && n < FUZZ_FRAMES_MAX) {
        size_t len = data[pos];
        if (pos + 1 < size)
            len |= (size_t)data[pos + 1] << 8;
        pos += 2;
        if (pos > size)
            pos = size;
        if (len > size - pos)
            len = size - pos;
        frames[n++] = (zap_frame_t){.data = data + pos, .len = len};
        pos += len;
    }
    /* The parser may read only what the frames hold: copy each into a buffer of exactly the
     * bytes it promises to read, so the sanitizer sees any read past them. */
    uint8_t *copies[FUZZ_FRAMES_MAX] = {0};
    for (size_t i = 0; i < n; i++) {
        size_t keep = frames[i].len < ZAP_REQUEST_FRAME_MAX ? frames[i].len : ZAP_REQUEST_FRAME_MAX;
        copies[i] = malloc(keep ? keep : 1);
        if (!copies[i])
            fuzz_fail("out of memory");
        if (keep)
            memcpy(copies[i], frames[i].data, keep);
        frames[i].data = copies[i];
    }
    zap_request_t req;
    const char *why = NULL;
    int rc = zap_request_parse(frames, n, "parallax", &req, &why);
    if (rc == 0) {
        uint8_t key[32];
        if (n != ZAP_REQUEST_FRAMES || !frame_is(&frames[0], "1.0") ||
            !frame_is(&frames[2], "parallax") || !frame_is(&frames[5], "CURVE") ||
            frames[6].len != 32)
            fuzz_fail("admitted a request that is not a CURVE request for the domain");
        if (strlen(req.public_key) != 40 || !zmq_z85_decode(key, req.public_key) ||
            memcmp(key, frames[6].data, 32) != 0)
            fuzz_fail("the key does not decode to the bytes sent");
    } else if (rc == -1) {
        if (!why || !*why)
            fuzz_fail("a refusal without a reason");
        if (req.public_key[0])
            fuzz_fail("a refusal with a key");
    } else {
        fuzz_fail("neither 0 nor -1");
    }
    size_t want_rid =
        n > 1 ? (frames[1].len < ZAP_REQUEST_FRAME_MAX ? frames[1].len : ZAP_REQUEST_FRAME_MAX) : 0;
    if (req.request_id_len != want_rid ||
        (want_rid && memcmp(req.request_id, frames[1].data, want_rid) != 0))
        fuzz_fail("the echoed request id is not the request's");
    for (size_t i = 0; i < n; i++)
        free(copies[i]);
    return 0;
}
