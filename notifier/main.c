/* parallax-notifier: command line, signals and exit status of the notification sender. */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "log.h"
#include "notifier.h"
#include "notify_config.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: parallax-notifier [-c FILE] [--check]\n"
            "       parallax-notifier --version | --help\n"
            "Delivers Parallax's outage notifications (the outbox in PostgreSQL) to the\n"
            "receivers added with 'parallaxctl notify add': Alertmanager, webhooks, e-mail.\n"
            "-c FILE reads the configuration from FILE (default " NOTIFY_CONFIG_DEFAULT_PATH ");\n"
            "every setting has a default, see parallax-notifier(8).\n"
            "--check only reads and checks FILE: it prints 'FILE: ok' and exits 0, or the\n"
            "error and exits 2.\n");
}

int main(int argc, char **argv)
{
    /* A receiver that closes its socket while we write must cost a write error, not us. */
    signal(SIGPIPE, SIG_IGN);
    const char *path = NULL;
    int check_only = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("parallax-notifier %s\n", PX_VERSION);
            return 0;
        } else if (strcmp(argv[i], "--check") == 0) {
            check_only = 1;
        } else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc && !path) {
            path = argv[++i];
        } else {
            fprintf(stderr, "parallax-notifier: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!path)
        path = NOTIFY_CONFIG_DEFAULT_PATH;
    err_t err = {{0}};
    notify_config_t cfg;
    if (notify_config_load(path, &cfg, &err) < 0) {
        fprintf(stderr, "parallax-notifier: %s\n", err.msg);
        return 2;
    }
    if (check_only) {
        printf("%s: ok\n", path);
        return 0;
    }
    /* SIGTERM and SIGINT arrive on a descriptor the loop (and a request in flight) polls, so
     * no handler and no global flag are needed. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    int sfd = -1;
    if (sigprocmask(SIG_BLOCK, &stop, NULL) < 0 ||
        (sfd = signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
        log_error("cannot set up signals: %m");
        return 1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error("cannot initialise libcurl");
        close(sfd);
        return 1;
    }
    notifier_t *n = notifier_new(&cfg, sfd, &err);
    if (!n) {
        log_error("%s", err.msg);
        curl_global_cleanup();
        close(sfd);
        return 1;
    }
    int rc = notifier_run(n);
    notifier_destroy(&n);
    curl_global_cleanup();
    close(sfd);
    return rc < 0 ? 1 : 0;
}
