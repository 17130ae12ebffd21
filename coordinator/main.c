/* parallax-coordinator: command line, configuration and exit status of the coordinator. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "coord.h"
#include "coord_config.h"
#include "log.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: parallax-coordinator -c FILE [--check] [--new-key]\n"
                 "       parallax-coordinator --version | --help\n"
                 "Receives probe results from Parallax agents over CURVE-encrypted ZeroMQ and\n"
                 "stores them in PostgreSQL. FILE holds listen, advertise, database, key_file\n"
                 "and optionally session_timeout_s (see README.md, 'Configuration').\n"
                 "--check only reads and checks FILE: it prints 'FILE: ok' and exits 0, or the\n"
                 "error and exits 2.\n"
                 "--new-key lets it make a new key pair when key_file is missing although the\n"
                 "database has a key registered (every agent then needs the new key); without\n"
                 "it the coordinator refuses to start in that case.\n");
}

int main(int argc, char **argv)
{
    /* A peer that closes a socket we write to must cost a write error, not the process. */
    signal(SIGPIPE, SIG_IGN);
    const char *path = NULL;
    int check_only = 0, new_key = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("parallax-coordinator %s\n", PX_VERSION);
            return 0;
        } else if (strcmp(argv[i], "--check") == 0) {
            check_only = 1;
        } else if (strcmp(argv[i], "--new-key") == 0) {
            new_key = 1;
        } else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc && !path) {
            path = argv[++i];
        } else {
            fprintf(stderr, "parallax-coordinator: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "parallax-coordinator: missing -c FILE\n");
        usage(stderr);
        return 2;
    }
    err_t err = {{0}};
    coord_config_t cfg;
    if (coord_config_load(path, &cfg, &err) < 0) {
        fprintf(stderr, "parallax-coordinator: %s\n", err.msg);
        return 2;
    }
    cfg.new_key = new_key;
    if (check_only) {
        printf("%s: ok\n", path);
        return 0;
    }
    coord_t *coord = coord_new(&cfg, &err);
    if (!coord) {
        log_error("%s", err.msg);
        return 1;
    }
    int rc = coord_run(coord, &err);
    if (rc < 0)
        log_error("%s", err.msg);
    coord_destroy(&coord);
    return rc < 0 ? 1 : 0;
}
