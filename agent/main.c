/* parallax-agent: command line, config loading and exit codes (0 after a clean shutdown,
 * 1 on a runtime failure, 2 on bad usage or a bad config file). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "agent_config.h"
#include "log.h"
#include "probe_once.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: parallax-agent -c FILE [--check]\n"
                 "       parallax-agent --probe ADDRESS SPEC [--timeout MS]\n"
                 "       parallax-agent --help | --version\n"
                 "\n"
                 "Runs the probes the Parallax coordinator schedules and sends it the results.\n"
                 "  -c, --config FILE  agent config file (key = value)\n"
                 "  --check            only read and check FILE: print 'FILE: ok' and exit 0,\n"
                 "                     or the error and exit 2\n"
                 "  --probe ADDRESS SPEC\n"
                 "                     run one probe now (SPEC: icmp, tcp:PORT, http:URL, ...)\n"
                 "                     and print its result; exit 0 if its status is ok, 3 if\n"
                 "                     not, 2 if it cannot be run\n"
                 "  --timeout MS       timeout for --probe (default 5000)\n"
                 "  -h, --help         show this help\n"
                 "  -V, --version      show the version\n"
                 "Set PARALLAX_DEBUG=1 for debug logging.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {"probe", required_argument, NULL, 'p'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {"check", no_argument, NULL, 'k'},
                                         {NULL, 0, NULL, 0}};
    /* A peer that closes a socket we write to must cost a write error, not the process. */
    signal(SIGPIPE, SIG_IGN);
    const char *config_path = NULL;
    const char *probe_address = NULL;
    unsigned long timeout_ms = 5000;
    int check_only = 0;
    char *end = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("parallax-agent %s\n", PX_VERSION);
            return 0;
        case 'p':
            probe_address = optarg;
            break;
        case 'k':
            check_only = 1;
            break;
        case 't':
            timeout_ms = strtoul(optarg, &end, 10);
            if (!*optarg || *end || timeout_ms < 1 || timeout_ms > 600000) {
                fprintf(stderr, "parallax-agent: bad --timeout '%s': 1 to 600000 ms\n", optarg);
                return 2;
            }
            break;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (probe_address) {
        if (optind + 1 != argc || config_path) {
            fprintf(stderr, "parallax-agent: --probe takes ADDRESS SPEC and no config\n");
            return 2;
        }
        err_t perr = {{0}};
        int prc = probe_once(probe_address, argv[optind], (uint32_t)timeout_ms, stdout, &perr);
        if (prc < 0) {
            fprintf(stderr, "parallax-agent: %s\n", perr.msg);
            return 2;
        }
        return prc;
    }
    if (optind < argc) {
        fprintf(stderr, "parallax-agent: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (!config_path) {
        fprintf(stderr, "parallax-agent: -c FILE is required\n");
        usage(stderr);
        return 2;
    }

    agent_config_t cfg;
    err_t err = {{0}};
    if (agent_config_load(config_path, &cfg, &err) < 0) {
        fprintf(stderr, "parallax-agent: %s\n", err.msg);
        return 2;
    }
    if (check_only) {
        explicit_bzero(cfg.secret_key, sizeof cfg.secret_key);
        printf("%s: ok\n", config_path);
        return 0;
    }
    agent_t *agent = agent_new(&cfg, &err);
    explicit_bzero(cfg.secret_key, sizeof cfg.secret_key);
    if (!agent) {
        log_error("cannot start: %s", err.msg);
        return 1;
    }
    int rc = agent_run(agent, &err);
    if (rc < 0)
        log_error("%s", err.msg);
    agent_stats_t st;
    agent_stats(agent, &st);
    char line[1024];
    agent_stats_format(&st, " ", line, sizeof line);
    log_info("counters at exit: %s", line);
    agent_destroy(&agent);
    return rc < 0 ? 1 : 0;
}
