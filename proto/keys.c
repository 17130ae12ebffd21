/* keys: CURVE key pairs and key files. */
#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "config.h"
#include "secret_file.h"

int keys_generate(keypair_t *kp, err_t *err)
{
    if (!zmq_has("curve")) {
        err_set(err, "libzmq was built without CURVE support");
        return -1;
    }
    if (zmq_curve_keypair(kp->public_z85, kp->secret_z85) != 0) {
        err_set(err, "cannot generate a CURVE key pair: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

int keys_valid(const char *s)
{
    uint8_t raw[32];
    return s && strlen(s) == KEYS_Z85_LEN && zmq_z85_decode(raw, s) != NULL;
}

int keys_public_from_secret(const char *secret_z85, char out[KEYS_Z85_LEN + 1], err_t *err)
{
    if (!keys_valid(secret_z85)) {
        err_set(err, "secret key is not a 40-character Z85 key");
        return -1;
    }
    if (zmq_curve_public(out, secret_z85) != 0) {
        err_set(err, "cannot derive public key: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

int keys_file_write(const char *path, const keypair_t *kp, err_t *err)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof tmp) {
        err_set(err, "%s: path too long", path);
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        err_set(err, "%s: cannot create: %s", tmp, strerror(errno));
        return -1;
    }
    char text[256];
    int n = snprintf(text, sizeof text,
                     "# Parallax CURVE key pair. Keep secret; never copy it to another host.\n"
                     "public = %s\nsecret = %s\n",
                     kp->public_z85, kp->secret_z85);
    int ok = write(fd, text, (size_t)n) == n && fsync(fd) == 0;
    int saved = errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        saved = errno;
    }
    if (!ok || rename(tmp, path) != 0) {
        if (ok)
            saved = errno;
        unlink(tmp);
        err_set(err, "%s: cannot write: %s", path, strerror(saved));
        return -1;
    }
    return 0;
}

int keys_file_read(const char *path, keypair_t *kp, err_t *err)
{
    if (secret_file_check(path, "key file", err) < 0)
        return -1;
    config_t *cfg = config_read(path, err);
    if (!cfg)
        return -1;
    static const char *const known[] = {"public", "secret", NULL};
    int rc = -1;
    const char *pub, *sec;
    char derived[KEYS_Z85_LEN + 1];
    if (config_check_known(cfg, known, err) < 0 || !(pub = config_require(cfg, "public", err)) ||
        !(sec = config_require(cfg, "secret", err)))
        goto out;
    if (!keys_valid(pub) || keys_public_from_secret(sec, derived, err) < 0) {
        err_set(err, "%s: malformed key (expected 40-character Z85 keys)", path);
        goto out;
    }
    if (strcmp(derived, pub) != 0) {
        err_set(err, "%s: public key does not belong to the secret key", path);
        goto out;
    }
    memcpy(kp->public_z85, pub, sizeof kp->public_z85);
    memcpy(kp->secret_z85, sec, sizeof kp->secret_z85);
    rc = 0;
out:
    config_destroy(&cfg);
    return rc;
}
