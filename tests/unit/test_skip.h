/* test_skip.h: when a unit test may skip. A test skips only for a reason no installation can
 * change on this machine: it is not root where it needs root, or the kernel has no IPv6.
 * cmocka then prints "[  SKIPPED ]", which CTest shows as a skip (SKIP_REGULAR_EXPRESSION in
 * tests/CMakeLists.txt). A missing program or a fixture that did not start is a failure:
 * scripts/deps.sh installs everything the tests use, so a broken setup never reads as a pass. */
#ifndef PX_TEST_SKIP_H
#define PX_TEST_SKIP_H

#include <unistd.h>

/* Not root: skips, saying why the test needs root. Root: fails with why, since then nothing
 * but a broken setup can stop it. Use where why is a fixture that needs root failing. */
#define PX_SKIP_UNLESS_ROOT(why)                                                                   \
    do {                                                                                           \
        if (geteuid() != 0) {                                                                      \
            print_message("skipped (needs root): %s\n", (why));                                    \
            skip();                                                                                \
        }                                                                                          \
        fail_msg("%s", (why));                                                                     \
    } while (0)

/* No IPv6 in this kernel (disabled or not built): skips. */
#define PX_SKIP_WITHOUT_IPV6()                                                                     \
    do {                                                                                           \
        if (access("/proc/net/if_inet6", F_OK) != 0) {                                             \
            print_message("skipped: this kernel has no IPv6\n");                                   \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

#endif
