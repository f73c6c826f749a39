/*
 * urlgroup.c - URL groups and URLs: the registry with its limits, shared listeners,
 * publish-root confinement of source files, the open-file cache, routing (the grammar is
 * urlgroup_prefix.c).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ferry/log.h"
#include "urlgroup.h"
#include "core/relay.h"

/* Cached descriptors at most: a publisher of many URLs keeps this many open, the others
 * are opened per request. */
#define URLGROUP_FILES_MAX 1024

/* ---- objects ---- */

struct urlgroup_url *
urlgroup_url_ref(struct urlgroup_url *u)
{
    if (u)
        atomic_fetch_add(&u->refcnt, 1);
    return u;
}

struct urlgroup_url *
urlgroup_url_unref(struct urlgroup_url *u)
{
    if (!u || atomic_fetch_sub(&u->refcnt, 1) != 1)
        return NULL;
    urlgroup_unref(u->group);
    manifest_unref(u->manifest);
    urlgroup_file_release(u->file);
    access_rule_free(u->rule);
    for (size_t i = 0; i < u->ncerts; i++)
        free(u->certs[i]);
    free(u->certs);
    free(u->suffix);
    free(u->source);
    free(u->rule_text);
    free(u->relpath);
    relay_unref(u->relay);
    pthread_mutex_destroy(&u->mlock);
    free(u);
    return NULL;
}

struct urlgroup *
urlgroup_ref(struct urlgroup *g)
{
    if (g)
        atomic_fetch_add(&g->refcnt, 1);
    return g;
}

struct urlgroup *
urlgroup_unref(struct urlgroup *g)
{
    if (!g || atomic_fetch_sub(&g->refcnt, 1) != 1)
        return NULL;
    ferry_rate_unref(g->rate);
    free(g->urls);
    free(g->listeners);
    free(g);
    return NULL;
}

/* ---- registry ---- */

int
urlgroup_registry_new(const char *const *roots, size_t nroots, unsigned max_groups,
                      unsigned max_urls, const struct urlgroup_ops *ops, void *ud,
                      struct urlgroup_registry **ret_reg)
{
    struct urlgroup_registry *reg = calloc(1, sizeof(*reg));

    if (!reg)
        return -ENOMEM;
    pthread_rwlock_init(&reg->lock, NULL);
    atomic_init(&reg->nfiles, 0);
    reg->max_files = URLGROUP_FILES_MAX;
    reg->max_groups = max_groups;
    reg->max_urls = max_urls;
    reg->ops = ops;
    reg->ud = ud;
    if (nroots > 0) {
        reg->roots = calloc(nroots, sizeof(*reg->roots));
        reg->roots_real = calloc(nroots, sizeof(*reg->roots_real));
        reg->root_fds = calloc(nroots, sizeof(*reg->root_fds));
        if (!reg->roots || !reg->roots_real || !reg->root_fds)
            goto oom;
    }
    for (size_t i = 0; i < nroots; i++) {
        size_t len;

        reg->root_fds[i] = -1;
        reg->nroots++;
        reg->roots[i] = strdup(roots[i]);
        if (!reg->roots[i])
            goto oom;
        len = strlen(reg->roots[i]);
        while (len > 1 && reg->roots[i][len - 1] == '/')
            reg->roots[i][--len] = '\0';
        reg->roots_real[i] = realpath(reg->roots[i], NULL);
        reg->root_fds[i] = open(reg->roots[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (reg->root_fds[i] < 0)
            ferry_log_warn("publish root '%s' cannot be opened: %s", reg->roots[i],
                           strerror(errno));
    }
    *ret_reg = reg;
    return 0;
oom:
    urlgroup_registry_free(reg);
    return -ENOMEM;
}

static void
urlgroup_release_listeners_locked(struct urlgroup_registry *reg, struct urlgroup *g)
{
    for (size_t i = 0; i < g->nlisteners; i++) {
        for (size_t k = 0; k < reg->nlisteners; k++) {
            struct urlgroup_listener *l = &reg->listeners[k];
            if (l->id != g->listeners[i])
                continue;
            if (--l->users == 0) {
                reg->ops->unlisten(reg->ud, l->id);
                reg->listeners[k] = reg->listeners[--reg->nlisteners];
            }
            break;
        }
    }
    g->nlisteners = 0;
}

static void urlgroup_url_drop_file(struct urlgroup_registry *reg, struct urlgroup_url *u);

/* Remove group i from the registry (write lock held): URLs marked deleted, listeners
 * released, the registry's reference dropped. */
static void
urlgroup_remove_locked(struct urlgroup_registry *reg, size_t i)
{
    struct urlgroup *g = reg->groups[i];

    reg->groups[i] = reg->groups[--reg->ngroups];
    urlgroup_release_listeners_locked(reg, g);
    for (size_t k = 0; k < g->nurls; k++) {
        atomic_store(&g->urls[k]->deleted, true);
        urlgroup_url_drop_file(reg, g->urls[k]);
        urlgroup_url_unref(g->urls[k]);
    }
    reg->nurls -= g->nurls;
    g->nurls = 0;
    urlgroup_unref(g);
}

struct urlgroup_registry *
urlgroup_registry_free(struct urlgroup_registry *reg)
{
    if (!reg)
        return NULL;
    while (reg->ngroups > 0)
        urlgroup_remove_locked(reg, reg->ngroups - 1);
    for (size_t i = 0; i < reg->nroots; i++) {
        free(reg->roots[i]);
        free(reg->roots_real[i]);
        if (reg->root_fds[i] >= 0)
            close(reg->root_fds[i]);
    }
    free(reg->roots);
    free(reg->roots_real);
    free(reg->root_fds);
    free(reg->groups);
    free(reg->listeners);
    pthread_rwlock_destroy(&reg->lock);
    free(reg);
    return NULL;
}

static struct urlgroup *
urlgroup_lookup_locked(struct urlgroup_registry *reg, const char *canonical)
{
    for (size_t i = 0; i < reg->ngroups; i++)
        if (strcmp(reg->groups[i]->p.canonical, canonical) == 0)
            return reg->groups[i];
    return NULL;
}

int
urlgroup_port_scheme_locked(struct urlgroup_registry *reg, uint16_t port)
{
    for (size_t i = 0; i < reg->ngroups; i++)
        if (reg->groups[i]->p.port == port)
            return reg->groups[i]->p.https ? 2 : 1;
    return 0;
}

/* Bind addresses of a prefix: "*:PORT" for + and *, the literal, or every address a name
 * resolves to. */
static int
urlgroup_bind_addrs(const struct urlgroup_prefix *p, char (*addrs)[URLGROUP_HOST_MAX + 16],
                    size_t max, size_t *ret_n, char *err, size_t errlen)
{
    struct addrinfo hints = {0}, *res = NULL;
    size_t n = 0;
    int r;

    switch (p->host_kind) {
    case URLGROUP_HOST_STRONG:
    case URLGROUP_HOST_WEAK:
        snprintf(addrs[0], sizeof(addrs[0]), "*:%u", p->port);
        *ret_n = 1;
        return 0;
    case URLGROUP_HOST_IPV4:
        snprintf(addrs[0], sizeof(addrs[0]), "%s:%u", p->host, p->port);
        *ret_n = 1;
        return 0;
    case URLGROUP_HOST_IPV6:
        snprintf(addrs[0], sizeof(addrs[0]), "[%s]:%u", p->host, p->port);
        *ret_n = 1;
        return 0;
    case URLGROUP_HOST_NAME:
        break;
    }
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    r = getaddrinfo(p->host, NULL, &hints, &res);
    if (r != 0)
        return ferry_errf(err, errlen, -EINVAL, "host '%s' of URL group '%s' does not resolve: %s",
                            p->host, p->canonical, gai_strerror(r));
    for (struct addrinfo *ai = res; ai && n < max; ai = ai->ai_next) {
        char ip[INET6_ADDRSTRLEN], a[URLGROUP_HOST_MAX + 16];
        bool dup = false;

        if (ai->ai_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, ip, sizeof(ip));
            snprintf(a, sizeof(a), "%s:%u", ip, p->port);
        } else if (ai->ai_family == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, ip,
                      sizeof(ip));
            snprintf(a, sizeof(a), "[%s]:%u", ip, p->port);
        } else {
            continue;
        }
        for (size_t k = 0; k < n; k++)
            dup = dup || strcmp(addrs[k], a) == 0;
        if (!dup)
            memcpy(addrs[n++], a, sizeof(a));
    }
    freeaddrinfo(res);
    if (n == 0)
        return ferry_errf(err, errlen, -EINVAL, "host '%s' of URL group '%s' has no address",
                            p->host, p->canonical);
    *ret_n = n;
    return 0;
}

#define URLGROUP_MAX_ADDRS 16

/* Attach listeners for g (write lock held); on failure nothing stays attached. */
static int
urlgroup_attach_listeners_locked(struct urlgroup_registry *reg, struct urlgroup *g, char *err,
                                 size_t errlen)
{
    char addrs[URLGROUP_MAX_ADDRS][URLGROUP_HOST_MAX + 16];
    size_t n = 0;
    bool wildcard;
    int r;

    r = urlgroup_bind_addrs(&g->p, addrs, URLGROUP_MAX_ADDRS, &n, err, errlen);
    if (r < 0)
        return r;
    wildcard = g->p.host_kind == URLGROUP_HOST_STRONG || g->p.host_kind == URLGROUP_HOST_WEAK;
    for (size_t k = 0; k < reg->nlisteners; k++) {
        struct urlgroup_listener *l = &reg->listeners[k];
        if (l->port != g->p.port)
            continue;
        if (!wildcard && l->addr[0] == '*' && l->https == g->p.https) {
            /* the port already accepts on every address: share that listener */
            snprintf(addrs[0], sizeof(addrs[0]), "%s", l->addr);
            n = 1;
            break;
        }
        if (wildcard && l->addr[0] != '*') {
            snprintf(err, errlen, "port %u already listens on %.100s for another URL group; a "
                     "group on all addresses (+ or *) must be created first on a port",
                     g->p.port, l->addr);
            return -EADDRINUSE;
        }
    }
    g->listeners = calloc(n, sizeof(*g->listeners));
    if (!g->listeners)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        struct urlgroup_listener *l = NULL;

        for (size_t k = 0; k < reg->nlisteners; k++)
            if (strcmp(reg->listeners[k].addr, addrs[i]) == 0 &&
                reg->listeners[k].https == g->p.https)
                l = &reg->listeners[k];
        if (!l) {
            struct urlgroup_listener *nl;
            uint32_t id = 0;

            r = reg->ops->listen(reg->ud, addrs[i], g->p.port, g->p.https, &id, err, errlen);
            if (r < 0)
                goto error;
            nl = realloc(reg->listeners, (reg->nlisteners + 1) * sizeof(*nl));
            if (!nl) {
                reg->ops->unlisten(reg->ud, id);
                r = -ENOMEM;
                goto error;
            }
            reg->listeners = nl;
            l = &reg->listeners[reg->nlisteners++];
            memset(l, 0, sizeof(*l));
            memcpy(l->addr, addrs[i], sizeof(l->addr));
            l->addr[sizeof(l->addr) - 1] = '\0';
            l->port = g->p.port;
            l->https = g->p.https;
            l->id = id;
        }
        l->users++;
        g->listeners[g->nlisteners++] = l->id;
    }
    return 0;
error:
    urlgroup_release_listeners_locked(reg, g);
    return r;
}

/* Create or find the group (write lock held). *ret_g is borrowed. */
static int
urlgroup_create_locked(struct urlgroup_registry *reg, const struct urlgroup_prefix *p,
                       struct urlgroup **ret_g, bool *ret_created, struct ferry_status *st)
{
    struct urlgroup *g, **ng;
    char err[256] = "";
    int scheme, r;

    g = urlgroup_lookup_locked(reg, p->canonical);
    if (g) {
        *ret_g = g;
        *ret_created = false;
        return 0;
    }
    scheme = urlgroup_port_scheme_locked(reg, p->port);
    if (scheme != 0 && (scheme == 2) != p->https)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "UrlGroup",
                                "port %u already serves %s URL groups; a port cannot serve "
                                "both http and https", p->port, scheme == 2 ? "https" : "http");
    if (reg->ngroups >= reg->max_groups)
        return ferry_status_set(st, -ENOSPC, FERRY_STATUS_RESULT, FERRY_E_FAIL, "UrlGroup",
                                "the server already has %u URL groups (max-url-groups)",
                                reg->max_groups);
    g = calloc(1, sizeof(*g));
    if (!g)
        return ferry_status_oom(st, -ENOMEM);
    atomic_init(&g->refcnt, 1);
    g->p = *p;
    if (reg->ops->group_new) {
        r = reg->ops->group_new(reg->ud, g);
        if (r < 0) {
            urlgroup_unref(g);
            return ferry_status_set(st, r, FERRY_STATUS_INTERNAL, FERRY_E_FAIL, NULL,
                                    "URL group '%s' could not be set up: %s", p->canonical,
                                    strerror(-r));
        }
    }
    r = urlgroup_attach_listeners_locked(reg, g, err, sizeof(err));
    if (r < 0) {
        urlgroup_unref(g);
        if (r == -ENOMEM)
            return ferry_status_oom(st, r);
        return ferry_status_set(st, r, FERRY_STATUS_INVALID_PARAMETER, FERRY_E_INVALIDARG,
                                "UrlGroup", "%s", err[0] ? err : strerror(-r));
    }
    ng = realloc(reg->groups, (reg->ngroups + 1) * sizeof(*ng));
    if (!ng) {
        urlgroup_release_listeners_locked(reg, g);
        urlgroup_unref(g);
        return ferry_status_oom(st, -ENOMEM);
    }
    reg->groups = ng;
    reg->groups[reg->ngroups++] = g;
    *ret_g = g;
    *ret_created = true;
    return 0;
}

static int
urlgroup_parse_status(const char *prefix, struct urlgroup_prefix *p, struct ferry_status *st)
{
    char err[256];
    int r = urlgroup_prefix_parse(prefix, p, err, sizeof(err));

    if (r < 0)
        return ferry_status_set(st, r, FERRY_STATUS_INVALID_PARAMETER, FERRY_E_INVALIDARG,
                                "UrlGroup", "%s", err);
    return 0;
}

int
urlgroup_group_create(struct urlgroup_registry *reg, const char *prefix, bool *ret_created,
                      struct ferry_status *st)
{
    struct urlgroup_prefix p;
    struct urlgroup *g;
    bool created = false;
    int r;

    r = urlgroup_parse_status(prefix, &p, st);
    if (r < 0)
        return r;
    pthread_rwlock_wrlock(&reg->lock);
    r = urlgroup_create_locked(reg, &p, &g, &created, st);
    pthread_rwlock_unlock(&reg->lock);
    if (r >= 0 && ret_created)
        *ret_created = created;
    return r;
}

static int
urlgroup_not_found(struct ferry_status *st, const char *prefix)
{
    return ferry_status_set(st, -ENOENT, FERRY_STATUS_NOT_FOUND, FERRY_BG_E_NOT_FOUND,
                            "UrlGroup", "URL group '%s' does not exist", prefix);
}

int
urlgroup_group_delete(struct urlgroup_registry *reg, const char *prefix,
                      struct ferry_status *st)
{
    struct urlgroup_prefix p;
    int r;

    r = urlgroup_parse_status(prefix, &p, st);
    if (r < 0)
        return r;
    pthread_rwlock_wrlock(&reg->lock);
    r = urlgroup_not_found(st, prefix);
    for (size_t i = 0; i < reg->ngroups; i++) {
        if (strcmp(reg->groups[i]->p.canonical, p.canonical) == 0) {
            urlgroup_remove_locked(reg, i);
            ferry_status_clear(st);
            r = 0;
            break;
        }
    }
    pthread_rwlock_unlock(&reg->lock);
    return r;
}

int
urlgroup_group_find(struct urlgroup_registry *reg, const char *prefix,
                    struct urlgroup **ret_group, struct ferry_status *st)
{
    struct urlgroup_prefix p;
    struct urlgroup *g;
    int r;

    r = urlgroup_parse_status(prefix, &p, st);
    if (r < 0)
        return r;
    pthread_rwlock_rdlock(&reg->lock);
    g = urlgroup_ref(urlgroup_lookup_locked(reg, p.canonical));
    pthread_rwlock_unlock(&reg->lock);
    if (!g)
        return urlgroup_not_found(st, prefix);
    *ret_group = g;
    return 0;
}

static int
urlgroup_openat2(int dirfd, const char *rel)
{
    struct open_how how = {
        .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));

    return fd < 0 ? -errno : (int)fd;
}

/* Find the publish root holding source and check it is a regular file beneath it. */
static int
urlgroup_source_resolve(struct urlgroup_registry *reg, const char *source, int *ret_root,
                        char **ret_rel, struct relay **ret_relay, struct ferry_status *st)
{
    const char *rel = NULL;
    struct stat sb;
    int root = -1, fd;

    if (!source || source[0] != '/')
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "SourceFilePath",
                                "source file '%s' must be an absolute path",
                                source ? source : "");
    if (reg->nroots == 0)
        return ferry_status_set(st, -EACCES, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "SourceFilePath",
                                "no publish root is configured (publish-root): '%s' cannot "
                                "be published", source);
    for (size_t i = 0; i < reg->nroots && !rel; i++) {
        const char *cands[2] = {reg->roots[i], reg->roots_real[i]};
        size_t rlen = strlen(reg->roots[i]);
        if (reg->root_fds[i] < 0) {
            if (strncmp(source, reg->roots[i], rlen) == 0 && source[rlen] == '/')
                return ferry_status_set(st, -ENOENT, FERRY_STATUS_INVALID_PARAMETER,
                                        FERRY_E_INVALIDARG, "SourceFilePath",
                                        "publish root '%s' of '%s' could not be opened when "
                                        "ferryd started", reg->roots[i], source);
            continue;
        }
        for (size_t c = 0; c < 2 && !rel; c++) {
            size_t len;
            if (!cands[c])
                continue;
            len = strlen(cands[c]);
            if (len == 1 && cands[c][0] == '/') {
                rel = source + 1;
                root = (int)i;
            } else if (strncmp(source, cands[c], len) == 0 && source[len] == '/') {
                rel = source + len + 1;
                root = (int)i;
            }
        }
    }
    if (!rel || !*rel)
        return ferry_status_set(st, -EACCES, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "SourceFilePath",
                                "source file '%s' is not inside a publish root", source);
    fd = urlgroup_openat2(reg->root_fds[root], rel);
    if (fd == -ENOENT && reg->relay_find) {
        /* a job of this host is still fetching it: its verified chunks are served */
        struct relay *rl = reg->relay_find(reg->relay_ud, source);

        if (rl) {
            *ret_rel = strdup(rel);
            if (!*ret_rel) {
                relay_unref(rl);
                return ferry_status_oom(st, -ENOMEM);
            }
            *ret_root = root;
            *ret_relay = rl;
            return 0;
        }
    }
    if (fd == -EXDEV || fd == -ELOOP)
        return ferry_status_set(st, -EACCES, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "SourceFilePath",
                                "source file '%s' resolves outside its publish root '%s'",
                                source, reg->roots[root]);
    if (fd < 0)
        return ferry_status_set(st, fd, FERRY_STATUS_INVALID_PARAMETER, FERRY_E_INVALIDARG,
                                "SourceFilePath", "source file '%s' cannot be opened: %s",
                                source, strerror(-fd));
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "SourceFilePath",
                                "source file '%s' is not a regular file", source);
    }
    close(fd);
    *ret_rel = strdup(rel);
    if (!*ret_rel)
        return ferry_status_oom(st, -ENOMEM);
    *ret_root = root;
    return 0;
}

void
urlgroup_registry_set_relay(struct urlgroup_registry *reg,
                            struct relay *(*find)(void *ud, const char *source), void *ud)
{
    pthread_rwlock_wrlock(&reg->lock);
    reg->relay_find = find;
    reg->relay_ud = ud;
    pthread_rwlock_unlock(&reg->lock);
}

struct relay *
urlgroup_url_relay(struct urlgroup_registry *reg, struct urlgroup_url *url)
{
    struct relay *r;
    bool look;

    pthread_mutex_lock(&url->mlock);
    look = !url->relay_checked && reg->relay_find;
    url->relay_checked = true;
    r = relay_ref(url->relay);
    pthread_mutex_unlock(&url->mlock);
    if (!look)
        return r;
    /* first request: is a job of this host writing the source? (outside mlock: the client
     * role's lock is taken) */
    r = reg->relay_find(reg->relay_ud, url->source);
    if (!r)
        return NULL;
    pthread_mutex_lock(&url->mlock);
    if (!url->relay)
        url->relay = relay_ref(r);
    pthread_mutex_unlock(&url->mlock);
    return r;
}

int
urlgroup_url_open(struct urlgroup_registry *reg, const struct urlgroup_url *url,
                  struct stat *ret_st)
{
    int fd = urlgroup_openat2(reg->root_fds[url->root], url->relpath);

    if (fd < 0)
        return fd;
    if (fstat(fd, ret_st) < 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    if (!S_ISREG(ret_st->st_mode)) {
        close(fd);
        return -EINVAL;
    }
    return fd;
}

/* ---- open-file cache ---- */

static uint64_t
urlgroup_now_coarse(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
urlgroup_file_release(void *file)
{
    struct urlgroup_file *f = file;

    if (!f || atomic_fetch_sub(&f->refcnt, 1) != 1)
        return;
    close(f->fd);
    free(f);
}

/* Take the URL's cache entry out and close it (unless a response still holds it) when it
 * was last used before `unused_since` (UINT64_MAX: whatever its age: a deleted URL, a
 * failed open). Returns whether there was one. */
static bool
urlgroup_url_drop_file_idle(struct urlgroup_registry *reg, struct urlgroup_url *u,
                            uint64_t unused_since)
{
    struct urlgroup_file *f = NULL;

    pthread_mutex_lock(&u->mlock);
    if (u->file && u->file_used_ns <= unused_since) {
        f = u->file;
        u->file = NULL;
    }
    pthread_mutex_unlock(&u->mlock);
    if (!f)
        return false;
    atomic_fetch_sub(&reg->nfiles, 1);
    urlgroup_file_release(f);
    return true;
}

static void
urlgroup_url_drop_file(struct urlgroup_registry *reg, struct urlgroup_url *u)
{
    urlgroup_url_drop_file_idle(reg, u, UINT64_MAX);
}

int
urlgroup_url_file(struct urlgroup_registry *reg, struct urlgroup_url *url,
                  struct stat *ret_st, struct urlgroup_file **ret_file)
{
    struct urlgroup_file *f = NULL, *old = NULL;
    uint64_t now = urlgroup_now_coarse();
    int fd;

    if (fstatat(reg->root_fds[url->root], url->relpath, ret_st, 0) == 0 &&
        S_ISREG(ret_st->st_mode)) {
        pthread_mutex_lock(&url->mlock);
        if (url->file && url->file->dev == ret_st->st_dev && url->file->ino == ret_st->st_ino) {
            f = url->file;
            atomic_fetch_add(&f->refcnt, 1);
            url->file_used_ns = now;
        }
        pthread_mutex_unlock(&url->mlock);
        if (f) {
            *ret_file = f;
            return 0;
        }
    }
    /* first use, or the path names another inode (replaced, removed, not a file any more):
     * a confined open decides, exactly as without the cache */
    fd = urlgroup_url_open(reg, url, ret_st);
    if (fd < 0) {
        urlgroup_url_drop_file(reg, url);
        return fd;
    }
    f = calloc(1, sizeof(*f));
    if (!f) {
        close(fd);
        return -ENOMEM;
    }
    atomic_init(&f->refcnt, 1);
    f->fd = fd;
    f->dev = ret_st->st_dev;
    f->ino = ret_st->st_ino;
    *ret_file = f;
    pthread_mutex_lock(&url->mlock);
    old = url->file;
    if (atomic_load(&url->deleted)) {
        /* served this once, not cached: the deletion's drop may already have run (it runs
         * after deleted is set, under this lock) */
        old = NULL;
    } else if (old || atomic_fetch_add(&reg->nfiles, 1) < reg->max_files) {
        atomic_fetch_add(&f->refcnt, 1);
        url->file = f;
        url->file_used_ns = now;
    } else {
        atomic_fetch_sub(&reg->nfiles, 1);
    }
    pthread_mutex_unlock(&url->mlock);
    urlgroup_file_release(old);
    return 0;
}

size_t
urlgroup_registry_sweep_files(struct urlgroup_registry *reg, uint64_t idle_ns)
{
    uint64_t now = urlgroup_now_coarse();
    uint64_t since = now >= idle_ns ? now - idle_ns : 0;
    size_t closed = 0;

    pthread_rwlock_rdlock(&reg->lock);
    for (size_t i = 0; i < reg->ngroups; i++)
        for (size_t k = 0; k < reg->groups[i]->nurls; k++)
            closed += urlgroup_url_drop_file_idle(reg, reg->groups[i]->urls[k], since);
    pthread_rwlock_unlock(&reg->lock);
    return closed;
}

static struct urlgroup_url *
urlgroup_find_suffix(const struct urlgroup *g, const char *suffix, size_t len)
{
    for (size_t i = 0; i < g->nurls; i++)
        if (strlen(g->urls[i]->suffix) == len && memcmp(g->urls[i]->suffix, suffix, len) == 0)
            return g->urls[i];
    return NULL;
}

/*
 * Does `suffix` collide with a name the role generates inside group g? URL.meta4 is the
 * Metalink manifest of URL (urlgroup_route): publishing "X.meta4" beside X would shadow X's
 * manifest, and publishing X beside a URL "X.meta4" would give X a manifest name that is
 * taken. 0 when free; -EEXIST with st set (InvalidParameter on UrlSuffix) otherwise.
 * Caller holds reg->lock.
 */
static int
urlgroup_generated_clash(const struct urlgroup *g, const char *suffix, struct ferry_status *st)
{
    static const char meta4[] = ".meta4";
    const size_t mlen = sizeof(meta4) - 1, slen = strlen(suffix);
    char name[URLGROUP_SUFFIX_MAX + sizeof(meta4)];

    if (slen > mlen && strcmp(suffix + slen - mlen, meta4) == 0 &&
        urlgroup_find_suffix(g, suffix, slen - mlen))
        return ferry_status_set(st, -EEXIST, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "UrlSuffix",
                                "'%s' is the name of the Metalink manifest generated for the "
                                "published URL '%.*s' of group '%s'", suffix,
                                (int)(slen - mlen), suffix, g->p.canonical);
    if (slen + mlen >= sizeof(name))
        return 0;
    memcpy(name, suffix, slen);
    memcpy(name + slen, meta4, mlen + 1);
    if (urlgroup_find_suffix(g, name, slen + mlen))
        return ferry_status_set(st, -EEXIST, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "UrlSuffix",
                                "the Metalink manifest of '%s' would be '%s', which is already "
                                "a published URL of group '%s'", suffix, name, g->p.canonical);
    return 0;
}

int
urlgroup_url_create(struct urlgroup_registry *reg, const char *prefix, const char *suffix,
                    const char *source, const char *rule, const char *const *certs,
                    size_t ncerts, struct urlgroup_url **ret_url, struct ferry_status *st)
{
    struct urlgroup_prefix p;
    struct urlgroup_url *u = NULL, **nu;
    struct urlgroup *g;
    const char *sfx;
    char err[256] = "";
    bool created = false;
    int r;

    r = urlgroup_parse_status(prefix, &p, st);
    if (r < 0)
        return r;
    if (urlgroup_suffix_check(suffix, &sfx, err, sizeof(err)) < 0)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "UrlSuffix", "%s", err);
    u = calloc(1, sizeof(*u));
    if (!u)
        return ferry_status_oom(st, -ENOMEM);
    atomic_init(&u->refcnt, 1);
    pthread_mutex_init(&u->mlock, NULL);
    r = access_rule_parse(rule, &u->rule, err, sizeof(err));
    if (r == 0 && ncerts > 0)
        r = access_rule_add_certs(u->rule, certs, ncerts, err, sizeof(err));
    if (r < 0) {
        r = ferry_status_set(st, r, r == -ENOMEM ? FERRY_STATUS_INTERNAL
                                                 : FERRY_STATUS_INVALID_PARAMETER,
                             FERRY_E_INVALIDARG, "SDDLAuth", "access rule '%s' refused: %s",
                             rule ? rule : "", err);
        goto error;
    }
    u->suffix = strdup(sfx);
    u->source = strdup(source ? source : "");
    u->rule_text = rule ? strdup(rule) : NULL;
    if (ncerts > 0)
        u->certs = calloc(ncerts, sizeof(*u->certs));
    if (!u->suffix || !u->source || (rule && !u->rule_text) || (ncerts > 0 && !u->certs)) {
        r = ferry_status_oom(st, -ENOMEM);
        goto error;
    }
    for (size_t i = 0; i < ncerts; i++) {
        u->certs[i] = strdup(certs[i]);
        if (!u->certs[i]) {
            r = ferry_status_oom(st, -ENOMEM);
            goto error;
        }
        u->ncerts++;
    }
    r = urlgroup_source_resolve(reg, source, &u->root, &u->relpath, &u->relay, st);
    u->relay_checked = u->relay != NULL;
    if (r < 0)
        goto error;

    pthread_rwlock_wrlock(&reg->lock);
    g = urlgroup_lookup_locked(reg, p.canonical);
    if (g && urlgroup_find_suffix(g, u->suffix, strlen(u->suffix))) {
        pthread_rwlock_unlock(&reg->lock);
        r = ferry_status_set(st, -EEXIST, FERRY_STATUS_RESULT, FERRY_E_ALREADY_EXISTS,
                             "UrlSuffix", "URL '%s/%s' is already published", p.canonical,
                             u->suffix);
        goto error;
    }
    if (g) {
        r = urlgroup_generated_clash(g, u->suffix, st);
        if (r < 0) {
            pthread_rwlock_unlock(&reg->lock);
            goto error;
        }
    }
    if (reg->nurls >= reg->max_urls) {
        pthread_rwlock_unlock(&reg->lock);
        r = ferry_status_set(st, -ENOSPC, FERRY_STATUS_RESULT, FERRY_E_FAIL, "UrlSuffix",
                             "the server already publishes %u URLs (max-urls)", reg->max_urls);
        goto error;
    }
    if (!g) {
        r = urlgroup_create_locked(reg, &p, &g, &created, st);
        if (r < 0) {
            pthread_rwlock_unlock(&reg->lock);
            goto error;
        }
    }
    nu = realloc(g->urls, (g->nurls + 1) * sizeof(*nu));
    if (!nu) {
        pthread_rwlock_unlock(&reg->lock);
        r = ferry_status_oom(st, -ENOMEM);
        goto error;
    }
    g->urls = nu;
    u->group = urlgroup_ref(g);
    g->urls[g->nurls++] = u;
    reg->nurls++;
    if (ret_url)
        *ret_url = urlgroup_url_ref(u);
    pthread_rwlock_unlock(&reg->lock);
    return 0;
error:
    urlgroup_url_unref(u);
    return r;
}

int
urlgroup_url_delete(struct urlgroup_registry *reg, const char *prefix, const char *suffix,
                    struct ferry_status *st)
{
    struct urlgroup_prefix p;
    struct urlgroup *g;
    const char *sfx;
    char err[256];
    int r;

    r = urlgroup_parse_status(prefix, &p, st);
    if (r < 0)
        return r;
    if (urlgroup_suffix_check(suffix, &sfx, err, sizeof(err)) < 0)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "UrlSuffix", "%s", err);
    pthread_rwlock_wrlock(&reg->lock);
    g = urlgroup_lookup_locked(reg, p.canonical);
    if (!g) {
        pthread_rwlock_unlock(&reg->lock);
        return urlgroup_not_found(st, prefix);
    }
    r = ferry_status_set(st, -ENOENT, FERRY_STATUS_NOT_FOUND, FERRY_BG_E_NOT_FOUND, "UrlSuffix",
                         "URL '%s/%s' is not published", p.canonical, sfx);
    for (size_t i = 0; i < g->nurls; i++) {
        struct urlgroup_url *u = g->urls[i];
        if (strcmp(u->suffix, sfx) != 0)
            continue;
        g->urls[i] = g->urls[--g->nurls];
        reg->nurls--;
        atomic_store(&u->deleted, true);
        urlgroup_url_drop_file(reg, u);
        urlgroup_url_unref(u);
        ferry_status_clear(st);
        r = 0;
        break;
    }
    pthread_rwlock_unlock(&reg->lock);
    return r;
}

int
urlgroup_url_find(struct urlgroup_registry *reg, const char *prefix, const char *suffix,
                  struct urlgroup_url **ret_url, struct ferry_status *st)
{
    struct urlgroup_prefix p;
    struct urlgroup_url *u = NULL;
    struct urlgroup *g;
    const char *sfx;
    char err[256];
    int r;

    r = urlgroup_parse_status(prefix, &p, st);
    if (r < 0)
        return r;
    if (urlgroup_suffix_check(suffix, &sfx, err, sizeof(err)) < 0)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "UrlSuffix", "%s", err);
    pthread_rwlock_rdlock(&reg->lock);
    g = urlgroup_lookup_locked(reg, p.canonical);
    if (g)
        u = urlgroup_url_ref(urlgroup_find_suffix(g, sfx, strlen(sfx)));
    pthread_rwlock_unlock(&reg->lock);
    if (!g)
        return urlgroup_not_found(st, prefix);
    if (!u)
        return -ENOENT;
    *ret_url = u;
    return 0;
}

/* The host part of a Host header, lowercase, without port or brackets. */
static void
urlgroup_host_of(const char *hdr, char *out, size_t outlen)
{
    size_t n = 0;

    out[0] = '\0';
    if (!hdr)
        return;
    if (*hdr == '[') {
        hdr++;
        while (*hdr && *hdr != ']' && n + 1 < outlen)
            out[n++] = (char)tolower((unsigned char)*hdr++);
    } else {
        while (*hdr && *hdr != ':' && n + 1 < outlen)
            out[n++] = (char)tolower((unsigned char)*hdr++);
    }
    out[n] = '\0';
}

/* Split "/name/suffix" (suffix without '/'); -ENOENT for any other shape. */
static int
urlgroup_path_split(const char *path, const char **name, size_t *nlen, const char **suffix,
                    size_t *slen)
{
    if (!path || path[0] != '/')
        return -ENOENT;
    *name = path + 1;
    *nlen = strcspn(*name, "/");
    if ((*name)[*nlen] != '/' || *nlen == 0)
        return -ENOENT;
    *suffix = *name + *nlen + 1;
    *slen = strlen(*suffix);
    if (*slen == 0 || strchr(*suffix, '/'))
        return -ENOENT;
    return 0;
}

/* The group named name[nlen] on port/https that serves Host `host` best, in http.sys order:
 * an explicit host matching Host, then +, then *, then others. NULL when none. Caller holds
 * reg->lock. */
static struct urlgroup *
urlgroup_pick(struct urlgroup_registry *reg, uint16_t port, bool https, const char *host,
              const char *name, size_t nlen)
{
    struct urlgroup *best = NULL;
    int best_rank = -1;

    for (size_t i = 0; i < reg->ngroups; i++) {
        struct urlgroup *g = reg->groups[i];
        int rank;

        if (g->p.port != port || g->p.https != https || strlen(g->p.name) != nlen ||
            memcmp(g->p.name, name, nlen) != 0)
            continue;
        if ((g->p.host_kind == URLGROUP_HOST_NAME || g->p.host_kind == URLGROUP_HOST_IPV4 ||
             g->p.host_kind == URLGROUP_HOST_IPV6) && strcmp(g->p.host, host) == 0)
            rank = 3;
        else if (g->p.host_kind == URLGROUP_HOST_STRONG)
            rank = 2;
        else if (g->p.host_kind == URLGROUP_HOST_WEAK)
            rank = 1;
        else
            rank = 0;
        if (rank > best_rank) {
            best = g;
            best_rank = rank;
        }
    }
    return best;
}

/* Route an upload to its group (urlgroup.h). */
int
urlgroup_route_group(struct urlgroup_registry *reg, uint16_t port, bool https,
                     const char *host_hdr, const char *path, struct urlgroup **ret_group,
                     const char **ret_suffix)
{
    const char *name, *suffix;
    size_t nlen, slen;
    struct urlgroup *best;
    char host[URLGROUP_HOST_MAX + 1];

    if (urlgroup_path_split(path, &name, &nlen, &suffix, &slen) < 0)
        return -ENOENT;
    urlgroup_host_of(host_hdr, host, sizeof(host));
    pthread_rwlock_rdlock(&reg->lock);
    best = urlgroup_ref(urlgroup_pick(reg, port, https, host, name, nlen));
    pthread_rwlock_unlock(&reg->lock);
    if (!best)
        return -ENOENT;
    *ret_group = best;
    *ret_suffix = suffix;
    return 0;
}

int
urlgroup_route(struct urlgroup_registry *reg, uint16_t port, bool https, const char *host_hdr,
               const char *path, struct urlgroup_url **ret_url, bool *ret_meta4)
{
    static const size_t meta4_len = sizeof(".meta4") - 1;
    const char *name, *suffix;
    size_t nlen, slen;
    struct urlgroup *best;
    struct urlgroup_url *u = NULL;
    char host[URLGROUP_HOST_MAX + 1];
    bool meta4 = false;

    if (urlgroup_path_split(path, &name, &nlen, &suffix, &slen) < 0)
        return -ENOENT;
    urlgroup_host_of(host_hdr, host, sizeof(host));
    pthread_rwlock_rdlock(&reg->lock);
    best = urlgroup_pick(reg, port, https, host, name, nlen);
    if (best) {
        u = urlgroup_find_suffix(best, suffix, slen);
        if (!u && slen > meta4_len && strcmp(suffix + slen - meta4_len, ".meta4") == 0) {
            u = urlgroup_find_suffix(best, suffix, slen - meta4_len);
            meta4 = u != NULL;
        }
        u = urlgroup_url_ref(u);
    }
    pthread_rwlock_unlock(&reg->lock);
    if (!u)
        return -ENOENT;
    *ret_url = u;
    *ret_meta4 = meta4;
    return 0;
}

char *
urlgroup_url_string(const struct urlgroup_url *url, const char *host_override)
{
    const struct urlgroup_prefix *p = &url->group->p;
    char enc[URLGROUP_SUFFIX_MAX * 3 + 1];
    char *s = NULL;
    bool ok_host = host_override && *host_override && strlen(host_override) <= 300;

    for (const char *c = host_override; ok_host && *c; c++)
        if (!(isalnum((unsigned char)*c) || strchr(".-:[]_", *c)))
            ok_host = false;
    if (urlgroup_path_encode(url->suffix, enc, sizeof(enc)) < 0)
        return NULL;
    if (ok_host) {
        if (asprintf(&s, "%s://%s/%s/%s", p->https ? "https" : "http", host_override, p->name,
                     enc) < 0)
            return NULL;
    } else if (asprintf(&s, "%s/%s", p->canonical, enc) < 0) {
        return NULL;
    }
    return s;
}
