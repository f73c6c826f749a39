/*
 * tests/fuzz/fuzz_users.c - the users-file parser (users_parse) on arbitrary bytes. Traps
 * when an accepted entry breaks the format's promises (name charset, role, non-zero
 * iterations, salt and hash lengths, unique names).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "users-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct users_entry *v = NULL;
    size_t n = 0;
    unsigned line = 0;
    char err[256];

    if (users_parse((const char *)data, size, &v, &n, &line, err, sizeof(err)) < 0) {
        if (line == 0 && size <= USERS_FILE_MAX)
            __builtin_trap(); /* a failure always names its line */
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (users_name_check(v[i].name) < 0)
            __builtin_trap();
        if (v[i].role != FERRY_ROLE_ADMIN && v[i].role != FERRY_ROLE_USER)
            __builtin_trap();
        if (v[i].iter == 0 || v[i].salt_len < 8 || v[i].salt_len > USERS_MAX_DIGEST ||
            v[i].hash_len < 16 || v[i].hash_len > USERS_MAX_DIGEST)
            __builtin_trap();
        for (size_t j = 0; j < i; j++) {
            if (strcmp(v[i].name, v[j].name) == 0)
                __builtin_trap();
        }
    }
    free(v);
    return 0;
}
