/* test_keys: CURVE key generation and checks, and the 0600 key files: written atomically with
 * the right mode, read back, refused when others may read them or the pair does not match. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "keys.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/px-test-keys-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void assert_err_contains(const err_t *err, const char *needle)
{
    if (!strstr(err->msg, needle))
        fail_msg("error '%s' does not contain '%s'", err->msg, needle);
}

static void write_text(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_generate(void **state)
{
    (void)state;
    keypair_t a, b;
    err_t err = {{0}};
    assert_int_equal(keys_generate(&a, &err), 0);
    assert_int_equal(keys_generate(&b, &err), 0);
    assert_int_equal(strlen(a.public_z85), KEYS_Z85_LEN);
    assert_int_equal(strlen(a.secret_z85), KEYS_Z85_LEN);
    assert_true(keys_valid(a.public_z85));
    assert_true(keys_valid(a.secret_z85));
    assert_string_not_equal(a.public_z85, b.public_z85);
    assert_string_not_equal(a.secret_z85, b.secret_z85);
    assert_string_not_equal(a.public_z85, a.secret_z85);
}

static void test_valid(void **state)
{
    (void)state;
    keypair_t kp;
    assert_int_equal(keys_generate(&kp, NULL), 0);
    char bad_char[KEYS_Z85_LEN + 1];
    memcpy(bad_char, kp.public_z85, sizeof bad_char);
    bad_char[7] = '"'; /* not in the Z85 alphabet */
    char with_space[KEYS_Z85_LEN + 1];
    memcpy(with_space, kp.public_z85, sizeof with_space);
    with_space[0] = ' ';
    char longer[KEYS_Z85_LEN + 2];
    snprintf(longer, sizeof longer, "%s0", kp.public_z85);
    static const struct {
        const char *s;
        int valid;
    } cases[] = {
        /* The test vector of ZeroMQ RFC 32 and libzmq's own test keys. */
        {"HelloWorldHelloWorldHelloWorldHelloWorld", 1},
        {"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID", 1},
        {"D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs", 1},
        {"", 0},
        {"HelloWorld", 0},
        {"HelloWorldHelloWorldHelloWorldHelloWorl", 0}, /* 39 */
        {NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (keys_valid(cases[i].s) != cases[i].valid)
            fail_msg("keys_valid('%s') != %d", cases[i].s ? cases[i].s : "(null)", cases[i].valid);
    assert_false(keys_valid(bad_char));
    assert_false(keys_valid(with_space));
    assert_false(keys_valid(longer));
}

static void test_public_from_secret(void **state)
{
    (void)state;
    err_t err = {{0}};
    for (int i = 0; i < 4; i++) {
        keypair_t kp;
        char pub[KEYS_Z85_LEN + 1];
        assert_int_equal(keys_generate(&kp, &err), 0);
        assert_int_equal(keys_public_from_secret(kp.secret_z85, pub, &err), 0);
        assert_string_equal(pub, kp.public_z85);
    }
    /* libzmq's test pair (tests/testutil_security.hpp): server secret -> server public. */
    char pub[KEYS_Z85_LEN + 1];
    assert_int_equal(keys_public_from_secret("JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6", pub, &err),
                     0);
    assert_string_equal(pub, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
    assert_int_equal(keys_public_from_secret("short", pub, &err), -1);
    assert_err_contains(&err, "40-character Z85");
    assert_int_equal(keys_public_from_secret(NULL, pub, &err), -1);
}

static void test_file_round_trip(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/coordinator.key", dir);
    keypair_t kp, back;
    err_t err = {{0}};
    assert_int_equal(keys_generate(&kp, &err), 0);
    /* Even with a permissive umask the file is private. */
    mode_t old = umask(0);
    int rc = keys_file_write(path, &kp, &err);
    umask(old);
    assert_int_equal(rc, 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    memset(&back, 0, sizeof back);
    if (keys_file_read(path, &back, &err) != 0)
        fail_msg("keys_file_read: %s", err.msg);
    assert_string_equal(back.public_z85, kp.public_z85);
    assert_string_equal(back.secret_z85, kp.secret_z85);

    /* Rewriting replaces the pair atomically and leaves no temporary file behind. */
    keypair_t kp2;
    assert_int_equal(keys_generate(&kp2, &err), 0);
    assert_int_equal(keys_file_write(path, &kp2, &err), 0);
    assert_int_equal(keys_file_read(path, &back, &err), 0);
    assert_string_equal(back.public_z85, kp2.public_z85);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "test \"$(ls -A '%s' | wc -l)\" -eq 1", dir);
    assert_int_equal(system(cmd), 0);

    /* A directory that does not exist. */
    snprintf(path, sizeof path, "%s/missing/x.key", dir);
    assert_int_equal(keys_file_write(path, &kp, &err), -1);
    assert_err_contains(&err, "missing");
}

static void test_file_refusals(void **state)
{
    (void)state;
    keypair_t a, b, out;
    err_t err = {{0}};
    assert_int_equal(keys_generate(&a, &err), 0);
    assert_int_equal(keys_generate(&b, &err), 0);
    char good[256], mismatched[256], typo[256], badkey[256];
    snprintf(good, sizeof good, "public = %s\nsecret = %s\n", a.public_z85, a.secret_z85);
    snprintf(mismatched, sizeof mismatched, "public = %s\nsecret = %s\n", b.public_z85,
             a.secret_z85);
    snprintf(typo, sizeof typo, "public = %s\nsecert = %s\n", a.public_z85, a.secret_z85);
    snprintf(badkey, sizeof badkey, "public = %s\nsecret = tooshort\n", a.public_z85);
    static const mode_t open_modes[] = {0640, 0604, 0644, 0660, 0700};
    for (size_t i = 0; i < sizeof open_modes / sizeof open_modes[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/open-%zu.key", dir, i);
        write_text(path, good, open_modes[i]);
        if (open_modes[i] & 077) {
            assert_int_equal(keys_file_read(path, &out, &err), -1);
            assert_err_contains(&err, "readable by others");
            assert_err_contains(&err, path);
        } else {
            /* Owner-only modes other than 0600 are fine. */
            assert_int_equal(keys_file_read(path, &out, &err), 0);
        }
    }
    const struct {
        const char *name;
        const char *text;
        const char *expect;
    } cases[] = {
        {"mismatched", mismatched, "does not belong to the secret key"},
        {"typo", typo, "unknown key 'secert'"},
        {"bad key", badkey, "malformed key"},
        {"no public", "secret = x\n", "missing required key 'public'"},
        {"empty", "", "missing required key"},
        {"garbage", "this is not a key file\n", "expected 'key = value'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/case-%zu.key", dir, i);
        write_text(path, cases[i].text, 0600);
        memset(&out, 0, sizeof out);
        if (keys_file_read(path, &out, &err) != -1)
            fail_msg("%s: accepted", cases[i].name);
        if (!strstr(err.msg, cases[i].expect))
            fail_msg("%s: error '%s' lacks '%s'", cases[i].name, err.msg, cases[i].expect);
        assert_string_equal(out.secret_z85, ""); /* nothing handed out on failure */
    }
    char path[128];
    snprintf(path, sizeof path, "%s/absent.key", dir);
    assert_int_equal(keys_file_read(path, &out, &err), -1);
    assert_err_contains(&err, "absent.key");
}

/* A key file another user owns is refused even at mode 0600: its owner could read or swap it.
 * Making one needs chown, so root. */
static void test_file_foreign_owner(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        print_message("skipped (needs root): chown to another user\n");
        skip();
    }
    keypair_t a, out;
    err_t err = {{0}};
    assert_int_equal(keys_generate(&a, &err), 0);
    char good[256], path[128];
    snprintf(good, sizeof good, "public = %s\nsecret = %s\n", a.public_z85, a.secret_z85);
    snprintf(path, sizeof path, "%s/foreign.key", dir);
    write_text(path, good, 0600);
    assert_int_equal(keys_file_read(path, &out, &err), 0);
    assert_int_equal(chown(path, 65534, (gid_t)-1), 0); /* nobody */
    assert_int_equal(keys_file_read(path, &out, &err), -1);
    assert_err_contains(&err, "owned by uid 65534");
    assert_err_contains(&err, path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate),           cmocka_unit_test(test_valid),
        cmocka_unit_test(test_public_from_secret), cmocka_unit_test(test_file_round_trip),
        cmocka_unit_test(test_file_refusals),      cmocka_unit_test(test_file_foreign_owner),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
