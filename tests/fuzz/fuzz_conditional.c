/*
 * tests/fuzz/fuzz_conditional.c - Range parsing, HTTP dates and the conditional decision
 * (engine/server/conditional.c) on arbitrary bytes. Traps when a satisfiable range leaves
 * the file or a decision is not one of 200/206/304/416 with a consistent body range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conditional.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint64_t sizes[] = {0, 1, 1000, UINT64_MAX / 2};
    struct conditional_result res;
    uint64_t start, len;
    time_t t;
    char *s = malloc(size + 1);

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        if (conditional_range_parse(s, sizes[i], &start, &len) == CONDITIONAL_RANGE_SINGLE &&
            (len == 0 || start >= sizes[i] || len > sizes[i] - start))
            __builtin_trap();
        struct conditional_request rq = {true, s, s, NULL, s};
        struct conditional_file f = {"\"1-2-3-4\"", 784111777, sizes[i]};
        conditional_evaluate(&rq, &f, &res);
        if (res.status == 206 && (res.len == 0 || res.start + res.len > sizes[i]))
            __builtin_trap();
        if (res.status != 200 && res.status != 206 && res.status != 304 && res.status != 416)
            __builtin_trap();
    }
    conditional_date_parse(s, &t);
    conditional_etag_list_match(s, "\"a\"");
    free(s);
    return 0;
}
