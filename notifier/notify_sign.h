/* notify_sign: the webhook signature: HMAC-SHA256 over "<timestamp>.<body>" with the
 * receiver's secret, written as the X-Parallax-Signature header value "sha256=<hex>". A
 * receiver recomputes it to know the body came from Parallax and was not replayed later. */
#ifndef PX_NOTIFY_SIGN_H
#define PX_NOTIFY_SIGN_H

#include <stddef.h>

#define NOTIFY_SIGN_HEX_LEN 64                               /* hex digits of a SHA-256 MAC */
#define NOTIFY_SIGN_HEADER_MAX (7 + NOTIFY_SIGN_HEX_LEN + 1) /* "sha256=" + hex + NUL */

/* Writes the lowercase hex HMAC-SHA256 of msg (len bytes) under key (klen bytes) into hex
 * (NOTIFY_SIGN_HEX_LEN + 1 bytes). Returns 0, or -1 if OpenSSL fails. */
int notify_sign_hmac_hex(const void *key, size_t klen, const void *msg, size_t len, char *hex);

/* Writes "sha256=<hex of HMAC(secret, timestamp "." body)>" into out
 * (NOTIFY_SIGN_HEADER_MAX bytes). Returns 0, or -1 on failure (out of memory, OpenSSL). */
int notify_sign_webhook(const char *secret, long long timestamp, const char *body, size_t len,
                        char *out);

#endif
