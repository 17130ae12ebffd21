/* keys: CURVE key pairs in Z85 text: generation, checks and the 0600 key files the
 * coordinator keeps. Agents keep their secret key inside their config file. */
#ifndef PX_KEYS_H
#define PX_KEYS_H

#include "err.h"

#define KEYS_Z85_LEN 40

typedef struct keypair {
    char public_z85[KEYS_Z85_LEN + 1];
    char secret_z85[KEYS_Z85_LEN + 1];
} keypair_t;

/* Generates a new key pair. Returns 0, or -1 if libzmq lacks CURVE support. */
int keys_generate(keypair_t *kp, err_t *err);

/* 1 if s is a 40-character Z85 string that decodes to a 32-byte key, else 0. */
int keys_valid(const char *s);

/* Derives the public key of a Z85 secret key into out. Returns 0 or -1 (err set). */
int keys_public_from_secret(const char *secret_z85, char out[KEYS_Z85_LEN + 1], err_t *err);

/* Writes kp to path with mode 0600, atomically (temporary file and rename), so a crash
 * never leaves a half-written key. Returns 0 or -1 (err set). */
int keys_file_write(const char *path, const keypair_t *kp, err_t *err);

/* Reads a key file ("public = ...", "secret = ..."); checks both keys match. Refuses a
 * file that group or others may read, or that another user owns. Returns 0 or -1 (err set). */
int keys_file_read(const char *path, keypair_t *kp, err_t *err);

#endif
