/*
 * tests/fuzz/fuzz_urlgroup.c - the URL group prefix grammar and URL suffix rules
 * (engine/server/urlgroup.c) on arbitrary bytes. Traps when an accepted prefix's canonical
 * form does not parse back to itself, or an accepted suffix breaks the rules.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "urlgroup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct urlgroup_prefix p, q;
    const char *sfx;
    char err[256];
    char *s = malloc(size + 1);

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (urlgroup_prefix_parse(s, &p, err, sizeof(err)) == 0) {
        if (p.port == 0 || p.name[0] == '\0' || strchr(p.name, '/'))
            __builtin_trap();
        if (urlgroup_prefix_parse(p.canonical, &q, err, sizeof(err)) != 0 ||
            strcmp(p.canonical, q.canonical) != 0)
            __builtin_trap();
    }
    if (urlgroup_suffix_check(s, &sfx, err, sizeof(err)) == 0) {
        if (*sfx == '\0' || strchr(sfx, '/') || strstr(sfx, "..") || strlen(sfx) > 255)
            __builtin_trap();
        for (const char *c = sfx; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                __builtin_trap();
    }
    free(s);
    return 0;
}
