/*
 * tests/fuzz/fuzz_access.c - access rule parsing (SDDL forms and ferry syntax) and Basic
 * credentials decoding (engine/server/access.c) on arbitrary bytes. Traps when an accepted
 * rule grants nothing or holds a malformed fingerprint or user name.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct access_rule *r = NULL;
    char err[256], user[65], pass[129];
    char *s = malloc(size + 1);

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (access_rule_parse(s, &r, err, sizeof(err)) == 0) {
        if (!r->anonymous && !r->authenticated && !r->admins && r->nusers == 0 &&
            r->ncerts == 0)
            __builtin_trap();
        for (size_t i = 0; i < r->ncerts; i++) {
            if (strlen(r->certs[i]) != 64)
                __builtin_trap();
            for (size_t k = 0; k < 64; k++)
                if (!isxdigit((unsigned char)r->certs[i][k]) ||
                    isupper((unsigned char)r->certs[i][k]))
                    __builtin_trap();
        }
        for (size_t i = 0; i < r->nusers; i++)
            if (r->users[i][0] == '\0' || strlen(r->users[i]) > 64)
                __builtin_trap();
        access_rule_free(r);
    }
    if (access_basic_parse(s, user, sizeof(user), pass, sizeof(pass)) == 0 &&
        (user[0] == '\0' || strchr(user, ':')))
        __builtin_trap();
    free(s);
    return 0;
}
