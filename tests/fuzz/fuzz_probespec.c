/* fuzz_probespec: fuzz target for probespec_parse(). Parsing must never crash, must explain
 * every refusal, and a spec it accepts must have a canonical form that parses to the same
 * spec: parse(format(parse(x))) == parse(x). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probespec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_probespec: %s: %s\n", what, detail ? detail : "");
    abort();
}

static int same_spec(const probespec_t *a, const probespec_t *b)
{
    return a->kind == b->kind && a->port == b->port && strcmp(a->host, b->host) == 0 &&
           strcmp(a->path, b->path) == 0 && strcmp(a->qtype, b->qtype) == 0 &&
           a->expect_status == b->expect_status && strcmp(a->expect_body, b->expect_body) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    probespec_t spec, again;
    err_t err = {{0}};
    if (probespec_parse(text, &spec, &err) < 0) {
        if (!err.msg[0])
            fuzz_fail("refused without a reason", text);
        free(text);
        return 0;
    }
    char canon[PROBESPEC_MAX], canon2[PROBESPEC_MAX];
    if (probespec_format(&spec, canon, sizeof canon) < 0)
        fuzz_fail("accepted spec has no canonical form within PROBESPEC_MAX", text);
    if (probespec_parse(canon, &again, &err) < 0)
        fuzz_fail("canonical form does not parse", err.msg);
    if (!same_spec(&spec, &again))
        fuzz_fail("canonical form parses to another spec", canon);
    if (probespec_format(&again, canon2, sizeof canon2) < 0 || strcmp(canon, canon2) != 0)
        fuzz_fail("canonical form is not stable", canon2);
    if (!probespec_kind_name(spec.kind))
        fuzz_fail("accepted spec of an unknown kind", text);
    free(text);
    return 0;
}
