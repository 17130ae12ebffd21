/* fuzz_config: fuzz target for config_parse() (the text after config_read() checked size and
 * NUL bytes). Parsing must never crash; every error names the file; look-ups on what parsed
 * must hold up whatever the values are. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_config: %s: %s\n", what, detail ? detail : "");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* config_parse() takes a C string: a NUL in the input ends the text, as it would for a
     * caller holding an embedded default. */
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    err_t err = {{0}};
    config_t *cfg = config_parse("fuzz.conf", text, &err);
    free(text);
    if (!cfg) {
        if (strncmp(err.msg, "fuzz.conf", 9) != 0)
            fuzz_fail("error does not name the file", err.msg);
        return 0;
    }
    static const char *const known[] = {"name", "port", "enabled", "spool.dir", NULL};
    static const char *const keys[] = {"name", "port", "enabled", "a", "x.y-z_1", ""};
    err_clear(&err);
    if (config_check_known(cfg, known, &err) < 0 && strncmp(err.msg, "fuzz.conf:", 10) != 0)
        fuzz_fail("unknown-key error without FILE:LINE", err.msg);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *v = config_get(cfg, keys[i]);
        const char *r = config_require(cfg, keys[i], &err);
        if (r && (!v || strcmp(r, v) != 0 || !*r))
            fuzz_fail("config_require and config_get disagree", keys[i]);
        uint64_t u = 0;
        if (config_get_uint(cfg, keys[i], 1, 65535, 7, &u, &err) == 0 && v && (u < 1 || u > 65535))
            fuzz_fail("config_get_uint returned a value out of range", v);
        if (!v && u != 7)
            fuzz_fail("config_get_uint ignored the default", keys[i]);
        int b = -1;
        if (config_get_bool(cfg, keys[i], 1, &b, &err) == 0 && b != 0 && b != 1)
            fuzz_fail("config_get_bool returned neither 0 nor 1", v);
        char where[64];
        if (strncmp(config_where(cfg, keys[i], where, sizeof where), "fuzz.conf", 9) != 0)
            fuzz_fail("config_where does not name the file", where);
    }
    config_destroy(&cfg);
    if (cfg)
        fuzz_fail("config_destroy did not clear the pointer", NULL);
    return 0;
}
