/*
 * engine/server/access.h - access rules of published URLs (docs/internals/access.md):
 * anonymous, any authenticated user, administrators, named users, client-certificate
 * SHA-256 fingerprints. Parsed from the well-known SDDL forms or ferry's own syntax.
 * Pure functions: the request glue (Basic header, users file) is in fileserve.c.
 */
#ifndef FERRY_SERVER_ACCESS_H
#define FERRY_SERVER_ACCESS_H

#include <stdbool.h>
#include <stddef.h>

#include "ferry/users.h"

/* A request is allowed when any one of these allows it. */
struct access_rule {
    bool anonymous;     /* everyone, no credentials needed */
    bool authenticated; /* any user of the users file with a valid password */
    bool admins;        /* users with role admin */
    char **users;       /* these named users */
    size_t nusers;
    char **certs;       /* client certificate SHA-256 fingerprints, 64 lowercase hex */
    size_t ncerts;
};

/* Longest rule text accepted, and most names/fingerprints in one rule. */
#define ACCESS_RULE_MAX_LEN 4096
#define ACCESS_RULE_MAX_ITEMS 256

/* Parse `text`: NULL or "" = anonymous; SDDL "D:(A;;GA;;;WD)" forms or ferry syntax
 * ("anonymous", "authenticated", "admins", "users=a,b", "cert=HEX,...", joined by ';').
 * Returns 0 and a new rule, -EINVAL with a sentence in err, or -ENOMEM. */
int access_rule_parse(const char *text, struct access_rule **ret_rule, char *err,
                      size_t errlen);
/* Add client certificate fingerprints (hex, ':' separators and case ignored). -EINVAL with
 * err on a malformed one. */
int access_rule_add_certs(struct access_rule *rule, const char *const *certs, size_t n,
                          char *err, size_t errlen);
/* Free a rule (NULL-safe); returns NULL. */
struct access_rule *access_rule_free(struct access_rule *rule);
/* true when a user name/password can change the decision (401 makes sense). */
bool access_rule_wants_user(const struct access_rule *rule);

/* Who the request is, as fileserve.c established it. */
struct access_identity {
    const char *user;        /* verified user name, NULL when none */
    enum ferry_role role;
    const char *cert_sha256; /* client certificate fingerprint (lowercase hex) or NULL */
};

enum access_decision {
    ACCESS_ALLOW = 0,
    ACCESS_UNAUTHORIZED, /* 401: credentials missing or wrong */
    ACCESS_FORBIDDEN,    /* 403: identified but not allowed */
};

/* Allow when any grant of the rule matches id; otherwise 401 when credentials could help
 * (no user established and the rule has a user grant), else 403. Pure. */
enum access_decision access_decide(const struct access_rule *rule,
                                   const struct access_identity *id);

/* Decode an "Authorization: Basic ..." value into user and password buffers. -EINVAL when
 * it is not Basic or malformed, -E2BIG when a part does not fit. */
int access_basic_parse(const char *header, char *user, size_t user_len, char *pass,
                       size_t pass_len);

#endif
