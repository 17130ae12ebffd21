/* fuzz_wire: fuzz target for wire_unpack() under both size limits and wire_peek_version().
 * Whatever the bytes, neither may crash; what wire_unpack accepts must validate, repack and
 * unpack again to the same bytes, and wire_peek_version must read this build's version in it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reports a broken invariant and aborts, so both libFuzzer and the replay test flag it. */
static void fuzz_fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_wire: %s: %s\n", what, detail ? detail : "");
    abort();
}

/* protobuf-c accepts a field number of 0, which is invalid protobuf, when the key is written
 * as a non-minimal varint (0x81 0x00), and keeps it as an unknown field. Repacked, the key is
 * minimal and protobuf-c refuses it. That quirk is protobuf-c's, harmless to us (nobody relays
 * unknown fields), so such envelopes are exempt from the re-unpack check below. */
static int has_field0(const ProtobufCMessage *m)
{
    for (unsigned i = 0; m && i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0)
            return 1;
    return 0;
}

static int any_field0(const Parallax__Envelope *env)
{
    if (has_field0(&env->base))
        return 1;
    switch (env->body_case) {
    case PARALLAX__ENVELOPE__BODY_HELLO:
        return has_field0(&env->hello->base);
    case PARALLAX__ENVELOPE__BODY_SCHEDULE:
        for (size_t i = 0; i < env->schedule->n_probes; i++)
            if (has_field0(&env->schedule->probes[i]->base))
                return 1;
        return has_field0(&env->schedule->base);
    case PARALLAX__ENVELOPE__BODY_BATCH:
        for (size_t i = 0; i < env->batch->n_results; i++)
            if (has_field0(&env->batch->results[i]->base))
                return 1;
        return has_field0(&env->batch->base);
    case PARALLAX__ENVELOPE__BODY_ACK:
        return has_field0(&env->ack->base);
    case PARALLAX__ENVELOPE__BODY_HEARTBEAT:
        return has_field0(&env->heartbeat->base);
    default:
        return 0;
    }
}

static void check_accepted(const Parallax__Envelope *env, const uint8_t *data, size_t size,
                           size_t max_len)
{
    err_t err = {{0}};
    if (wire_validate(env, &err) < 0)
        fuzz_fail("accepted an envelope that does not validate", err.msg);
    /* The coordinator asks wire_peek_version only of what wire_unpack refused, but the two
     * must agree on what a version is: an accepted envelope speaks this build's. Field 0 (see
     * above) is refused by the one and kept by the other. */
    uint32_t version = 0;
    if (!any_field0(env) &&
        (wire_peek_version(data, size, &version) < 0 || version != PX_PROTOCOL_VERSION))
        fuzz_fail("wire_peek_version disagrees with wire_unpack on an accepted envelope", NULL);
    uint8_t *packed = NULL;
    size_t len = 0;
    if (wire_pack(env, &packed, &len, &err) < 0)
        fuzz_fail("cannot repack an accepted envelope", err.msg);
    if (any_field0(env)) {
        free(packed);
        return;
    }
    /* What we would send must be taken by the other side, and be canonical: packing it again
     * after a round trip gives the same bytes. */
    Parallax__Envelope *again = wire_unpack(packed, len, max_len, &err);
    if (!again)
        fuzz_fail("repacked envelope rejected", err.msg);
    uint8_t *packed2 = NULL;
    size_t len2 = 0;
    if (wire_pack(again, &packed2, &len2, &err) < 0)
        fuzz_fail("cannot pack a round-tripped envelope", err.msg);
    if (len2 != len || memcmp(packed, packed2, len) != 0)
        fuzz_fail("pack(unpack(pack(x))) differs from pack(x)", NULL);
    if (strcmp(wire_body_name(env), wire_body_name(again)) != 0)
        fuzz_fail("body type changed in a round trip", wire_body_name(again));
    free(packed);
    free(packed2);
    wire_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t limits[] = {PX_WIRE_MAX_TO_COORD, PX_WIRE_MAX_TO_AGENT};
    /* On any bytes: whatever it answers, it reads nothing past them (the sanitizers watch). */
    uint32_t peeked = 0;
    (void)wire_peek_version(data, size, &peeked);
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        err_t err = {{0}};
        Parallax__Envelope *env = wire_unpack(data, size, limits[i], &err);
        if (!env) {
            if (!err.msg[0])
                fuzz_fail("rejected without a reason", NULL);
            continue;
        }
        if (size > limits[i])
            fuzz_fail("accepted input over the size limit", NULL);
        check_accepted(env, data, size, limits[i]);
        wire_free(&env);
        if (env)
            fuzz_fail("wire_free did not clear the pointer", NULL);
    }
    return 0;
}
