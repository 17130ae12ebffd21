/* Unit tests for dropping privileges: privdrop in forked children run as root (afterwards the
 * uid is the user's, setuid(0) fails, a raw socket can no longer be opened but one opened
 * before still works), the config keys `user` and `max_pps` (bad values name file and line),
 * and agent_new() as root with `user` set and without (raw ICMP sockets opened before the
 * switch, then running as the user in state_dir, handed to it, with no capability left), and
 * the capabilities-only drop of a process that is not root. The root-only cases skip with a
 * message otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_skip.h"
#include <arpa/inet.h>
#include <dirent.h>
#include <grp.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "agent_config.h"
#include "icmp_packet.h"
#include "keys.h"
#include "privdrop.h"

#define DROP_USER "nobody"

static void need_root(void)
{
    if (geteuid() != 0) {
        print_message("skipped: needs root to switch users\n");
        skip();
    }
}

/* Runs fn in a forked child and returns what it wrote (a short text; "ok" on success). */
static void in_child(void (*fn)(char *out, size_t len), char *out, size_t len)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    fflush(stdout);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        char buf[512] = "child wrote nothing";
        fn(buf, sizeof buf);
        ssize_t w = write(p[1], buf, strlen(buf) + 1);
        _exit(w > 0 ? 0 : 1);
    }
    close(p[1]);
    memset(out, 0, len);
    size_t got = 0;
    ssize_t n;
    while (got < len - 1 && (n = read(p[0], out + got, len - 1 - got)) > 0)
        got += (size_t)n;
    close(p[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
}

static void test_lookup(void **state)
{
    (void)state;
    uid_t uid;
    gid_t gid;
    err_t err = {{0}};
    assert_int_equal(privdrop_lookup("root", &uid, &gid, &err), 0);
    assert_int_equal(uid, 0);
    struct passwd *pw = getpwnam(DROP_USER);
    if (pw) {
        assert_int_equal(privdrop_lookup(DROP_USER, &uid, &gid, &err), 0);
        assert_int_equal(uid, pw->pw_uid);
        assert_int_equal(gid, pw->pw_gid);
    }
    assert_int_equal(privdrop_lookup("px-no-such-user", &uid, &gid, &err), -1);
    assert_string_equal(err.msg, "unknown user 'px-no-such-user'");
    /* Switching "to root" would drop nothing: refused before anything changes. */
    assert_int_equal(privdrop_to_user("root", &err), -1);
    assert_non_null(strstr(err.msg, "uid 0"));
    assert_int_equal(privdrop_to_user("px-no-such-user", &err), -1);
}

/* An echo request to 127.0.0.1 on fd and its reply back within 2 s: 1 if it worked. */
static int raw_echo_works(int fd)
{
    uint8_t pkt[64], buf[1500];
    size_t n = icmp_packet_build_echo(AF_INET, 0x7878, 0x0101, 16, pkt, sizeof pkt);
    struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (sendto(fd, pkt, n, 0, (struct sockaddr *)&lo, sizeof lo) != (ssize_t)n)
        return 0;
    for (int tries = 0; tries < 16; tries++) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 2000) != 1)
            return 0;
        ssize_t got = recv(fd, buf, sizeof buf, 0);
        icmp_packet_t p;
        if (got > 0 &&
            icmp_packet_parse(AF_INET, 1, buf, (size_t)got, &p) == ICMP_PACKET_ECHO_REPLY &&
            p.id == 0x7878 && p.seq == 0x0101)
            return 1;
    }
    return 0;
}

static void child_drop(char *out, size_t len)
{
    int raw = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    if (raw < 0) {
        snprintf(out, len, "cannot open a raw socket as root: %s", strerror(errno));
        return;
    }
    struct passwd *pw = getpwnam(DROP_USER);
    err_t err = {{0}};
    if (privdrop_to_user(DROP_USER, &err) < 0) {
        snprintf(out, len, "privdrop failed: %s", err.msg);
        return;
    }
    if (getuid() != pw->pw_uid || geteuid() != pw->pw_uid || getgid() != pw->pw_gid ||
        getegid() != pw->pw_gid) {
        snprintf(out, len, "ids after the drop: uid %u euid %u gid %u egid %u", getuid(), geteuid(),
                 getgid(), getegid());
        return;
    }
    gid_t groups[64];
    int ng = getgroups(64, groups);
    for (int i = 0; i < ng; i++)
        if (groups[i] == 0) {
            snprintf(out, len, "still in group 0");
            return;
        }
    if (setuid(0) == 0 || seteuid(0) == 0) {
        snprintf(out, len, "could become root again");
        return;
    }
    int again = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    if (again >= 0) {
        snprintf(out, len, "could still open a raw socket");
        return;
    }
    if (errno != EPERM) {
        snprintf(out, len, "raw socket refused with %s, not EPERM", strerror(errno));
        return;
    }
    if (!raw_echo_works(raw)) {
        snprintf(out, len, "the raw socket opened before the drop no longer works");
        return;
    }
    /* Calling it again as that user is harmless and still verifies. */
    if (privdrop_to_user(DROP_USER, &err) < 0) {
        snprintf(out, len, "second call failed: %s", err.msg);
        return;
    }
    if (privdrop_to_user("root", &err) == 0 || privdrop_to_user("daemon", &err) == 0) {
        snprintf(out, len, "switched again after the drop");
        return;
    }
    snprintf(out, len, "ok");
}

/* Like a setcap binary run by the user: uid already the user's, CAP_NET_RAW effective. */
static void child_caps_only(char *out, size_t len)
{
    struct passwd *pw = getpwnam(DROP_USER);
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct caps[2];
    memset(caps, 0, sizeof caps);
    caps[0].effective = caps[0].permitted = 1u << CAP_NET_RAW;
    if (prctl(PR_SET_KEEPCAPS, 1) < 0 || setgroups(0, NULL) < 0 ||
        setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
        setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0 || syscall(SYS_capset, &hdr, caps) < 0) {
        snprintf(out, len, "cannot set up the capability-only process: %s", strerror(errno));
        return;
    }
    int raw = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    if (raw < 0) {
        snprintf(out, len, "CAP_NET_RAW did not allow a raw socket: %s", strerror(errno));
        return;
    }
    err_t err = {{0}};
    if (privdrop_to_user(DROP_USER, &err) < 0) {
        snprintf(out, len, "privdrop failed: %s", err.msg);
        return;
    }
    if (socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) >= 0) {
        snprintf(out, len, "CAP_NET_RAW survived the drop");
        return;
    }
    if (!raw_echo_works(raw)) {
        snprintf(out, len, "the raw socket opened before the drop no longer works");
        return;
    }
    snprintf(out, len, "ok");
}

static void test_drop_capabilities_only(void **state)
{
    (void)state;
    need_root();
    if (!getpwnam(DROP_USER)) {
        fail_msg("no user '%s' (every Debian system has it)", DROP_USER);
    }
    char out[512];
    in_child(child_caps_only, out, sizeof out);
    assert_string_equal(out, "ok");
}

static void test_drop_to_user(void **state)
{
    (void)state;
    need_root();
    if (!getpwnam(DROP_USER)) {
        fail_msg("no user '%s' (every Debian system has it)", DROP_USER);
    }
    char out[512];
    in_child(child_drop, out, sizeof out);
    assert_string_equal(out, "ok");
}

/* ---- config keys -------------------------------------------------------------------------- */

typedef struct fixture {
    char dir[64];
    keypair_t server, agent;
} fixture_t;

static fixture_t fx;

static int fixture_setup(void **state)
{
    (void)state;
    snprintf(fx.dir, sizeof fx.dir, "/tmp/px-test-privdrop-XXXXXX");
    if (!mkdtemp(fx.dir))
        return -1;
    /* World-searchable so the dropped child can reach state_dir inside. */
    chmod(fx.dir, 0755);
    err_t err = {{0}};
    if (keys_generate(&fx.server, &err) < 0 || keys_generate(&fx.agent, &err) < 0)
        return -1;
    return 0;
}

static int fixture_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", fx.dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int parse_with(const char *extra, agent_config_t *cfg, err_t *err)
{
    char text[2048];
    snprintf(text, sizeof text,
             "name = vantage-test\n"
             "coordinator = tcp://127.0.0.1:1\n"
             "coordinator_key = %s\n"
             "secret_key = %s\n"
             "state_dir = %s/state\n"
             "%s",
             fx.server.public_z85, fx.agent.secret_z85, fx.dir, extra);
    return agent_config_parse("agent.conf", text, cfg, err);
}

static void test_config_keys(void **state)
{
    (void)state;
    agent_config_t cfg;
    err_t err = {{0}};
    assert_int_equal(parse_with("", &cfg, &err), 0);
    assert_string_equal(cfg.user, "");
    assert_int_equal(cfg.max_pps, 1000);

    assert_int_equal(parse_with("max_pps = 5000\n", &cfg, &err), 0);
    assert_int_equal(cfg.max_pps, 5000);
    assert_int_equal(parse_with("max_pps = 1000000\n", &cfg, &err), 0);
    assert_int_equal(parse_with("max_pps = 0\n", &cfg, &err), -1);
    assert_non_null(strstr(err.msg, "agent.conf:6"));
    assert_int_equal(parse_with("max_pps = 1000001\n", &cfg, &err), -1);
    assert_non_null(strstr(err.msg, "agent.conf:6"));
    assert_int_equal(parse_with("max_pps = fast\n", &cfg, &err), -1);

    if (getpwnam(DROP_USER)) {
        assert_int_equal(parse_with("user = " DROP_USER "\n", &cfg, &err), 0);
        assert_string_equal(cfg.user, DROP_USER);
    }
    assert_int_equal(parse_with("# comment\nuser = px-no-such-user\n", &cfg, &err), -1);
    assert_string_equal(err.msg, "agent.conf:7: unknown user 'px-no-such-user'");
    assert_int_equal(parse_with("user = root\n", &cfg, &err), -1);
    assert_non_null(strstr(err.msg, "agent.conf:6: user 'root' has uid 0"));
    assert_int_equal(parse_with("user = \n", &cfg, &err), -1);
}

/* ---- the agent's start with `user` -------------------------------------------------------- */

/* Whether the process holds a raw socket (its inode listed in /proc/net/raw or raw6). */
static int holds_raw_socket(const char *table)
{
    FILE *f = fopen(table, "r");
    if (!f)
        return 0;
    char line[512];
    unsigned long inodes[64];
    int n = 0;
    while (fgets(line, sizeof line, f) && n < 64) {
        unsigned long inode;
        /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
        if (sscanf(line, "%*s %*s %*s %*s %*s %*s %*s %*s %*s %lu", &inode) == 1)
            inodes[n++] = inode;
    }
    fclose(f);
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    int found = 0;
    struct dirent *de;
    while (!found && (de = readdir(d))) {
        char path[300], target[64];
        snprintf(path, sizeof path, "/proc/self/fd/%s", de->d_name);
        ssize_t len = readlink(path, target, sizeof target - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        unsigned long inode;
        if (sscanf(target, "socket:[%lu]", &inode) != 1)
            continue;
        for (int i = 0; i < n; i++)
            found |= inodes[i] == inode;
    }
    closedir(d);
    return found;
}

/* 1 if every capability set in /proc/self/status is empty. */
static int no_caps_in_status(char *out, size_t len)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) {
        snprintf(out, len, "cannot read /proc/self/status");
        return 0;
    }
    char line[256];
    int seen = 0, ok = 1;
    while (fgets(line, sizeof line, f)) {
        static const char *const sets[] = {"CapInh:", "CapPrm:", "CapEff:", "CapAmb:"};
        for (size_t i = 0; i < 4; i++) {
            if (strncmp(line, sets[i], strlen(sets[i])) != 0)
                continue;
            seen++;
            if (strtoull(line + strlen(sets[i]), NULL, 16) != 0) {
                snprintf(out, len, "still has capabilities: %s", line);
                ok = 0;
            }
        }
        if (strncmp(line, "NoNewPrivs:", 11) == 0 && atoi(line + 11) != 1) {
            snprintf(out, len, "no_new_privs is not set");
            ok = 0;
        }
    }
    fclose(f);
    if (ok && seen != 4) {
        snprintf(out, len, "capability sets missing from /proc/self/status");
        ok = 0;
    }
    return ok;
}

/* agent_new() with config line extra: ends as DROP_USER, in state_dir, without capabilities,
 * holding a raw socket opened before. */
static void child_agent_with(const char *extra, char *out, size_t len)
{
    agent_config_t cfg;
    err_t err = {{0}};
    /* As systemd and some shells leave it: an inheritable set a switch of user keeps. */
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct caps[2];
    memset(caps, 0, sizeof caps);
    if (syscall(SYS_capget, &hdr, caps) == 0) {
        caps[0].inheritable = 1u << CAP_NET_RAW;
        (void)syscall(SYS_capset, &hdr, caps);
    }
    if (parse_with(extra, &cfg, &err) < 0) {
        snprintf(out, len, "config: %s", err.msg);
        return;
    }
    agent_t *a = agent_new(&cfg, &err);
    if (!a) {
        snprintf(out, len, "agent_new: %s", err.msg);
        return;
    }
    struct passwd *pw = getpwnam(DROP_USER);
    char cwd[256];
    if (getuid() != pw->pw_uid || geteuid() != pw->pw_uid)
        snprintf(out, len, "still uid %u", geteuid());
    else if (!getcwd(cwd, sizeof cwd) || strcmp(cwd, cfg.state_dir) != 0)
        snprintf(out, len, "cwd is not state_dir");
    else if (!holds_raw_socket("/proc/net/raw"))
        snprintf(out, len, "no raw ICMP socket was opened before the drop");
    else if (no_caps_in_status(out, len))
        snprintf(out, len, "ok");
    agent_destroy(&a);
}

static void child_agent(char *out, size_t len)
{
    child_agent_with("user = " DROP_USER "\nmax_pps = 50\n", out, len);
}

/* No `user`, started as root: the agent becomes PRIVDROP_DEFAULT_USER all the same. */
static void child_agent_default(char *out, size_t len)
{
    child_agent_with("max_pps = 50\n", out, len);
}

/* Everything under dir belongs to uid (1), or not (0). */
static int owned_by(const char *dir, uid_t uid)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "test -z \"$(find %s ! -user %u)\"", dir, (unsigned)uid);
    return system(cmd) == 0;
}

static void test_agent_drops(void **state)
{
    (void)state;
    need_root();
    struct passwd *pw = getpwnam(DROP_USER);
    if (!pw) {
        fail_msg("no user '%s' (every Debian system has it)", DROP_USER);
    }
    assert_string_equal(PRIVDROP_DEFAULT_USER, DROP_USER);
    char state_dir[128], sub[160], out[512];
    snprintf(state_dir, sizeof state_dir, "%s/state", fx.dir);
    /* As the loader leaves it for root (0700, root's), with a file and a directory of root's
     * inside: the agent hands it all to the user it becomes. */
    mkdir(state_dir, 0700);
    snprintf(sub, sizeof sub, "%s/spool", state_dir);
    mkdir(sub, 0700);
    snprintf(sub, sizeof sub, "%s/spool/old", state_dir);
    FILE *f = fopen(sub, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(chown(state_dir, 0, 0), 0);
    in_child(child_agent, out, sizeof out);
    assert_string_equal(out, "ok");
    assert_true(owned_by(state_dir, pw->pw_uid));
    /* Again from root's, without `user`. */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "chown -R 0:0 %s", state_dir);
    assert_int_equal(system(cmd), 0);
    in_child(child_agent_default, out, sizeof out);
    assert_string_equal(out, "ok");
    assert_true(owned_by(state_dir, pw->pw_uid));
}

/* A process that is not root, with CAP_NET_RAW ambient as systemd gives it: without `user` it
 * keeps its uid and loses every capability, and no_new_privs is set. */
static void child_caps_no_user(char *out, size_t len)
{
    struct passwd *pw = getpwnam(DROP_USER);
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct caps[2];
    memset(caps, 0, sizeof caps);
    caps[0].effective = caps[0].permitted = caps[0].inheritable = 1u << CAP_NET_RAW;
    if (prctl(PR_SET_KEEPCAPS, 1) < 0 || setgroups(0, NULL) < 0 ||
        setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
        setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0 || syscall(SYS_capset, &hdr, caps) < 0 ||
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_RAW, 0, 0) < 0) {
        snprintf(out, len, "cannot set up the ambient-capability process: %s", strerror(errno));
        return;
    }
    if (privdrop_user_for("") != NULL) {
        snprintf(out, len, "an unprivileged process without user would switch to '%s'",
                 privdrop_user_for(""));
        return;
    }
    int raw = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    err_t err = {{0}};
    if (raw < 0 || privdrop_caps(&err) < 0) {
        snprintf(out, len, "raw socket %d, privdrop_caps: %s", raw, err.msg);
        return;
    }
    if (getuid() != pw->pw_uid) {
        snprintf(out, len, "uid changed");
        return;
    }
    if (socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) >= 0) {
        snprintf(out, len, "CAP_NET_RAW survived");
        return;
    }
    if (!raw_echo_works(raw)) {
        snprintf(out, len, "the raw socket opened before no longer works");
        return;
    }
    if (no_caps_in_status(out, len))
        snprintf(out, len, "ok");
}

static void test_caps_without_user(void **state)
{
    (void)state;
    need_root();
    assert_string_equal(privdrop_user_for(""), PRIVDROP_DEFAULT_USER);
    assert_string_equal(privdrop_user_for("daemon"), "daemon");
    char out[512];
    in_child(child_caps_no_user, out, sizeof out);
    assert_string_equal(out, "ok");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_drop_to_user),
        cmocka_unit_test(test_drop_capabilities_only),
        cmocka_unit_test(test_config_keys),
        cmocka_unit_test(test_agent_drops),
        cmocka_unit_test(test_caps_without_user),
    };
    return cmocka_run_group_tests(tests, fixture_setup, fixture_teardown);
}
