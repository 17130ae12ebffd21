/* notify_sign: OpenSSL's one-shot HMAC; the signed text is built in one buffer so the MAC
 * covers exactly the bytes a receiver sees. */
#include "notify_sign.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int notify_sign_hmac_hex(const void *key, size_t klen, const void *msg, size_t len, char *hex)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mlen = 0;
    /* HMAC() takes an int key length; a secret that long is a configuration error anyway. */
    if (klen > 1u << 20 ||
        !HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, len, mac, &mlen) ||
        mlen * 2 != NOTIFY_SIGN_HEX_LEN)
        return -1;
    static const char digits[] = "0123456789abcdef";
    for (unsigned int i = 0; i < mlen; i++) {
        hex[2 * i] = digits[mac[i] >> 4];
        hex[2 * i + 1] = digits[mac[i] & 15];
    }
    hex[NOTIFY_SIGN_HEX_LEN] = '\0';
    return 0;
}

int notify_sign_webhook(const char *secret, long long timestamp, const char *body, size_t len,
                        char *out)
{
    char ts[32];
    int tlen = snprintf(ts, sizeof ts, "%lld.", timestamp);
    if (tlen < 0 || (size_t)tlen >= sizeof ts)
        return -1;
    char *msg = malloc((size_t)tlen + len + 1);
    if (!msg)
        return -1;
    memcpy(msg, ts, (size_t)tlen);
    memcpy(msg + tlen, body, len);
    memcpy(out, "sha256=", 7);
    int rc = notify_sign_hmac_hex(secret, strlen(secret), msg, (size_t)tlen + len, out + 7);
    free(msg);
    return rc;
}
