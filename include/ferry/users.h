/*
 * ferry/users.h - the users file STATE/users (docs/DESIGN.md §5): one line per user,
 *   name:role:pbkdf2-sha256$ITER$SALT_B64$HASH_B64
 * role "admin" or "user". Written atomically with mode 0600. Read by both planes: the
 * WS-Man endpoint (Basic auth) and the compact server (access rules naming users).
 */
#ifndef FERRY_USERS_H
#define FERRY_USERS_H

#include "ferry/common.h"

enum ferry_role {
    FERRY_ROLE_NONE = 0,
    FERRY_ROLE_USER,
    FERRY_ROLE_ADMIN,
};

struct ferry_users;

#define FERRY_PBKDF2_ITER 100000

/* Load a users file; a missing file is an empty set (not an error). -EINVAL on a malformed
 * line (message logged with file:line). The set re-reads the file when its mtime changes. */
FERRY_API int ferry_users_open(const char *path, struct ferry_users **ret_users);
FERRY_API struct ferry_users *ferry_users_free(struct ferry_users *users);
/* Check a password. 0 and *ret_role on success; -EACCES on unknown user or wrong password
 * (constant-time compare; same work for unknown users). Thread-safe. */
FERRY_API int ferry_users_verify(struct ferry_users *users, const char *name,
                                 const char *password, enum ferry_role *ret_role);
/* Role of a known user without a password (client-certificate mapping); -ENOENT. */
FERRY_API int ferry_users_role(struct ferry_users *users, const char *name,
                               enum ferry_role *ret_role);
/* Add or replace a user in the file at path (created 0600, parent must exist). Names are
 * [A-Za-z0-9._@-]{1,64}. */
FERRY_API int ferry_users_add(const char *path, const char *name, enum ferry_role role,
                              const char *password);
/* Start the failed-login limiter and the verifier pool (ferry/auth.h) that every password
 * check of both planes goes through, sized by cfg (auth_fail_limit, auth_verify_threads,
 * auth_verify_queue). Once; -EALREADY after. Stopped by ferry_users_free(). */
struct ferry_config;
struct ferry_authpool;
FERRY_API int ferry_users_auth_start(struct ferry_users *users, const struct ferry_config *cfg);
/* The pool started above, or NULL (then callers check synchronously). */
FERRY_API struct ferry_authpool *ferry_users_authpool(struct ferry_users *users);
FERRY_API int ferry_users_parse_role(const char *s, enum ferry_role *ret_role);
FERRY_API const char *ferry_role_name(enum ferry_role role);

#endif
