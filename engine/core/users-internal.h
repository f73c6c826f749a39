/*
 * engine/core/users-internal.h - the users-file parser and a test hook, for the Check
 * suite and the fuzz target.
 */
#ifndef FERRY_USERS_INTERNAL_H
#define FERRY_USERS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ferry/users.h"

#define USERS_SALT_LEN 16
#define USERS_HASH_LEN 32
#define USERS_MAX_DIGEST 64
#define USERS_NAME_MAX 64
#define USERS_FILE_MAX (4 * 1024 * 1024)
#define USERS_PASSWORD_MAX 1024

struct users_entry {
    char name[USERS_NAME_MAX + 1];
    enum ferry_role role;
    uint32_t iter;
    uint8_t salt[USERS_MAX_DIGEST];
    size_t salt_len;
    uint8_t hash[USERS_MAX_DIGEST];
    size_t hash_len;
};

/* Parse a whole users file held in memory. Blank lines and lines starting with '#' are
 * skipped; anything else must be a valid entry and names must be unique. On success the
 * entries (malloc()ed array, free() it) and their count; on failure -EINVAL, *ret_line the
 * 1-based line and err a reason without the file name. */
int users_parse(const char *buf, size_t len, struct users_entry **ret_v, size_t *ret_n,
                unsigned *ret_line, char *err, size_t errlen);

/* 0 when name matches [A-Za-z0-9._@-]{1,64}, -EINVAL otherwise. */
int users_name_check(const char *name);

/* Tests only: PBKDF2 iterations for new entries and for the unknown-user dummy work
 * (0 restores FERRY_PBKDF2_ITER). Not thread-safe against concurrent adds. */
void users_set_new_iterations(uint32_t iter);

#endif
