/*
 * engine/server/urlgroup.h - URL groups and URLs of the compact server (docs/DESIGN.md §2):
 * the registry of groups/URLs with their limits (grammar in urlgroup_prefix.h), the
 * listeners they share (one per bind address, port and scheme), and source files resolved
 * beneath a publish root.
 *
 * Threads: every registry call locks internally (a rwlock: workers route under the read
 * lock, the control plane mutates under the write lock). Groups and URLs are reference
 * counted so a request in flight keeps its URL alive after DeleteUrl.
 */
#ifndef FERRY_SERVER_URLGROUP_H
#define FERRY_SERVER_URLGROUP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "ferry/common.h"
#include "ferry/rate.h"
#include "access.h"
#include "manifest.h"
#include "urlgroup_prefix.h"

struct relay;
struct urlgroup;

/* An open source file shared by the responses that serve it: a URL keeps the descriptor
 * it last opened while its path still names that inode (urlgroup_url_file), so a request
 * costs one fstatat instead of openat2 + fstat + close. */
struct urlgroup_file {
    atomic_uint refcnt;
    int fd;
    dev_t dev;
    ino_t ino;
};

/* Drop a reference (NULL-safe); the last one closes the descriptor. Has the shape of a
 * ferry_http_response_body_file_lent release callback. */
void urlgroup_file_release(void *file);

/* One published URL. Immutable after creation except the counters and the manifest. */
struct urlgroup_url {
    atomic_uint refcnt;
    struct urlgroup *group;     /* reference */
    char *suffix;               /* decoded, as published */
    char *source;               /* as given to CreateUrl */
    char *rule_text;            /* as given (NULL = anonymous) */
    char **certs;               /* CreateUrl's certificate hashes, as given */
    size_t ncerts;
    struct access_rule *rule;
    int root;                   /* index into the registry's publish roots */
    char *relpath;              /* source relative to that root */
    atomic_bool deleted;
    atomic_bool open_failing;   /* the source could not be opened (warned once) */
    atomic_uint_fast64_t requests, bytes_sent;
    atomic_uint active;
    /* manifest state, under mlock */
    pthread_mutex_t mlock;
    struct manifest *manifest;  /* describes the file when its identity matches */
    bool manifest_pending;      /* a job is queued or running */
    struct manifest_identity cached_id; /* identity of the last manifest (its cache file) */
    bool has_cached_id;
    /* a job of this host still writing the source (docs/internals/relay.md), under mlock:
     * looked up at creation and at the first request */
    struct relay *relay;
    bool relay_checked;
    /* open-file cache, under mlock */
    struct urlgroup_file *file;
    uint64_t file_used_ns;      /* CLOCK_MONOTONIC_COARSE of the last use */
};

struct urlgroup {
    atomic_uint refcnt;
    struct urlgroup_prefix p;
    uint32_t connection_limit;  /* 0 = unlimited; under the registry lock */
    uint32_t bandwidth_limit;   /* bytes/s, 0 = unlimited */
    bool auth_negotiate, auth_ntlm;
    uint32_t upload_enabled;    /* UploadEnabled: BITS_POST accepted (0/1) */
    uint32_t max_upload_size;   /* MaxUploadSize bytes, 0 = unlimited */
    atomic_uint_fast64_t requests, bytes_sent;
    atomic_uint active;         /* responses in flight */
    atomic_uint sockets;        /* connections bound to the group (fileserve.c), what
                                   connection_limit counts */
    struct urlgroup_url **urls;
    size_t nurls;
    uint32_t *listeners;        /* listener ids this group holds */
    size_t nlisteners;
    struct ferry_rate *rate;    /* BandwidthLimit bucket set by ops->group_new (or NULL);
                                 * the group holds one reference, dropped with it */
};

struct urlgroup_listener {
    char addr[URLGROUP_HOST_MAX + 16]; /* "127.0.0.1:8080", "[::1]:443", "*:80" */
    uint16_t port;
    bool https;
    uint32_t id;                       /* from ops->listen */
    unsigned users;                    /* groups holding it */
};

/* What the registry asks of its owner. listen opens a listener on addr (fills err on
 * failure, returns -errno); unlisten closes it; group_new (may be NULL) attaches the owner's
 * rate to a new group (g->rate), failing the creation when it returns < 0. They are called
 * with the registry write-locked: they must not call back into the registry. */
struct urlgroup_ops {
    int (*listen)(void *ud, const char *addr, uint16_t port, bool https, uint32_t *ret_id,
                  char *err, size_t errlen);
    void (*unlisten)(void *ud, uint32_t id);
    int (*group_new)(void *ud, struct urlgroup *g);
};

struct urlgroup_registry {
    pthread_rwlock_t lock;
    struct urlgroup **groups;
    size_t ngroups;
    struct urlgroup_listener *listeners;
    size_t nlisteners;
    size_t nurls;
    unsigned max_groups, max_urls;
    char **roots;               /* publish roots as configured */
    char **roots_real;          /* their realpath() (NULL when missing) */
    int *root_fds;              /* O_PATH directory fds (-1 when missing) */
    size_t nroots;
    const struct urlgroup_ops *ops;
    void *ud;
    /* The client role's relay of a source path (a new reference or NULL); set once by
     * urlgroup_registry_set_relay before requests arrive. */
    struct relay *(*relay_find)(void *ud, const char *source);
    void *relay_ud;
    atomic_uint nfiles;         /* URLs holding an open-file cache entry */
    unsigned max_files;         /* beyond it, requests open and close their own */
};

/* New registry. roots: publish roots (copied; missing ones are logged and refuse every
 * source). */
int urlgroup_registry_new(const char *const *roots, size_t nroots, unsigned max_groups,
                          unsigned max_urls, const struct urlgroup_ops *ops, void *ud,
                          struct urlgroup_registry **ret_reg);
/* Drop every group (closing listeners through ops) and free. NULL-safe, returns NULL. */
struct urlgroup_registry *urlgroup_registry_free(struct urlgroup_registry *reg);

/* Create a group (idempotent: an existing group is left as it is; *ret_created says which).
 * Opens the listeners it needs. Errors in st: INVALID_PARAMETER "UrlGroup" (grammar, http
 * and https on one port, cannot listen, name does not resolve), RESULT
 * BG_E_TOO_MANY... for the group limit. */
int urlgroup_group_create(struct urlgroup_registry *reg, const char *prefix,
                          bool *ret_created, struct ferry_status *st);
/* Delete a group and its URLs; closes listeners no other group uses. NOT_FOUND. */
int urlgroup_group_delete(struct urlgroup_registry *reg, const char *prefix,
                          struct ferry_status *st);
/* Publish: creates the group when missing. rule is parsed here (SDDLAuth errors), certs are
 * added to it. -EEXIST (RESULT E_ALREADY_EXISTS) when the suffix is already published. */
int urlgroup_url_create(struct urlgroup_registry *reg, const char *prefix, const char *suffix,
                        const char *source, const char *rule, const char *const *certs,
                        size_t ncerts, struct urlgroup_url **ret_url,
                        struct ferry_status *st);
int urlgroup_url_delete(struct urlgroup_registry *reg, const char *prefix, const char *suffix,
                        struct ferry_status *st);
/* Find a URL: 0 and a reference, NOT_FOUND for an unknown group, -ENOENT (no status
 * error) when the group exists without that suffix. */
int urlgroup_url_find(struct urlgroup_registry *reg, const char *prefix, const char *suffix,
                      struct urlgroup_url **ret_url, struct ferry_status *st);
/* Find a group (reference) by prefix. NOT_FOUND. */
int urlgroup_group_find(struct urlgroup_registry *reg, const char *prefix,
                        struct urlgroup **ret_group, struct ferry_status *st);

/* Route a request: the decoded path "/name/suffix" arriving on (port, https) with Host
 * header host_hdr (may be NULL). 0 and a URL reference; *ret_meta4 when the path is the
 * URL's ".meta4". -ENOENT when nothing is published there. */
int urlgroup_route(struct urlgroup_registry *reg, uint16_t port, bool https,
                   const char *host_hdr, const char *path, struct urlgroup_url **ret_url,
                   bool *ret_meta4);

/* Let URLs publish files that jobs of this host are still fetching: find(ud, source) gives
 * the relay of the job file writing `source` (a reference) or NULL. A source that does not
 * exist yet is accepted when it has one. */
void urlgroup_registry_set_relay(struct urlgroup_registry *reg,
                                 struct relay *(*find)(void *ud, const char *source), void *ud);
/* The URL's relay (a new reference), NULL when its source is an ordinary file. */
struct relay *urlgroup_url_relay(struct urlgroup_registry *reg, struct urlgroup_url *url);
/* Route an upload: like urlgroup_route, but the group (a reference) and a pointer to the
 * suffix inside path, whether or not a URL is published there. -ENOENT otherwise. */
int urlgroup_route_group(struct urlgroup_registry *reg, uint16_t port, bool https,
                         const char *host_hdr, const char *path, struct urlgroup **ret_group,
                         const char **ret_suffix);

/* Open the URL's source beneath its publish root (openat2 RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS), O_RDONLY|O_CLOEXEC; fstat it into ret_st; -EINVAL when it is no
 * longer a regular file. Returns the fd or -errno. */
int urlgroup_url_open(struct urlgroup_registry *reg, const struct urlgroup_url *url,
                      struct stat *ret_st);

/*
 * The URL's source for serving: its current stat in ret_st (regular file) and a reference
 * to an open descriptor of that inode in ret_file (release with urlgroup_file_release).
 * The cached descriptor is used while the path (fstatat beneath the root) still names its
 * inode; otherwise the source is opened again as urlgroup_url_open does and that becomes
 * the cache. Errors as urlgroup_url_open.
 */
int urlgroup_url_file(struct urlgroup_registry *reg, struct urlgroup_url *url,
                      struct stat *ret_st, struct urlgroup_file **ret_file);
/* Close cache entries unused for idle_ns or longer, so that a deleted or replaced source
 * is not kept on disk by an idle URL. Returns how many were closed. */
size_t urlgroup_registry_sweep_files(struct urlgroup_registry *reg, uint64_t idle_ns);

/* "scheme://host:port/name/suffix" with the suffix percent-encoded; host_override (a Host
 * header, may be NULL) replaces host:port. malloc()ed, NULL on OOM. */
char *urlgroup_url_string(const struct urlgroup_url *url, const char *host_override);

/* References (NULL-safe). A URL holds its group; the last unref of a URL frees its rule,
 * manifest and strings, the last unref of a group drops its rate. unref returns NULL. */
struct urlgroup_url *urlgroup_url_ref(struct urlgroup_url *u);
struct urlgroup_url *urlgroup_url_unref(struct urlgroup_url *u);
struct urlgroup *urlgroup_ref(struct urlgroup *g);
struct urlgroup *urlgroup_unref(struct urlgroup *g);

/* The scheme in use on a port: 0 none, 1 http, 2 https. Caller holds the lock. */
int urlgroup_port_scheme_locked(struct urlgroup_registry *reg, uint16_t port);

#endif
