/* test_secret_file: the check before a secret file is read: mode 0600 or stricter and owned
 * by this process's user pass; any group or other permission, another owner (as root: the
 * file given to nobody) or a missing file fail, naming the file and saying what to run. */
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

#include "secret_file.h"

static void test_modes(void **state)
{
    (void)state;
    char path[] = "/tmp/px-test-secret-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    err_t err = {{0}};
    static const struct {
        mode_t mode;
        int ok;
    } cases[] = {{0600, 1}, {0400, 1}, {0700, 1}, {0640, 0}, {0604, 0},
                 {0644, 0}, {0620, 0}, {0602, 0}, {0610, 0}, {0601, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(chmod(path, cases[i].mode), 0);
        int rc = secret_file_check(path, "config file", &err);
        if (rc != (cases[i].ok ? 0 : -1))
            fail_msg("mode %03o: %d (%s)", (unsigned)cases[i].mode, rc, err.msg);
        if (!cases[i].ok) {
            assert_non_null(strstr(err.msg, path));
            assert_non_null(strstr(err.msg, "config file is readable by others"));
            assert_non_null(strstr(err.msg, "chmod 600"));
        }
    }
    if (geteuid() == 0) {
        /* Root reads anything; the check still refuses a file that is not root's. */
        assert_int_equal(chmod(path, 0600), 0);
        assert_int_equal(chown(path, 65534, 65534), 0);
        assert_int_equal(secret_file_check(path, "key file", &err), -1);
        assert_non_null(strstr(err.msg, "key file is owned by uid 65534"));
        assert_non_null(strstr(err.msg, "chown it"));
    } else {
        print_message("not root: another owner's file is not tried\n");
    }
    unlink(path);
    assert_int_equal(secret_file_check(path, "config file", &err), -1);
    assert_non_null(strstr(err.msg, path));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_modes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
