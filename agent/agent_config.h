/* agent_config: the agent's typed settings, read from a strict `key = value` file. Every
 * error names the file and line so an operator can fix the config from the message alone. */
#ifndef PX_AGENT_CONFIG_H
#define PX_AGENT_CONFIG_H

#include <limits.h>
#include <stdint.h>

#include "err.h"
#include "keys.h"

#define AGENT_CONFIG_NAME_MAX 64
#define AGENT_CONFIG_ENDPOINT_MAX 256
#define AGENT_CONFIG_USER_MAX 64
/* spool_max_bytes: default, and the range accepted. */
#define AGENT_CONFIG_SPOOL_DEFAULT (64ULL * 1024 * 1024)
#define AGENT_CONFIG_SPOOL_MIN (1ULL * 1024 * 1024)
#define AGENT_CONFIG_SPOOL_MAX (64ULL * 1024 * 1024 * 1024)

/* Plain data, no pointers: it can be copied freely. */
typedef struct agent_config {
    char name[AGENT_CONFIG_NAME_MAX + 1];
    char coordinator[AGENT_CONFIG_ENDPOINT_MAX]; /* ZeroMQ endpoint, tcp://host:port */
    char coordinator_key[KEYS_Z85_LEN + 1];      /* coordinator's CURVE public key */
    char secret_key[KEYS_Z85_LEN + 1];           /* this agent's CURVE secret key */
    char public_key[KEYS_Z85_LEN + 1];           /* derived from secret_key */
    char state_dir[PATH_MAX];
    uint32_t batch_max;         /* results per batch */
    uint32_t batch_interval_ms; /* a partial batch is sent this long after its first result */
    uint32_t heartbeat_s;
    /* Obsolete since the spool replaced the in-memory queue: still accepted (and range
     * checked) so old config files keep working; max_pending_given says it was set, so the
     * agent can say that it has no effect. */
    uint64_t max_pending;
    int max_pending_given;
    uint64_t spool_max_bytes; /* bound on the on-disk spool (state_dir/spool) */
    uint32_t resend_ms;       /* an unacked batch is resent after this */
    /* User to switch to once the raw sockets are open; "" = keep running as started. */
    char user[AGENT_CONFIG_USER_MAX + 1];
    uint32_t max_pps;      /* ceiling on probe packets started per second */
    int deny_own_networks; /* probes to this host's own networks are not run either */
} agent_config_t;

/* Reads path into *out; refuses a file that group or others may read or that another user
 * owns (it holds the secret key). Creates state_dir (mode 0700) if missing and checks that it is
 * writable. Returns 0, or -1 with a one-line "FILE:LINE: ..." (or "FILE: ...") message in err.
 * *out is unspecified on failure. */
int agent_config_load(const char *path, agent_config_t *out, err_t *err);

/* Like agent_config_load() but parses text as if read from a file called name. */
int agent_config_parse(const char *name, const char *text, agent_config_t *out, err_t *err);

#endif
