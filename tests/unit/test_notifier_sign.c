/* test_notifier_sign: the webhook signature is HMAC-SHA256 as RFC 4231 defines it (its test
 * vectors), over "<timestamp>.<body>", written "sha256=<lowercase hex>". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "notify_sign.h"

static void test_rfc4231_vectors(void **state)
{
    (void)state;
    char hex[NOTIFY_SIGN_HEX_LEN + 1];
    unsigned char k1[20], k6[131];
    memset(k1, 0x0b, sizeof k1);
    memset(k6, 0xaa, sizeof k6);
    /* Test case 1: a 20-byte key. */
    assert_int_equal(notify_sign_hmac_hex(k1, sizeof k1, "Hi There", 8, hex), 0);
    assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    /* Test case 2: a key shorter than the block. */
    assert_int_equal(notify_sign_hmac_hex("Jefe", 4, "what do ya want for nothing?", 28, hex), 0);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* Test case 6: a key longer than the block is hashed first. */
    const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    assert_int_equal(notify_sign_hmac_hex(k6, sizeof k6, m6, strlen(m6), hex), 0);
    assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void test_webhook_signs_timestamp_dot_body(void **state)
{
    (void)state;
    const char *body = "{\"version\":1}";
    char sig[NOTIFY_SIGN_HEADER_MAX], hex[NOTIFY_SIGN_HEX_LEN + 1];
    assert_int_equal(notify_sign_webhook("s3cret", 1700000000, body, strlen(body), sig), 0);
    const char *signed_text = "1700000000.{\"version\":1}";
    assert_int_equal(notify_sign_hmac_hex("s3cret", 6, signed_text, strlen(signed_text), hex), 0);
    assert_memory_equal(sig, "sha256=", 7);
    assert_string_equal(sig + 7, hex);
    /* Another timestamp, another signature: a replayed body with a new time does not verify. */
    char other[NOTIFY_SIGN_HEADER_MAX];
    assert_int_equal(notify_sign_webhook("s3cret", 1700000001, body, strlen(body), other), 0);
    assert_string_not_equal(sig, other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4231_vectors),
        cmocka_unit_test(test_webhook_signs_timestamp_dot_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
