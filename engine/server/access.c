/*
 * access.c - access rules of published URLs: parsing (SDDL well-known forms and ferry's own
 * syntax, docs/internals/access.md), fingerprints, the allow/401/403 decision, and Basic
 * credentials decoding.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "access.h"

struct access_rule *
access_rule_free(struct access_rule *rule)
{
    if (!rule)
        return NULL;
    for (size_t i = 0; i < rule->nusers; i++)
        free(rule->users[i]);
    for (size_t i = 0; i < rule->ncerts; i++)
        free(rule->certs[i]);
    free(rule->users);
    free(rule->certs);
    free(rule);
    return NULL;
}

static int
access_strv_add(char ***v, size_t *n, const char *s, size_t len)
{
    char **nv;
    char *copy;

    for (size_t i = 0; i < *n; i++)
        if (strlen((*v)[i]) == len && memcmp((*v)[i], s, len) == 0)
            return 0; /* already there */
    if (*n >= ACCESS_RULE_MAX_ITEMS)
        return -E2BIG;
    copy = strndup(s, len);
    if (!copy)
        return -ENOMEM;
    nv = realloc(*v, (*n + 1) * sizeof(*nv));
    if (!nv) {
        free(copy);
        return -ENOMEM;
    }
    nv[(*n)++] = copy;
    *v = nv;
    return 0;
}

static bool
access_user_char(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '_' || c == '@' || c == '-';
}

/* Normalise a fingerprint: 64 hex digits, optional ':' between bytes, any case. */
static int
access_cert_normalise(const char *s, size_t len, char out[65])
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == ':')
            continue;
        if (!isxdigit((unsigned char)c) || n >= 64)
            return -EINVAL;
        out[n++] = (char)tolower((unsigned char)c);
    }
    if (n != 64)
        return -EINVAL;
    out[64] = '\0';
    return 0;
}

int
access_rule_add_certs(struct access_rule *rule, const char *const *certs, size_t n, char *err,
                      size_t errlen)
{
    char hex[65];
    int r;

    for (size_t i = 0; i < n; i++) {
        if (!certs[i] || access_cert_normalise(certs[i], strlen(certs[i]), hex) < 0)
            return ferry_errf(err, errlen, -EINVAL,
                              "certificate fingerprint '%s' is not a SHA-256 (64 hex digits)",
                              certs[i] ? certs[i] : "");
        r = access_strv_add(&rule->certs, &rule->ncerts, hex, 64);
        if (r == -E2BIG)
            return ferry_errf(err, errlen, -EINVAL, "more than %d certificate fingerprints",
                              ACCESS_RULE_MAX_ITEMS);
        if (r < 0)
            return r;
    }
    return 0;
}

/* ---- SDDL ---- */

/* A SID: two capital letters ("WD") or "S-1-..." digits and dashes. Returns its length. */
static size_t
access_sddl_sid_len(const char *s)
{
    size_t n = 0;

    if (s[0] == 'S' && s[1] == '-') {
        n = 2;
        while (isdigit((unsigned char)s[n]) || s[n] == '-')
            n++;
        return n;
    }
    if (isupper((unsigned char)s[0]) && isupper((unsigned char)s[1]))
        return 2;
    return 0;
}

static bool
access_tok_eq(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(s, word, len) == 0;
}

/* Rights that allow reading: GA (generic all), GR (generic read), FA (file all), FR (file
 * read), alone or with GX/FX. */
static bool
access_sddl_rights_ok(const char *s, size_t len)
{
    bool read = false;

    if (len == 0 || len % 2 != 0)
        return false;
    for (size_t i = 0; i < len; i += 2) {
        if (access_tok_eq(s + i, 2, "GA") || access_tok_eq(s + i, 2, "GR") ||
            access_tok_eq(s + i, 2, "FA") || access_tok_eq(s + i, 2, "FR"))
            read = true;
        else if (!access_tok_eq(s + i, 2, "GX") && !access_tok_eq(s + i, 2, "FX"))
            return false;
    }
    return read;
}

/* Trustees that name domain accounts or groups (SDDL aliases of domain-relative SIDs). */
static bool
access_sddl_domain_alias(const char *s, size_t len)
{
    static const char *const aliases[] = {"DA", "DU", "DG", "DC", "DD", "CA", "EA", "SA",
                                          "PA", "RO", "RS", "CN", "AP", "KA", "EK", "CD"};

    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
        if (access_tok_eq(s, len, aliases[i]))
            return true;
    /* S-1-5-21-...: accounts and groups of a domain (or of one Windows machine) */
    return len > 9 && memcmp(s, "S-1-5-21-", 9) == 0;
}

static int
access_sddl_ace(struct access_rule *rule, const char *ace, size_t len, char *err,
                size_t errlen)
{
    const char *f[6];
    size_t flen[6];
    size_t nf = 0, start = 0;

    for (size_t i = 0; i <= len; i++) {
        if (i == len || ace[i] == ';') {
            if (nf == 6)
                return ferry_errf(err, errlen, -EINVAL, "ACE '(%.*s)' has more than 6 fields",
                                  (int)len, ace);
            f[nf] = ace + start;
            flen[nf++] = i - start;
            start = i + 1;
        }
    }
    if (nf != 6)
        return ferry_errf(err, errlen, -EINVAL, "ACE '(%.*s)' must have 6 fields", (int)len, ace);
    if (access_tok_eq(f[0], flen[0], "D"))
        return ferry_errf(err, errlen, -EINVAL, "deny ACEs are not supported: '(%.*s)'", (int)len, ace);
    if (!access_tok_eq(f[0], flen[0], "A"))
        return ferry_errf(err, errlen, -EINVAL, "ACE type '%.*s' is not supported (only A)",
                          (int)flen[0], f[0]);
    if (flen[1] != 0 || flen[3] != 0 || flen[4] != 0)
        return ferry_errf(err, errlen, -EINVAL, "ACE '(%.*s)': flags and object GUIDs must be empty",
                          (int)len, ace);
    if (!access_sddl_rights_ok(f[2], flen[2]))
        return ferry_errf(err, errlen, -EINVAL,
                          "ACE rights '%.*s' are not supported (GA, GR, FA or FR)",
                          (int)flen[2], f[2]);
    if (access_tok_eq(f[5], flen[5], "WD") || access_tok_eq(f[5], flen[5], "S-1-1-0") ||
        access_tok_eq(f[5], flen[5], "AN") || access_tok_eq(f[5], flen[5], "S-1-5-7"))
        rule->anonymous = true;
    else if (access_tok_eq(f[5], flen[5], "AU") || access_tok_eq(f[5], flen[5], "S-1-5-11") ||
             access_tok_eq(f[5], flen[5], "BU") ||
             access_tok_eq(f[5], flen[5], "S-1-5-32-545"))
        rule->authenticated = true;
    else if (access_tok_eq(f[5], flen[5], "BA") ||
             access_tok_eq(f[5], flen[5], "S-1-5-32-544"))
        rule->admins = true;
    /* service accounts (docs/internals/access.md): LocalSystem is the host itself, the
     * nearest ferry identity an administrator; NetworkService and LocalService reach a
     * server with the credentials their job holds, so any authenticated user (never
     * anonymous: that takes WD or AN) */
    else if (access_tok_eq(f[5], flen[5], "SY") || access_tok_eq(f[5], flen[5], "S-1-5-18"))
        rule->admins = true;
    else if (access_tok_eq(f[5], flen[5], "NS") || access_tok_eq(f[5], flen[5], "S-1-5-20") ||
             access_tok_eq(f[5], flen[5], "LS") || access_tok_eq(f[5], flen[5], "S-1-5-19"))
        rule->authenticated = true;
    else if (access_sddl_domain_alias(f[5], flen[5]))
        return ferry_errf(err, errlen, -EINVAL,
                          "trustee '%.*s' is a domain account or group: ferry has no domain "
                          "and cannot tell its members; grant users=NAME, AU or BA instead",
                          (int)flen[5], f[5]);
    else
        return ferry_errf(err, errlen, -EINVAL,
                          "trustee '%.*s' is not supported (WD, AN, AU, BU, BA, SY, NS or LS)",
                          (int)flen[5], f[5]);
    return 0;
}

static int
access_parse_sddl(struct access_rule *rule, const char *s, char *err, size_t errlen)
{
    bool dacl = false;
    int aces = 0, r;

    /* Owner and group parts carry no access: skip them. */
    while (s[0] && s[1] == ':' && (s[0] == 'O' || s[0] == 'G')) {
        size_t n = access_sddl_sid_len(s + 2);
        if (n == 0)
            return ferry_errf(err, errlen, -EINVAL, "malformed SID after '%c:'", s[0]);
        s += 2 + n;
    }
    if (s[0] == 'S' && s[1] == ':')
        return ferry_errf(err, errlen, -EINVAL, "SACLs ('S:') are not supported");
    if (s[0] == 'D' && s[1] == ':') {
        s += 2;
        dacl = true;
        /* DACL flags: protected / auto-inherit(ed) have no meaning here. */
        for (;;) {
            if (strncmp(s, "AI", 2) == 0 || strncmp(s, "AR", 2) == 0)
                s += 2;
            else if (s[0] == 'P')
                s += 1;
            else
                break;
        }
    }
    while (*s == '(') {
        const char *end = strchr(s, ')');
        if (!end)
            return ferry_errf(err, errlen, -EINVAL, "unterminated ACE '%s'", s);
        r = access_sddl_ace(rule, s + 1, (size_t)(end - s - 1), err, errlen);
        if (r < 0)
            return r;
        aces++;
        s = end + 1;
    }
    if (*s != '\0')
        return ferry_errf(err, errlen, -EINVAL, "unexpected '%s'%s", s,
                          dacl ? "" : " (expected D:(A;;GA;;;WD) or ferry syntax)");
    if (aces == 0)
        return ferry_errf(err, errlen, -EINVAL, "an SDDL DACL with no ACE grants nothing");
    return 0;
}

/* ---- ferry syntax ---- */

static int
access_parse_list(struct access_rule *rule, const char *s, size_t len, bool cert, char *err,
                  size_t errlen)
{
    size_t start = 0;
    int items = 0, r;

    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != ',')
            continue;
        const char *item = s + start;
        size_t ilen = i - start;
        start = i + 1;
        while (ilen > 0 && isspace((unsigned char)item[0])) {
            item++;
            ilen--;
        }
        while (ilen > 0 && isspace((unsigned char)item[ilen - 1]))
            ilen--;
        if (ilen == 0)
            return ferry_errf(err, errlen, -EINVAL, "empty name in '%.*s'", (int)len, s);
        if (cert) {
            char hex[65];
            if (access_cert_normalise(item, ilen, hex) < 0)
                return ferry_errf(err, errlen, -EINVAL,
                                  "certificate fingerprint '%.*s' is not a SHA-256 "
                                  "(64 hex digits)", (int)ilen, item);
            r = access_strv_add(&rule->certs, &rule->ncerts, hex, 64);
        } else {
            if (ilen > 64)
                return ferry_errf(err, errlen, -EINVAL, "user name '%.*s' is longer than 64",
                                  (int)ilen, item);
            for (size_t k = 0; k < ilen; k++)
                if (!access_user_char(item[k]))
                    return ferry_errf(err, errlen, -EINVAL,
                                      "user name '%.*s' has characters outside "
                                      "[A-Za-z0-9._@-]", (int)ilen, item);
            r = access_strv_add(&rule->users, &rule->nusers, item, ilen);
        }
        if (r == -E2BIG)
            return ferry_errf(err, errlen, -EINVAL, "more than %d names", ACCESS_RULE_MAX_ITEMS);
        if (r < 0)
            return r;
        items++;
    }
    return items;
}

static int
access_parse_ferry(struct access_rule *rule, const char *s, char *err, size_t errlen)
{
    size_t len = strlen(s), start = 0;
    int r;

    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != ';')
            continue;
        const char *item = s + start;
        size_t ilen = i - start;
        start = i + 1;
        while (ilen > 0 && isspace((unsigned char)item[0])) {
            item++;
            ilen--;
        }
        while (ilen > 0 && isspace((unsigned char)item[ilen - 1]))
            ilen--;
        if (ilen == 0)
            continue;
        if (access_tok_eq(item, ilen, "anonymous")) {
            rule->anonymous = true;
        } else if (access_tok_eq(item, ilen, "authenticated")) {
            rule->authenticated = true;
        } else if (access_tok_eq(item, ilen, "admins")) {
            rule->admins = true;
        } else if (ilen > 6 && strncmp(item, "users=", 6) == 0) {
            r = access_parse_list(rule, item + 6, ilen - 6, false, err, errlen);
            if (r < 0)
                return r;
        } else if (ilen > 5 && strncmp(item, "cert=", 5) == 0) {
            r = access_parse_list(rule, item + 5, ilen - 5, true, err, errlen);
            if (r < 0)
                return r;
        } else {
            return ferry_errf(err, errlen, -EINVAL,
                              "'%.*s' is neither an SDDL form (D:(A;;GA;;;WD), AU, BA) nor a "
                              "ferry rule (anonymous, authenticated, admins, users=NAME,..., "
                              "cert=SHA256,...)", (int)ilen, item);
        }
    }
    if (!rule->anonymous && !rule->authenticated && !rule->admins && rule->nusers == 0 &&
        rule->ncerts == 0)
        return ferry_errf(err, errlen, -EINVAL, "the rule grants access to nobody");
    return 0;
}

int
access_rule_parse(const char *text, struct access_rule **ret_rule, char *err, size_t errlen)
{
    struct access_rule *rule = calloc(1, sizeof(*rule));
    char *copy = NULL, *s;
    size_t len;
    int r;

    if (!rule)
        return -ENOMEM;
    if (!text || text[strspn(text, " \t")] == '\0') {
        rule->anonymous = true;
        *ret_rule = rule;
        return 0;
    }
    len = strlen(text);
    if (len > ACCESS_RULE_MAX_LEN) {
        r = ferry_errf(err, errlen, -EINVAL, "the rule is longer than %d bytes", ACCESS_RULE_MAX_LEN);
        goto error;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f) {
            r = ferry_errf(err, errlen, -EINVAL, "the rule contains control characters");
            goto error;
        }
    }
    copy = strdup(text);
    if (!copy) {
        r = -ENOMEM;
        goto error;
    }
    s = copy;
    while (isspace((unsigned char)*s))
        s++;
    len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        s[--len] = '\0';
    if (s[0] == '(' || (s[1] == ':' && (s[0] == 'D' || s[0] == 'O' || s[0] == 'G' ||
                                        s[0] == 'S')))
        r = access_parse_sddl(rule, s, err, errlen);
    else
        r = access_parse_ferry(rule, s, err, errlen);
    if (r < 0)
        goto error;
    free(copy);
    *ret_rule = rule;
    return 0;
error:
    free(copy);
    access_rule_free(rule);
    return r;
}

bool
access_rule_wants_user(const struct access_rule *rule)
{
    return rule->authenticated || rule->admins || rule->nusers > 0;
}

enum access_decision
access_decide(const struct access_rule *rule, const struct access_identity *id)
{
    if (rule->anonymous)
        return ACCESS_ALLOW;
    if (id->cert_sha256) {
        for (size_t i = 0; i < rule->ncerts; i++)
            if (strcasecmp(rule->certs[i], id->cert_sha256) == 0)
                return ACCESS_ALLOW;
    }
    if (id->user) {
        if (rule->authenticated)
            return ACCESS_ALLOW;
        if (rule->admins && id->role == FERRY_ROLE_ADMIN)
            return ACCESS_ALLOW;
        for (size_t i = 0; i < rule->nusers; i++)
            if (strcmp(rule->users[i], id->user) == 0)
                return ACCESS_ALLOW;
        return ACCESS_FORBIDDEN;
    }
    return access_rule_wants_user(rule) ? ACCESS_UNAUTHORIZED : ACCESS_FORBIDDEN;
}

int
access_basic_parse(const char *header, char *user, size_t user_len, char *pass,
                   size_t pass_len)
{
    unsigned char dec[768];
    const char *b64, *colon;
    size_t n, pad = 0, ulen;
    int d;

    if (!header || strncasecmp(header, "Basic ", 6) != 0)
        return -EINVAL;
    b64 = header + 6;
    while (*b64 == ' ')
        b64++;
    n = strlen(b64);
    while (n > 0 && b64[n - 1] == ' ')
        n--;
    if (n == 0 || n % 4 != 0 || n / 4 * 3 > sizeof(dec) - 1)
        return n / 4 * 3 > sizeof(dec) - 1 ? -E2BIG : -EINVAL;
    for (size_t i = 0; i < n; i++) {
        char c = b64[i];
        if (c == '=') {
            if (i < n - 2)
                return -EINVAL;
            pad++;
        } else if (!(isalnum((unsigned char)c) || c == '+' || c == '/') || pad > 0) {
            return -EINVAL;
        }
    }
    d = EVP_DecodeBlock(dec, (const unsigned char *)b64, (int)n);
    if (d < 0 || (size_t)d < pad)
        return -EINVAL;
    d -= (int)pad;
    dec[d] = '\0';
    if (memchr(dec, '\0', (size_t)d))
        return -EINVAL;
    colon = memchr(dec, ':', (size_t)d);
    if (!colon)
        return -EINVAL;
    ulen = (size_t)(colon - (const char *)dec);
    if (ulen == 0)
        return -EINVAL;
    if (ulen + 1 > user_len || strlen(colon + 1) + 1 > pass_len)
        return -E2BIG;
    memcpy(user, dec, ulen);
    user[ulen] = '\0';
    memcpy(pass, colon + 1, strlen(colon + 1) + 1);
    return 0;
}
