/* parallax-agent: command line, config loading and exit codes (0 after a clean shutdown,
 * 1 on a runtime failure, 2 on bad usage or a bad config file). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "agent_config.h"
#include "log.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: parallax-agent -c FILE\n"
                 "       parallax-agent --help | --version\n"
                 "\n"
                 "Runs the probes the Parallax coordinator schedules and sends it the results.\n"
                 "  -c, --config FILE  agent config file (key = value)\n"
                 "  -h, --help         show this help\n"
                 "  -V, --version      show the version\n"
                 "Set PARALLAX_DEBUG=1 for debug logging.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    const char *config_path = NULL;
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
        default:
            usage(stderr);
            return 2;
        }
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
    agent_t *agent = agent_new(&cfg, &err);
    memset(cfg.secret_key, 0, sizeof cfg.secret_key);
    if (!agent) {
        log_error("cannot start: %s", err.msg);
        return 1;
    }
    int rc = agent_run(agent, &err);
    if (rc < 0)
        log_error("%s", err.msg);
    outbox_counters_t ct;
    agent_counters(agent, &ct);
    log_info("produced=%llu stored=%llu rejected=%llu dropped=%llu pending=%llu",
             (unsigned long long)ct.produced, (unsigned long long)ct.stored,
             (unsigned long long)ct.rejected, (unsigned long long)ct.dropped,
             (unsigned long long)ct.pending);
    agent_destroy(&agent);
    return rc < 0 ? 1 : 0;
}
