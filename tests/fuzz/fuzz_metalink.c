/*
 * tests/fuzz/fuzz_metalink.c - the client's Metalink 4 parser (metalink_parse) on arbitrary
 * bytes. Traps when an accepted document breaks what the fetcher relies on: a known size,
 * a piece count that covers exactly that size, zero flags that are 0 or 1, bounded mirrors.
 */
#include <stdint.h>
#include <stdlib.h>

#include "client/metalink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct metalink *ml = NULL;

    if (metalink_parse((const char *)data, size, &ml) < 0)
        return 0;
    if (ml->size == FERRY_SIZE_UNKNOWN)
        __builtin_trap();
    if (ml->npieces) {
        if (ml->piece_length == 0 ||
            ml->npieces != (ml->size + ml->piece_length - 1) / ml->piece_length)
            __builtin_trap();
        for (uint64_t i = 0; i < ml->npieces; i++)
            if (ml->zero[i] > 1)
                __builtin_trap();
    }
    if (ml->nurls > METALINK_MAX_URLS)
        __builtin_trap();
    metalink_free(ml);
    return 0;
}
