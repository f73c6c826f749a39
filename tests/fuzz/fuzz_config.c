/*
 * tests/fuzz/fuzz_config.c - the config file parser (config_load_buffer) and the flag
 * parser (ferry_config_parse_args) on arbitrary bytes. Besides memory errors (ASan/UBSan),
 * it traps when an accepted configuration breaks the table's promises: a number outside
 * its range, a control character in a string, a malformed url entry.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config-internal.h"
#include "ferry/config.h"

static void
check_string(const char *s)
{
    if (!s)
        return;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            __builtin_trap();
    }
}

static void
check_invariants(const struct ferry_config *cfg)
{
    for (size_t i = 0; i < config_noptions; i++) {
        const struct ferry_config_option *o = &config_options[i];
        const char *f = (const char *)cfg + o->offset;
        uint64_t v;

        switch (o->type) {
        case FERRY_CONFIG_UNSIGNED:
            v = *(const unsigned *)f;
            break;
        case FERRY_CONFIG_SIZE:
            v = *(const size_t *)f;
            break;
        case FERRY_CONFIG_BYTES:
            v = *(const uint64_t *)f;
            break;
        case FERRY_CONFIG_STRING:
        case FERRY_CONFIG_CHOICE:
        case FERRY_CONFIG_FILE:
            check_string(*(char *const *)f);
            continue;
        case FERRY_CONFIG_STRV: {
            const struct ferry_strv *sv = (const struct ferry_strv *)f;
            for (size_t j = 0; j < sv->n; j++) {
                if (!sv->v[j] || !*sv->v[j])
                    __builtin_trap();
                check_string(sv->v[j]);
            }
            continue;
        }
        default:
            continue;
        }
        if (v < o->min || v > o->max)
            __builtin_trap();
    }
    for (size_t i = 0; i < cfg->nurls; i++) {
        const struct ferry_config_url *u = &cfg->urls[i];
        if (!u->url || strncmp(u->url, "http", 4) != 0)
            __builtin_trap();
        if (u->source && (!*u->source || strchr(u->source, ' ')))
            __builtin_trap();
        check_string(u->url);
        check_string(u->source);
        check_string(u->rule);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ferry_config *cfg = ferry_config_new();
    char err[512];
    char *copy, *argv[64], *save = NULL, *tok;
    int argc = 0;

    if (!cfg)
        return 0;
    if (config_load_buffer(cfg, "fuzz", (const char *)data, size, err, sizeof(err)) == 0)
        check_invariants(cfg);
    cfg = ferry_config_free(cfg);

    /* The same bytes as command-line words, one per line. --help/--version print and
     * --config reads a file: leave those out. */
    copy = malloc(size + 1);
    cfg = ferry_config_new();
    if (!copy || !cfg)
        goto cleanup;
    memcpy(copy, data, size);
    copy[size] = '\0';
    argv[argc++] = (char *)"ferryd";
    for (tok = strtok_r(copy, "\n", &save); tok && argc < 63; tok = strtok_r(NULL, "\n", &save)) {
        if (strncmp(tok, "--help", 6) == 0 || strncmp(tok, "-h", 2) == 0 ||
            strncmp(tok, "--version", 9) == 0 || strncmp(tok, "--config", 8) == 0)
            continue;
        argv[argc++] = tok;
    }
    argv[argc] = NULL;
    if (ferry_config_parse_args(cfg, argc, argv, err, sizeof(err)) == 0)
        check_invariants(cfg);
cleanup:
    ferry_config_free(cfg);
    free(copy);
    return 0;
}
