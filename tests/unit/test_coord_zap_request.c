/* test_coord_zap_request: the reading of ZAP requests: a well-formed CURVE request gives the
 * client's key in Z85 and the id to echo; every other shape is refused with a reason, and
 * the request id is still echoed as far as it came. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <zmq.h>

#include "zap_request.h"

static uint8_t key_bytes[32];

static void make_request(zap_frame_t f[ZAP_REQUEST_FRAMES])
{
    for (size_t i = 0; i < sizeof key_bytes; i++)
        key_bytes[i] = (uint8_t)(i * 7 + 1);
    static const char *const text[] = {"1.0", "rid-7", "parallax", "127.0.0.1", "", "CURVE"};
    for (size_t i = 0; i < 6; i++)
        f[i] = (zap_frame_t){.data = (const uint8_t *)text[i], .len = strlen(text[i])};
    f[6] = (zap_frame_t){.data = key_bytes, .len = sizeof key_bytes};
}

static void test_admissible(void **state)
{
    (void)state;
    zap_frame_t f[ZAP_REQUEST_FRAMES];
    make_request(f);
    zap_request_t req;
    const char *why = NULL;
    assert_int_equal(zap_request_parse(f, 7, "parallax", &req, &why), 0);
    char want[41];
    assert_non_null(zmq_z85_encode(want, key_bytes, 32));
    assert_string_equal(req.public_key, want);
    assert_int_equal(req.request_id_len, 5);
    assert_memory_equal(req.request_id, "rid-7", 5);
}

static void test_refused(void **state)
{
    (void)state;
    static uint8_t longframe[300];
    static const struct {
        const char *what;
        size_t frame;     /* which frame to change; 7: the count */
        const char *text; /* its new text, or NULL for longframe */
        size_t count;
        const char *reason;
    } cases[] = {
        {"too few frames", 7, "", 6, "not a CURVE request of 7 frames"},
        {"too many frames", 7, "", 8, "not a CURVE request of 7 frames"},
        {"no frames", 7, "", 0, "not a CURVE request of 7 frames"},
        {"version 2.0", 0, "2.0", 7, "not ZAP version 1.0"},
        {"version 1.0 and more", 0, "1.00", 7, "not ZAP version 1.0"},
        {"another domain", 2, "parallax2", 7, "wrong domain"},
        {"empty domain", 2, "", 7, "wrong domain"},
        {"PLAIN", 5, "PLAIN", 7, "not CURVE"},
        {"NULL", 5, "NULL", 7, "not CURVE"},
        {"short key", 6, "0123456789012345678901234567890", 7, "not a 32-byte CURVE key"},
        {"long address", 3, NULL, 7, "a frame is too long"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        zap_frame_t f[ZAP_REQUEST_FRAMES];
        make_request(f);
        if (cases[i].frame < 7)
            f[cases[i].frame] = cases[i].text
                                    ? (zap_frame_t){.data = (const uint8_t *)cases[i].text,
                                                    .len = strlen(cases[i].text)}
                                    : (zap_frame_t){.data = longframe, .len = sizeof longframe};
        zap_request_t req;
        const char *why = NULL;
        if (zap_request_parse(f, cases[i].count, "parallax", &req, &why) != -1)
            fail_msg("%s: admitted", cases[i].what);
        if (!why || strcmp(why, cases[i].reason) != 0)
            fail_msg("%s: reason '%s', want '%s'", cases[i].what, why ? why : "(null)",
                     cases[i].reason);
        assert_string_equal(req.public_key, "");
        /* The id is echoed whenever the request had one. */
        assert_int_equal(req.request_id_len, cases[i].count > 1 ? 5 : 0);
    }
}

static void test_long_request_id(void **state)
{
    (void)state;
    static uint8_t rid[400];
    memset(rid, 'r', sizeof rid);
    zap_frame_t f[ZAP_REQUEST_FRAMES];
    make_request(f);
    f[1] = (zap_frame_t){.data = rid, .len = sizeof rid};
    zap_request_t req;
    const char *why = NULL;
    assert_int_equal(zap_request_parse(f, 7, "parallax", &req, &why), -1);
    assert_string_equal(why, "a frame is too long");
    assert_int_equal(req.request_id_len, ZAP_REQUEST_FRAME_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admissible),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_long_request_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
