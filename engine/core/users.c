/*
 * users.c - the users file (ferry/users.h): PBKDF2-HMAC-SHA256 password entries, checked
 * in constant time, re-read when the file changes, rewritten atomically.
 *
 * Line format: name:role:pbkdf2-sha256$ITER$SALT_B64$HASH_B64 (standard base64, padded).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ferry/auth.h"
#include "ferry/config.h"
#include "ferry/log.h"
#include "ferry/users.h"
#include "users-internal.h"

#define USERS_SCHEME "pbkdf2-sha256"

struct ferry_users {
    pthread_mutex_t lock;
    char *path;
    /* identity of the file the entries came from; exists=false: it was missing */
    bool exists;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtim, ctim;
    struct users_entry *v;
    size_t n;
    /* every password check of both planes (ferry_users_auth_start) */
    struct ferry_authlimit *limit;
    struct ferry_authpool *pool;
};

static _Atomic uint32_t users_new_iter = FERRY_PBKDF2_ITER;

void
users_set_new_iterations(uint32_t iter)
{
    atomic_store(&users_new_iter, iter ? iter : FERRY_PBKDF2_ITER);
}

int
users_name_check(const char *name)
{
    size_t n;

    if (!name)
        return -EINVAL;
    n = strlen(name);
    if (n == 0 || n > USERS_NAME_MAX)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '@' || c == '-'))
            return -EINVAL;
    }
    return 0;
}

int
ferry_users_parse_role(const char *s, enum ferry_role *ret_role)
{
    if (!s)
        return -EINVAL;
    if (strcmp(s, "admin") == 0) {
        *ret_role = FERRY_ROLE_ADMIN;
        return 0;
    }
    if (strcmp(s, "user") == 0) {
        *ret_role = FERRY_ROLE_USER;
        return 0;
    }
    return -EINVAL;
}

const char *
ferry_role_name(enum ferry_role role)
{
    switch (role) {
    case FERRY_ROLE_ADMIN:
        return "admin";
    case FERRY_ROLE_USER:
        return "user";
    default:
        return "none";
    }
}

/* Decode padded standard base64 of [s, s+len) into out (cap bytes). */
static int
b64_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *ret_len)
{
    uint8_t tmp[((USERS_MAX_DIGEST + 2) / 3) * 3 + 3];
    size_t pad = 0;
    int n;

    if (len == 0 || len % 4 != 0 || len > ((cap + 2) / 3) * 4)
        return -EINVAL;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '=') {
            if (i < len - 2)
                return -EINVAL;
            pad++;
            continue;
        }
        if (pad > 0)
            return -EINVAL; /* data after padding */
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/'))
            return -EINVAL;
    }
    if (len / 4 * 3 > sizeof(tmp))
        return -EINVAL;
    n = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)len);
    if (n < 0 || (size_t)n < pad || (size_t)n - pad > cap)
        return -EINVAL;
    memcpy(out, tmp, (size_t)n - pad);
    *ret_len = (size_t)n - pad;
    OPENSSL_cleanse(tmp, sizeof(tmp));
    return 0;
}

/* One entry line [s, s+len) without its newline. */
static int
entry_parse(const char *s, size_t len, struct users_entry *e, char *err, size_t errlen)
{
    const char *end = s + len, *c1, *c2, *p, *d1, *d2, *d3;
    char role[16], num[16];
    unsigned long iter;
    char *nend;

    memset(e, 0, sizeof(*e));
    c1 = memchr(s, ':', len);
    if (!c1) {
        ferry_errf(err, errlen, -EINVAL, "expected name:role:%s$ITER$SALT$HASH", USERS_SCHEME);
        return -EINVAL;
    }
    c2 = memchr(c1 + 1, ':', (size_t)(end - c1 - 1));
    if (!c2) {
        ferry_errf(err, errlen, -EINVAL, "expected name:role:%s$ITER$SALT$HASH", USERS_SCHEME);
        return -EINVAL;
    }
    if ((size_t)(c1 - s) > USERS_NAME_MAX) {
        ferry_errf(err, errlen, -EINVAL, "user name longer than %d characters", USERS_NAME_MAX);
        return -EINVAL;
    }
    memcpy(e->name, s, (size_t)(c1 - s));
    e->name[c1 - s] = '\0';
    if (strlen(e->name) != (size_t)(c1 - s) || users_name_check(e->name) < 0) {
        ferry_errf(err, errlen, -EINVAL, "invalid user name (allowed: A-Z a-z 0-9 . _ @ -, 1 to %d)",
             USERS_NAME_MAX);
        return -EINVAL;
    }
    if ((size_t)(c2 - c1 - 1) >= sizeof(role)) {
        ferry_errf(err, errlen, -EINVAL, "unknown role (expected admin or user)");
        return -EINVAL;
    }
    memcpy(role, c1 + 1, (size_t)(c2 - c1 - 1));
    role[c2 - c1 - 1] = '\0';
    if (strlen(role) != (size_t)(c2 - c1 - 1) || ferry_users_parse_role(role, &e->role) < 0) {
        ferry_errf(err, errlen, -EINVAL, "unknown role (expected admin or user)");
        return -EINVAL;
    }
    p = c2 + 1;
    if ((size_t)(end - p) < sizeof(USERS_SCHEME) ||
        memcmp(p, USERS_SCHEME "$", sizeof(USERS_SCHEME)) != 0) {
        ferry_errf(err, errlen, -EINVAL, "unknown password scheme (expected %s)", USERS_SCHEME);
        return -EINVAL;
    }
    p += sizeof(USERS_SCHEME);
    d1 = memchr(p, '$', (size_t)(end - p));
    d2 = d1 ? memchr(d1 + 1, '$', (size_t)(end - d1 - 1)) : NULL;
    d3 = d2 ? memchr(d2 + 1, '$', (size_t)(end - d2 - 1)) : NULL;
    if (!d1 || !d2 || d3) {
        ferry_errf(err, errlen, -EINVAL, "expected %s$ITER$SALT$HASH", USERS_SCHEME);
        return -EINVAL;
    }
    if (d1 == p || (size_t)(d1 - p) >= sizeof(num) || *p < '1' || *p > '9') {
        ferry_errf(err, errlen, -EINVAL, "invalid iteration count");
        return -EINVAL;
    }
    memcpy(num, p, (size_t)(d1 - p));
    num[d1 - p] = '\0';
    errno = 0;
    iter = strtoul(num, &nend, 10);
    if (errno != 0 || *nend != '\0' || iter == 0 || iter > INT_MAX) {
        ferry_errf(err, errlen, -EINVAL, "invalid iteration count");
        return -EINVAL;
    }
    e->iter = (uint32_t)iter;
    if (b64_decode(d1 + 1, (size_t)(d2 - d1 - 1), e->salt, sizeof(e->salt), &e->salt_len) < 0 ||
        e->salt_len < 8) {
        ferry_errf(err, errlen, -EINVAL, "invalid salt (base64 of 8 to %d bytes)", USERS_MAX_DIGEST);
        return -EINVAL;
    }
    if (b64_decode(d2 + 1, (size_t)(end - d2 - 1), e->hash, sizeof(e->hash), &e->hash_len) <
            0 ||
        e->hash_len < 16) {
        ferry_errf(err, errlen, -EINVAL, "invalid hash (base64 of 16 to %d bytes)", USERS_MAX_DIGEST);
        return -EINVAL;
    }
    return 0;
}

/* A line that holds an entry (not blank, not a comment). */
static bool
line_is_entry(const char *s, size_t len)
{
    return len > 0 && s[0] != '#';
}

int
users_parse(const char *buf, size_t len, struct users_entry **ret_v, size_t *ret_n,
            unsigned *ret_line, char *err, size_t errlen)
{
    struct users_entry *v = NULL;
    size_t n = 0, cap = 0;
    const char *p = buf, *end = buf + len;
    unsigned line = 0;
    int r = 0;

    if (len > USERS_FILE_MAX) {
        ferry_errf(err, errlen, -EINVAL, "file larger than %d bytes", USERS_FILE_MAX);
        *ret_line = 0;
        return -EINVAL;
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        line++;
        if (l > 0 && p[l - 1] == '\r')
            l--;
        if (line_is_entry(p, l)) {
            struct users_entry e;
            if (memchr(p, '\0', l)) {
                ferry_errf(err, errlen, -EINVAL, "NUL byte in line");
                r = -EINVAL;
                goto error;
            }
            r = entry_parse(p, l, &e, err, errlen);
            if (r < 0)
                goto error;
            for (size_t i = 0; i < n; i++) {
                if (strcmp(v[i].name, e.name) == 0) {
                    ferry_errf(err, errlen, -EINVAL, "user '%s' appears twice", e.name);
                    r = -EINVAL;
                    goto error;
                }
            }
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 8;
                struct users_entry *nv = realloc(v, ncap * sizeof(*nv));
                if (!nv) {
                    ferry_errf(err, errlen, -EINVAL, "out of memory");
                    r = -ENOMEM;
                    goto error;
                }
                v = nv;
                cap = ncap;
            }
            v[n++] = e;
            OPENSSL_cleanse(&e, sizeof(e));
        }
        p = nl ? nl + 1 : end;
    }
    *ret_v = v;
    *ret_n = n;
    return 0;
error:
    if (v)
        OPENSSL_cleanse(v, n * sizeof(*v));
    free(v);
    *ret_line = line;
    return r;
}

/* Read at most USERS_FILE_MAX bytes of an open file. */
static int
read_all(int fd, char **ret_buf, size_t *ret_len)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);

    if (!buf)
        return -ENOMEM;
    for (;;) {
        ssize_t n;
        if (len == cap) {
            char *nb;
            if (cap > USERS_FILE_MAX) {
                free(buf);
                return -EFBIG;
            }
            nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return -ENOMEM;
            }
            buf = nb;
            cap *= 2;
        }
        n = read(fd, buf + len, cap - len);
        if (n < 0) {
            int r = -errno;
            if (errno == EINTR)
                continue;
            free(buf);
            return r;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    *ret_buf = buf;
    *ret_len = len;
    return 0;
}

static void
entries_free(struct users_entry *v, size_t n)
{
    if (v)
        OPENSSL_cleanse(v, n * sizeof(*v));
    free(v);
}

static bool
same_identity(const struct ferry_users *u, const struct stat *st)
{
    return u->exists && u->dev == st->st_dev && u->ino == st->st_ino &&
           u->size == st->st_size && u->mtim.tv_sec == st->st_mtim.tv_sec &&
           u->mtim.tv_nsec == st->st_mtim.tv_nsec && u->ctim.tv_sec == st->st_ctim.tv_sec &&
           u->ctim.tv_nsec == st->st_ctim.tv_nsec;
}

static void
identity_set(struct ferry_users *u, const struct stat *st)
{
    u->exists = true;
    u->dev = st->st_dev;
    u->ino = st->st_ino;
    u->size = st->st_size;
    u->mtim = st->st_mtim;
    u->ctim = st->st_ctim;
}

/*
 * Re-read the file when its identity changed. Called with u->lock held. A file that fails
 * to parse leaves the set empty (fail closed: a half-edited file grants nobody) and is
 * logged once per change.
 */
static int
users_refresh(struct ferry_users *u)
{
    struct users_entry *v = NULL;
    char *buf = NULL;
    size_t n = 0, len = 0;
    struct stat st;
    unsigned line = 0;
    char err[160];
    int fd, r;

    if (stat(u->path, &st) < 0) {
        if (errno != ENOENT) {
            r = -errno;
            ferry_log_error("stat('%s') failed: %s", u->path, strerror(errno));
            return r;
        }
        if (u->exists || u->n > 0) {
            entries_free(u->v, u->n);
            u->v = NULL;
            u->n = 0;
            u->exists = false;
        }
        return 0;
    }
    if (same_identity(u, &st))
        return 0;

    fd = open(u->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        ferry_log_error("open('%s') failed: %s", u->path, strerror(errno));
        return r;
    }
    if (fstat(fd, &st) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    if (st.st_mode & 077)
        ferry_log_warn("users file '%s' is readable or writable by group or others "
                       "(mode %04o): its password hashes can be attacked offline; "
                       "run chmod 600 on it", u->path, (unsigned)(st.st_mode & 07777));
    r = read_all(fd, &buf, &len);
    close(fd);
    /* Whatever happens next, this version of the file has been seen. */
    identity_set(u, &st);
    entries_free(u->v, u->n);
    u->v = NULL;
    u->n = 0;
    if (r < 0) {
        ferry_log_error("users file '%s' could not be read: %s", u->path, strerror(-r));
        return r;
    }
    r = users_parse(buf, len, &v, &n, &line, err, sizeof(err));
    if (buf)
        OPENSSL_cleanse(buf, len);
    free(buf);
    if (r < 0) {
        ferry_log_error("users file '%s' line %u: %s; no user can log in until it is fixed",
                        u->path, line, err);
        return r;
    }
    u->v = v;
    u->n = n;
    return 0;
}

int
ferry_users_open(const char *path, struct ferry_users **ret_users)
{
    struct ferry_users *u;
    int r;

    if (!path || !ret_users)
        return -EINVAL;
    u = calloc(1, sizeof(*u));
    if (!u)
        return -ENOMEM;
    r = pthread_mutex_init(&u->lock, NULL);
    if (r != 0) {
        free(u);
        return -r;
    }
    u->path = strdup(path);
    if (!u->path) {
        r = -ENOMEM;
        goto error;
    }
    r = users_refresh(u);
    if (r < 0)
        goto error;
    *ret_users = u;
    return 0;
error:
    ferry_users_free(u);
    return r;
}

struct ferry_users *
ferry_users_free(struct ferry_users *u)
{
    if (!u)
        return NULL;
    u->pool = ferry_authpool_free(u->pool);
    u->limit = ferry_authlimit_free(u->limit);
    entries_free(u->v, u->n);
    free(u->path);
    pthread_mutex_destroy(&u->lock);
    free(u);
    return NULL;
}

/* Copy the entry called name into *ret (lock held by caller). */
static bool
users_find(struct ferry_users *u, const char *name, struct users_entry *ret)
{
    for (size_t i = 0; i < u->n; i++) {
        if (strcmp(u->v[i].name, name) == 0) {
            if (ret)
                *ret = u->v[i];
            return true;
        }
    }
    return false;
}

static int
derive(const char *password, size_t pwlen, const uint8_t *salt, size_t salt_len, uint32_t iter,
       uint8_t *out, size_t out_len)
{
    if (PKCS5_PBKDF2_HMAC(password, (int)pwlen, salt, (int)salt_len, (int)iter, EVP_sha256(),
                          (int)out_len, out) != 1)
        return -EIO;
    return 0;
}

int
ferry_users_verify(struct ferry_users *users, const char *name, const char *password,
                   enum ferry_role *ret_role)
{
    static const uint8_t dummy_salt[USERS_SALT_LEN] = {0x66, 0x65, 0x72, 0x72, 0x79};
    struct users_entry e;
    uint8_t out[USERS_MAX_DIGEST];
    bool found = false, ok;
    size_t pwlen = 0;
    int r;

    if (!users || !ret_role)
        return -EINVAL;
    if (name && users_name_check(name) == 0) {
        pthread_mutex_lock(&users->lock);
        users_refresh(users);
        found = users_find(users, name, &e);
        pthread_mutex_unlock(&users->lock);
    }
    if (!found) {
        /* Same work as for a real user: the dummy hash can never match (found = false). */
        memset(&e, 0, sizeof(e));
        memcpy(e.salt, dummy_salt, sizeof(dummy_salt));
        e.salt_len = sizeof(dummy_salt);
        e.hash_len = USERS_HASH_LEN;
        e.iter = atomic_load(&users_new_iter);
    }
    if (password)
        pwlen = strnlen(password, USERS_PASSWORD_MAX + 1);
    if (!password || pwlen > USERS_PASSWORD_MAX) {
        found = false;
        password = "";
        pwlen = 0;
    }
    r = derive(password, pwlen, e.salt, e.salt_len, e.iter, out, e.hash_len);
    ok = r == 0 && CRYPTO_memcmp(out, e.hash, e.hash_len) == 0 && found;
    OPENSSL_cleanse(out, sizeof(out));
    OPENSSL_cleanse(e.hash, sizeof(e.hash));
    if (!ok)
        return -EACCES;
    *ret_role = e.role;
    return 0;
}

int
ferry_users_role(struct ferry_users *users, const char *name, enum ferry_role *ret_role)
{
    struct users_entry e;
    bool found = false;

    if (!users || !ret_role)
        return -EINVAL;
    if (name && users_name_check(name) == 0) {
        pthread_mutex_lock(&users->lock);
        users_refresh(users);
        found = users_find(users, name, &e);
        pthread_mutex_unlock(&users->lock);
    }
    if (!found)
        return -ENOENT;
    *ret_role = e.role;
    OPENSSL_cleanse(&e, sizeof(e));
    return 0;
}

/* "name:role:pbkdf2-sha256$ITER$SALT$HASH\n" for a fresh salt. */
static int
entry_format(const char *name, enum ferry_role role, const char *password, char **ret_line)
{
    uint8_t salt[USERS_SALT_LEN], hash[USERS_HASH_LEN];
    char salt_b64[((USERS_SALT_LEN + 2) / 3) * 4 + 1];
    char hash_b64[((USERS_HASH_LEN + 2) / 3) * 4 + 1];
    uint32_t iter = atomic_load(&users_new_iter);
    char *line = NULL;
    int r;

    if (RAND_bytes(salt, sizeof(salt)) != 1)
        return -EIO;
    r = derive(password, strlen(password), salt, sizeof(salt), iter, hash, sizeof(hash));
    if (r < 0)
        return r;
    EVP_EncodeBlock((unsigned char *)salt_b64, salt, sizeof(salt));
    EVP_EncodeBlock((unsigned char *)hash_b64, hash, sizeof(hash));
    OPENSSL_cleanse(hash, sizeof(hash));
    if (asprintf(&line, "%s:%s:%s$%u$%s$%s\n", name, ferry_role_name(role), USERS_SCHEME, iter,
                 salt_b64, hash_b64) < 0)
        return -ENOMEM;
    *ret_line = line;
    return 0;
}

static int
write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The old file with the line of `name` replaced by new_line, or new_line appended. The
 * result is at most old_len + 1 + strlen(new_line) bytes (a final newline may be added). */
static int
content_build(const char *old, size_t old_len, const char *name, const char *new_line,
              char **ret, size_t *ret_len)
{
    size_t nl_len = strlen(new_line), namelen = strlen(name), len = 0;
    char *out = malloc(old_len + nl_len + 2);
    const char *p = old, *end = old + old_len;
    bool replaced = false;

    if (!out)
        return -ENOMEM;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (!replaced && line_is_entry(p, l) && l > namelen && memcmp(p, name, namelen) == 0 &&
            p[namelen] == ':') {
            memcpy(out + len, new_line, nl_len);
            len += nl_len;
            replaced = true;
        } else {
            memcpy(out + len, p, l);
            len += l;
            out[len++] = '\n';
        }
        p = nl ? nl + 1 : end;
    }
    if (!replaced) {
        memcpy(out + len, new_line, nl_len);
        len += nl_len;
    }
    *ret = out;
    *ret_len = len;
    return 0;
}

int
ferry_users_add(const char *path, const char *name, enum ferry_role role, const char *password)
{
    char *dir = NULL, *tmp = NULL, *line = NULL, *old = NULL, *content = NULL, *slash;
    size_t old_len = 0, content_len = 0, n;
    struct users_entry *v = NULL;
    unsigned bad_line = 0;
    int dirfd = -1, fd = -1, tfd = -1, r;
    bool tmp_created = false;
    char err[160];

    if (!path || users_name_check(name) < 0 || !password)
        return -EINVAL;
    if (role != FERRY_ROLE_ADMIN && role != FERRY_ROLE_USER)
        return -EINVAL;
    n = strnlen(password, USERS_PASSWORD_MAX + 1);
    if (n == 0 || n > USERS_PASSWORD_MAX)
        return -EINVAL;

    dir = strdup(path);
    if (!dir)
        return -ENOMEM;
    slash = strrchr(dir, '/');
    if (!slash) {
        free(dir);
        dir = strdup(".");
        if (!dir)
            return -ENOMEM;
    } else if (slash == dir) {
        slash[1] = '\0';
    } else {
        *slash = '\0';
    }
    if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
        tmp = NULL;
        r = -ENOMEM;
        goto cleanup;
    }
    r = entry_format(name, role, password, &line);
    if (r < 0)
        goto cleanup;

    /* Serialise writers (ferryctl user add in parallel) on the directory. */
    dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        r = -errno;
        goto cleanup;
    }
    if (flock(dirfd, LOCK_EX) < 0) {
        r = -errno;
        goto cleanup;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        r = read_all(fd, &old, &old_len);
        if (r < 0)
            goto cleanup;
        r = users_parse(old, old_len, &v, &n, &bad_line, err, sizeof(err));
        if (r < 0) {
            ferry_log_error("users file '%s' line %u: %s; not rewriting it", path, bad_line,
                            err);
            goto cleanup;
        }
        entries_free(v, n);
    } else if (errno != ENOENT) {
        r = -errno;
        goto cleanup;
    }
    r = content_build(old ? old : "", old_len, name, line, &content, &content_len);
    if (r < 0)
        goto cleanup;

    tfd = mkostemp(tmp, O_CLOEXEC);
    if (tfd < 0) {
        r = -errno;
        goto cleanup;
    }
    tmp_created = true;
    if (fchmod(tfd, 0600) < 0) {
        r = -errno;
        goto cleanup;
    }
    r = write_all(tfd, content, content_len);
    if (r < 0)
        goto cleanup;
    if (fsync(tfd) < 0) {
        r = -errno;
        goto cleanup;
    }
    r = close(tfd);
    tfd = -1;
    if (r < 0) {
        r = -errno;
        goto cleanup;
    }
    if (rename(tmp, path) < 0) {
        r = -errno;
        goto cleanup;
    }
    tmp_created = false;
    fsync(dirfd);
    r = 0;
cleanup:
    if (tmp_created)
        unlink(tmp);
    if (tfd >= 0)
        close(tfd);
    if (fd >= 0)
        close(fd);
    if (dirfd >= 0)
        close(dirfd); /* releases the flock */
    if (content)
        OPENSSL_cleanse(content, content_len);
    if (old)
        OPENSSL_cleanse(old, old_len);
    free(content);
    free(old);
    free(line);
    free(tmp);
    free(dir);
    return r;
}

int
ferry_users_auth_start(struct ferry_users *u, const struct ferry_config *cfg)
{
    int r;

    if (u->pool)
        return -EALREADY;
    r = ferry_authlimit_new(cfg->auth_fail_limit, &u->limit);
    if (r < 0)
        return r;
    r = ferry_authpool_new(cfg->auth_verify_threads, cfg->auth_verify_queue,
                           ferry_users_verify, u, u->limit, &u->pool);
    if (r < 0)
        u->limit = ferry_authlimit_free(u->limit);
    return r;
}

struct ferry_authpool *
ferry_users_authpool(struct ferry_users *u)
{
    return u ? u->pool : NULL;
}
