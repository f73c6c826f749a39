/*
 * tests/fuzz/fuzz_relay_have.c - the X-Ferry-Have parser (engine/core/relay_have.c) on
 * arbitrary bytes, for a few layouts. Traps when it sets a chunk beyond the file, counts
 * more chunks than it set, or when what relay_have_format writes of the result does not
 * parse back to the same set.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint64_t ns[] = {1, 7, 96, 1000};
    char *s = malloc(size + 1);

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
        uint64_t n = ns[k];
        uint8_t have[1001], back[1001];
        char buf[RELAY_HAVE_MAX];
        int64_t got, set = 0;

        memset(have, 0, sizeof(have));
        got = relay_have_parse(s, n, 1048576, have);
        if (have[n] != 0)
            __builtin_trap();
        for (uint64_t i = 0; i < n; i++)
            set += have[i];
        if (got >= 0 && got != set)
            __builtin_trap();
        relay_have_format(have, n, 1048576, buf, sizeof(buf));
        memset(back, 0, sizeof(back));
        if (relay_have_parse(buf, n, 1048576, back) < 0)
            __builtin_trap();
        for (uint64_t i = 0; i < n; i++)
            if (back[i] && !have[i])
                __builtin_trap();
    }
    free(s);
    return 0;
}
