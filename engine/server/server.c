/*
 * server.c - the compact server role (include/ferry/server.h): the data-plane HTTP server,
 * the URL group registry and its listeners, certificates bound to ports (SetSslCertificate),
 * the public API and its snapshots. Persistence is server_db.c (STATE/server.db), the
 * manifest thread and cache server_manifest.c, the open-file sweeper filesweep.c.
 *
 * Locking: srv->lock serialises control-plane calls (registry mutation + persistence +
 * certificate bindings); the registry has its own rwlock for the workers' routing.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>


#include "ferry/config.h"
#include "ferry/http.h"
#include "ferry/log.h"
#include "ferry/server.h"
#include "certstore.h"
#include "fileserve.h"
#include "filesweep.h"
#include "upload_reply.h"
#include "manifest.h"
#include "server_role.h"
#include "server_db.h"
#include "server_manifest.h"
#include "urlgroup.h"

#define SERVER_DEFAULT_CHUNK (4ull * 1024 * 1024)
#define SERVER_DEFAULT_MAX_GROUPS 64
#define SERVER_DEFAULT_MAX_URLS 4096
#define SERVER_MIN_BANDWIDTH 1024
#define SERVER_SHA1_LEN 20
#define SERVER_RESTORE_BIND_MS 2000

/* A certificate bound to a port by SetSslCertificate. */
struct server_cert {
    uint16_t port;
    char *store;
    char sha1[2 * SERVER_SHA1_LEN + 1];
    struct ferry_tls_ctx *tls;
};

struct ferry_server {
    const struct ferry_config *cfg;
    pthread_mutex_t lock;
    struct ferry_http_server *http;
    struct urlgroup_registry *reg;
    struct server_manifests mf; /* the manifest thread and its cache */
    struct fileserve fs;
    struct server_db db; /* paused during restore/config: no writes back */
    struct server_cert *certs;
    size_t ncerts;
    struct ferry_tls_ctx *default_tls;
    bool stopping;      /* http server gone: unlisten is a no-op */
    struct filesweep sweep; /* closes idle descriptors of the open-file cache */
};

/* ---- certificates ---- */

/* A hex SHA-1 thumbprint (40 digits, as stored in server.db) to its 20 bytes. */
static bool
server_sha1_parse(const char *hex, uint8_t out[SERVER_SHA1_LEN])
{
    if (strlen(hex) != 2 * SERVER_SHA1_LEN)
        return false;
    for (size_t i = 0; i < SERVER_SHA1_LEN; i++) {
        unsigned v = 0;
        for (size_t k = 0; k < 2; k++) {
            char ch = hex[2 * i + k];
            v <<= 4;
            if (ch >= '0' && ch <= '9')
                v |= (unsigned)(ch - '0');
            else if (ch >= 'a' && ch <= 'f')
                v |= (unsigned)(ch - 'a' + 10);
            else if (ch >= 'A' && ch <= 'F')
                v |= (unsigned)(ch - 'A' + 10);
            else
                return false;
        }
        out[i] = (uint8_t)v;
    }
    return true;
}

static struct server_cert *
server_cert_for_port(struct ferry_server *srv, uint16_t port)
{
    for (size_t i = 0; i < srv->ncerts; i++)
        if (srv->certs[i].port == port)
            return &srv->certs[i];
    return NULL;
}

/* The TLS context for an https listener on port: the bound certificate, else the daemon's
 * default. Returns a new reference, or -ENOENT with err filled. */
static int
server_tls_for_port(struct ferry_server *srv, uint16_t port, struct ferry_tls_ctx **ret_tls,
                    char *err, size_t errlen)
{
    struct server_cert *c = server_cert_for_port(srv, port);
    int r;

    if (c && c->tls) {
        *ret_tls = ferry_tls_ctx_ref(c->tls);
        return 0;
    }
    if (!srv->default_tls) {
        if (!srv->cfg->tls_cert || !srv->cfg->tls_key) {
            snprintf(err, errlen, "https port %u has no certificate: bind one with "
                     "SetSslCertificate or configure tls-cert and tls-key", port);
            return -ENOENT;
        }
        r = ferry_tls_ctx_new(srv->cfg->tls_cert, srv->cfg->tls_key, srv->cfg->tls_client_ca,
                              &srv->default_tls);
        if (r < 0) {
            snprintf(err, errlen, "the default certificate '%s' cannot be loaded: %s",
                     srv->cfg->tls_cert, strerror(-r));
            return r;
        }
    }
    *ret_tls = ferry_tls_ctx_ref(srv->default_tls);
    return 0;
}

/* Load (store, sha1) and bind it to port, replacing any earlier binding; existing https
 * listeners of the port switch at once. */
static int
server_cert_bind(struct ferry_server *srv, uint16_t port, const char *store, const char *sha1,
                 struct ferry_status *st)
{
    struct ferry_tls_ctx *tls = NULL;
    struct server_cert *c;
    char *path = NULL, *store_copy;
    int r;

    uint8_t hash[SERVER_SHA1_LEN];

    if (!server_sha1_parse(sha1, hash))
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "hashBlob",
                                "'%s' is not a SHA-1 thumbprint", sha1);
    r = certstore_find(srv->cfg, store, hash, &path);
    if (r == -ENOENT)
        return ferry_status_set(st, r, FERRY_STATUS_INVALID_PARAMETER, FERRY_E_INVALIDARG,
                                "hashBlob", "no certificate with SHA-1 thumbprint %s in store "
                                "'%s'", sha1, store);
    if (r == -EINVAL)
        return ferry_status_set(st, r, FERRY_STATUS_INVALID_PARAMETER, FERRY_E_INVALIDARG,
                                "StoreName", "store name '%s' must be 1-64 characters of "
                                "[A-Za-z0-9._-], not starting with '.'", store);
    if (r < 0)
        return ferry_status_set(st, r, FERRY_STATUS_INVALID_PARAMETER, FERRY_E_INVALIDARG,
                                "StoreName", "certificate store '%s' cannot be read: %s",
                                store, strerror(-r));
    r = ferry_tls_ctx_new(path, path, srv->cfg->tls_client_ca, &tls);
    if (r < 0) {
        r = ferry_status_set(st, r, FERRY_STATUS_INVALID_PARAMETER, FERRY_E_INVALIDARG,
                             "hashBlob", "certificate file '%s' has no usable key: %s", path,
                             strerror(-r));
        free(path);
        return r;
    }
    free(path);
    store_copy = strdup(store);
    c = server_cert_for_port(srv, port);
    if (!c && store_copy) {
        struct server_cert *nc = realloc(srv->certs, (srv->ncerts + 1) * sizeof(*nc));
        if (nc) {
            srv->certs = nc;
            c = &srv->certs[srv->ncerts++];
            memset(c, 0, sizeof(*c));
            c->port = port;
        }
    }
    if (!c || !store_copy) {
        free(store_copy);
        ferry_tls_ctx_unref(tls);
        return ferry_status_oom(st, -ENOMEM);
    }
    free(c->store);
    c->store = store_copy;
    snprintf(c->sha1, sizeof(c->sha1), "%s", sha1);
    ferry_tls_ctx_unref(c->tls);
    c->tls = tls;
    pthread_rwlock_rdlock(&srv->reg->lock);
    for (size_t i = 0; i < srv->reg->nlisteners; i++) {
        struct urlgroup_listener *l = &srv->reg->listeners[i];
        if (l->port == port && l->https) {
            r = ferry_http_server_set_tls(srv->http, l->id, tls);
            if (r < 0)
                ferry_log_error("certificate could not be switched on '%s': %s", l->addr,
                                strerror(-r));
        }
    }
    pthread_rwlock_unlock(&srv->reg->lock);
    return 0;
}

/* ---- registry callbacks ---- */

static int
server_listen(void *ud, const char *addr, uint16_t port, bool https, uint32_t *ret_id,
              char *err, size_t errlen)
{
    struct ferry_server *srv = ud;
    struct ferry_tls_ctx *tls = NULL;
    struct ferry_http_listen_opts opts = {0};
    int r;

    if (https) {
        r = server_tls_for_port(srv, port, &tls, err, errlen);
        if (r < 0)
            return r;
    }
    opts.addr = addr;
    opts.tls = tls;
    opts.head = fileserve_head;
    opts.handler = fileserve_handle;
    opts.userdata = &srv->fs;
    /* no request bodies; fileserve_head lets an authorized BITS_POST carry a fragment */
    opts.max_body_bytes = 0;
    r = ferry_http_server_listen(srv->http, &opts, ret_id);
    ferry_tls_ctx_unref(tls);
    if (r < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(-r));
        return r;
    }
    ferry_log_info("listening on %s (%s)", addr, https ? "https" : "http");
    return 0;
}

static void
server_unlisten(void *ud, uint32_t id)
{
    struct ferry_server *srv = ud;

    if (srv->stopping)
        return;
    if (ferry_http_server_unlisten(srv->http, id) < 0)
        ferry_log_warn("listener %u could not be closed", id);
}

static int
server_group_new(void *ud, struct urlgroup *g)
{
    g->rate = ferry_rate_new(0);
    return g->rate ? 0 : -ENOMEM;
}

static const struct urlgroup_ops server_urlgroup_ops = {
    .listen = server_listen,
    .unlisten = server_unlisten,
    .group_new = server_group_new,
};

static struct ferry_rate *
server_group_rate(void *ud, struct urlgroup *g)
{
    return __atomic_load_n(&g->bandwidth_limit, __ATOMIC_RELAXED) > 0 ? g->rate : NULL;
}

/* ---- manifests ---- */

/* fileserve's manifest_wanted (ud is the server). */
static void
server_manifest_wanted(void *ud, struct urlgroup_url *url)
{
    struct ferry_server *srv = ud;

    server_manifests_wanted(&srv->mf, url);
}

/* ---- public API ---- */

int
ferry_server_group_create(struct ferry_server *srv, const char *prefix,
                          struct ferry_status *st)
{
    struct urlgroup *g = NULL;
    bool created = false;
    int r;

    ferry_status_clear(st);
    pthread_mutex_lock(&srv->lock);
    r = urlgroup_group_create(srv->reg, prefix, &created, st);
    if (r >= 0 && created && urlgroup_group_find(srv->reg, prefix, &g, NULL) == 0) {
        server_db_save_group(&srv->db, g);
        urlgroup_unref(g);
    }
    pthread_mutex_unlock(&srv->lock);
    return r;
}

int
ferry_server_group_delete(struct ferry_server *srv, const char *prefix,
                          struct ferry_status *st)
{
    struct urlgroup_url **urls = NULL;
    struct urlgroup *g = NULL;
    struct urlgroup_prefix p;
    size_t nurls = 0;
    int r;

    ferry_status_clear(st);
    pthread_mutex_lock(&srv->lock);
    if (urlgroup_group_find(srv->reg, prefix, &g, NULL) == 0) {
        pthread_rwlock_rdlock(&srv->reg->lock);
        urls = calloc(g->nurls ? g->nurls : 1, sizeof(*urls));
        for (size_t i = 0; urls && i < g->nurls; i++)
            urls[nurls++] = urlgroup_url_ref(g->urls[i]);
        pthread_rwlock_unlock(&srv->reg->lock);
        urlgroup_unref(g);
    }
    r = urlgroup_group_delete(srv->reg, prefix, st);
    if (r >= 0 && urlgroup_prefix_parse(prefix, &p, NULL, 0) == 0) {
        server_db_delete_group(&srv->db, p.canonical);
    }
    pthread_mutex_unlock(&srv->lock);
    for (size_t i = 0; i < nurls; i++) {
        if (r >= 0)
            server_manifests_forget(&srv->mf, urls[i]);
        urlgroup_url_unref(urls[i]);
    }
    free(urls);
    return r;
}

int
ferry_server_url_create(struct ferry_server *srv, const char *prefix, const char *suffix,
                        const char *source_path, const char *rule,
                        const char *const *cert_sha256, size_t ncert, struct ferry_status *st)
{
    struct urlgroup_url *u = NULL;
    int r;

    ferry_status_clear(st);
    pthread_mutex_lock(&srv->lock);
    r = urlgroup_url_create(srv->reg, prefix, suffix, source_path, rule, cert_sha256, ncert,
                            &u, st);
    if (r >= 0)
        server_db_save_url(&srv->db, u);
    pthread_mutex_unlock(&srv->lock);
    if (r >= 0) {
        char *s = urlgroup_url_string(u, NULL);

        ferry_log_event(FERRY_LOG_INFO, FERRY_MSGID_URL_PUBLISHED, NULL, s,
                        "url '%s' published (source '%s')", s ? s : suffix, u->source);
        free(s);
        server_manifests_queue(&srv->mf, u);
        urlgroup_url_unref(u);
    }
    return r;
}

int
ferry_server_url_delete(struct ferry_server *srv, const char *prefix, const char *suffix,
                        struct ferry_status *st)
{
    struct urlgroup_url *u = NULL;
    struct urlgroup_prefix p;
    const char *sfx;
    int r;

    ferry_status_clear(st);
    pthread_mutex_lock(&srv->lock);
    (void)urlgroup_url_find(srv->reg, prefix, suffix, &u, NULL);
    r = urlgroup_url_delete(srv->reg, prefix, suffix, st);
    if (r >= 0 && urlgroup_prefix_parse(prefix, &p, NULL, 0) == 0 &&
        urlgroup_suffix_check(suffix, &sfx, NULL, 0) == 0)
        server_db_delete_url(&srv->db, p.canonical, sfx);
    pthread_mutex_unlock(&srv->lock);
    if (r >= 0 && u) {
        char *s = urlgroup_url_string(u, NULL);

        ferry_log_event(FERRY_LOG_INFO, FERRY_MSGID_URL_REMOVED, NULL, s, "url '%s' removed",
                        s ? s : suffix);
        free(s);
        server_manifests_forget(&srv->mf, u);
    }
    urlgroup_url_unref(u);
    return r;
}

int
ferry_server_url_check(struct ferry_server *srv, const char *prefix, const char *suffix,
                       bool *ret_exists, struct ferry_status *st)
{
    struct urlgroup_url *u = NULL;
    struct ferry_status local;
    int r;

    if (!st)
        st = &local;
    ferry_status_clear(st);
    r = urlgroup_url_find(srv->reg, prefix, suffix, &u, st);
    if (r == -ENOENT && st->kind == FERRY_STATUS_OK) {
        *ret_exists = false;
        return 0;
    }
    if (r < 0)
        return r;
    urlgroup_url_unref(u);
    *ret_exists = true;
    return 0;
}

int
ferry_server_group_set_auth(struct ferry_server *srv, const char *prefix, unsigned scheme,
                            bool enable, struct ferry_status *st)
{
    struct urlgroup *g = NULL;
    int r;

    ferry_status_clear(st);
    if (scheme > 1)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "Scheme",
                                "authentication scheme %u is not 0 (Negotiate) or 1 (NTLM)",
                                scheme);
    /* a setting that looks like protection and is not is refused rather than stored */
    if (enable)
        return ferry_status_set(st, -EOPNOTSUPP, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "Scheme",
                                "%s is not supported: ferry authenticates data-port clients "
                                "with HTTP Basic (the users file) and client certificates, as "
                                "each URL's access rule (SDDLAuth) says",
                                scheme == 0 ? "Negotiate" : "NTLM");
    pthread_mutex_lock(&srv->lock);
    r = urlgroup_group_find(srv->reg, prefix, &g, st);
    if (r >= 0) {
        pthread_rwlock_wrlock(&srv->reg->lock);
        if (scheme == 0)
            g->auth_negotiate = false;
        else
            g->auth_ntlm = false;
        pthread_rwlock_unlock(&srv->reg->lock);
        server_db_save_group(&srv->db, g);
        urlgroup_unref(g);
    }
    pthread_mutex_unlock(&srv->lock);
    return r;
}

int
ferry_server_group_get_auth(struct ferry_server *srv, const char *prefix, unsigned scheme,
                            bool *ret_enable, struct ferry_status *st)
{
    struct urlgroup *g = NULL;
    int r;

    ferry_status_clear(st);
    if (scheme > 1)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "Scheme",
                                "authentication scheme %u is not 0 (Negotiate) or 1 (NTLM)",
                                scheme);
    r = urlgroup_group_find(srv->reg, prefix, &g, st);
    if (r < 0)
        return r;
    pthread_rwlock_rdlock(&srv->reg->lock);
    *ret_enable = scheme == 0 ? g->auth_negotiate : g->auth_ntlm;
    pthread_rwlock_unlock(&srv->reg->lock);
    urlgroup_unref(g);
    return 0;
}

/* The uint32_t field a group property names. */
enum server_prop {
    SERVER_PROP_CONNECTION_LIMIT,
    SERVER_PROP_BANDWIDTH_LIMIT,
    SERVER_PROP_UPLOAD_ENABLED,
    SERVER_PROP_MAX_UPLOAD_SIZE,
};

static int
server_property_check(const char *name, uint32_t value, enum server_prop *ret_prop,
                      struct ferry_status *st)
{
    if (name && strcasecmp(name, FERRY_PROP_CONNECTION_LIMIT) == 0) {
        *ret_prop = SERVER_PROP_CONNECTION_LIMIT;
        return 0;
    }
    if (name && strcasecmp(name, FERRY_PROP_BANDWIDTH_LIMIT) == 0) {
        if (value > 0 && value < SERVER_MIN_BANDWIDTH)
            return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                    FERRY_E_INVALIDARG, "Value",
                                    "BandwidthLimit %u is below the minimum of %d bytes/s "
                                    "(0 = unlimited)", value, SERVER_MIN_BANDWIDTH);
        *ret_prop = SERVER_PROP_BANDWIDTH_LIMIT;
        return 0;
    }
    if (name && strcasecmp(name, FERRY_PROP_UPLOAD_ENABLED) == 0) {
        if (value > 1)
            return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                    FERRY_E_INVALIDARG, "Value",
                                    "UploadEnabled is 0 or 1, not %u", value);
        *ret_prop = SERVER_PROP_UPLOAD_ENABLED;
        return 0;
    }
    if (name && strcasecmp(name, FERRY_PROP_MAX_UPLOAD_SIZE) == 0) {
        *ret_prop = SERVER_PROP_MAX_UPLOAD_SIZE;
        return 0;
    }
    return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER, FERRY_E_INVALIDARG,
                            "Property", "property '%s' is not ConnectionLimit, "
                            "BandwidthLimit, UploadEnabled or MaxUploadSize",
                            name ? name : "");
}

static uint32_t *
server_property_field(struct urlgroup *g, enum server_prop prop)
{
    switch (prop) {
    case SERVER_PROP_BANDWIDTH_LIMIT:
        return &g->bandwidth_limit;
    case SERVER_PROP_UPLOAD_ENABLED:
        return &g->upload_enabled;
    case SERVER_PROP_MAX_UPLOAD_SIZE:
        return &g->max_upload_size;
    default:
        return &g->connection_limit;
    }
}

int
ferry_server_group_set_property(struct ferry_server *srv, const char *prefix, const char *name,
                                uint32_t value, struct ferry_status *st)
{
    struct urlgroup *g = NULL;
    enum server_prop prop = SERVER_PROP_CONNECTION_LIMIT;
    int r;

    ferry_status_clear(st);
    r = server_property_check(name, value, &prop, st);
    if (r < 0)
        return r;
    pthread_mutex_lock(&srv->lock);
    r = urlgroup_group_find(srv->reg, prefix, &g, st);
    if (r >= 0) {
        __atomic_store_n(server_property_field(g, prop), value, __ATOMIC_RELAXED);
        if (prop == SERVER_PROP_BANDWIDTH_LIMIT)
            ferry_rate_set(g->rate, value);
        if (prop == SERVER_PROP_UPLOAD_ENABLED || prop == SERVER_PROP_MAX_UPLOAD_SIZE)
            server_db_save_group_upload(&srv->db, g);
        else
            server_db_save_group(&srv->db, g);
        urlgroup_unref(g);
    }
    pthread_mutex_unlock(&srv->lock);
    return r;
}

int
ferry_server_group_get_property(struct ferry_server *srv, const char *prefix, const char *name,
                                uint32_t *ret_value, struct ferry_status *st)
{
    struct urlgroup *g = NULL;
    enum server_prop prop = SERVER_PROP_CONNECTION_LIMIT;
    int r;

    ferry_status_clear(st);
    r = server_property_check(name, 0, &prop, st);
    if (r < 0)
        return r;
    r = urlgroup_group_find(srv->reg, prefix, &g, st);
    if (r < 0)
        return r;
    *ret_value = __atomic_load_n(server_property_field(g, prop), __ATOMIC_RELAXED);
    urlgroup_unref(g);
    return 0;
}

int
ferry_server_set_ssl_cert(struct ferry_server *srv, uint16_t port, const char *store_name,
                          const uint8_t *hash, size_t hash_len, struct ferry_status *st)
{
    char sha1[2 * SERVER_SHA1_LEN + 1];
    int r;

    ferry_status_clear(st);
    if (port == 0)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "Port", "port must be 1-65535");
    if (!certstore_name_ok(store_name))
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "StoreName",
                                "store name '%s' must be 1-64 characters of [A-Za-z0-9._-], "
                                "not starting with '.'", store_name ? store_name : "");
    if (!hash || hash_len != SERVER_SHA1_LEN)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "hashBlob",
                                "the certificate hash must be a 20-byte SHA-1 thumbprint, "
                                "got %zu bytes", hash_len);
    ferry_hex_encode(hash, hash_len, sha1);
    pthread_mutex_lock(&srv->lock);
    r = server_cert_bind(srv, port, store_name, sha1, st);
    if (r >= 0)
        server_db_save_cert(&srv->db, port, store_name, sha1);
    pthread_mutex_unlock(&srv->lock);
    return r;
}

/* GetSslCertificate: the store and thumbprint bound to port. */
int
ferry_server_get_ssl_cert(struct ferry_server *srv, uint16_t port, char **ret_store,
                          uint8_t ret_hash[20], struct ferry_status *st)
{
    struct server_cert *c;
    char *store = NULL;
    int r = 0;

    ferry_status_clear(st);
    if (port == 0)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "Port", "port must be 1-65535");
    pthread_mutex_lock(&srv->lock);
    c = server_cert_for_port(srv, port);
    if (!c || !c->store) {
        r = ferry_status_set(st, -ENOENT, FERRY_STATUS_RESULT, FERRY_E_NOT_FOUND, NULL,
                             "no certificate is bound to port %u", port);
    } else if (!(store = strdup(c->store)) || !server_sha1_parse(c->sha1, ret_hash)) {
        free(store);
        r = ferry_status_oom(st, -ENOMEM);
    }
    pthread_mutex_unlock(&srv->lock);
    if (r >= 0)
        *ret_store = store;
    return r;
}

/*
 * RemoveSslCertificate: unbind port's certificate. https listeners already open on the
 * port switch to the daemon's default certificate (tls-cert); when there is none, the
 * removal is refused while such listeners exist (they would have nothing to serve with).
 */
int
ferry_server_remove_ssl_cert(struct ferry_server *srv, uint16_t port, struct ferry_status *st)
{
    struct ferry_tls_ctx *dflt = NULL;
    struct server_cert *c;
    bool https = false;
    char err[256] = "";
    int r = 0;

    ferry_status_clear(st);
    if (port == 0)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "Port", "port must be 1-65535");
    pthread_mutex_lock(&srv->lock);
    c = server_cert_for_port(srv, port);
    if (!c || !c->store) {
        r = ferry_status_set(st, -ENOENT, FERRY_STATUS_RESULT, FERRY_E_NOT_FOUND, NULL,
                             "no certificate is bound to port %u", port);
        goto out;
    }
    pthread_rwlock_rdlock(&srv->reg->lock);
    for (size_t i = 0; i < srv->reg->nlisteners; i++)
        https = https || (srv->reg->listeners[i].port == port && srv->reg->listeners[i].https);
    pthread_rwlock_unlock(&srv->reg->lock);
    /* the default certificate, with the binding out of the way */
    {
        struct server_cert saved = *c;

        c->tls = NULL;
        c->store = NULL;
        r = https ? server_tls_for_port(srv, port, &dflt, err, sizeof(err)) : 0;
        c->tls = saved.tls;
        c->store = saved.store;
    }
    if (r < 0) {
        r = ferry_status_set(st, -EBUSY, FERRY_STATUS_RESULT, FERRY_BG_E_INVALID_STATE, NULL,
                             "port %u serves https URL groups and has no other certificate "
                             "(%s): bind another or delete the groups first", port, err);
        goto out;
    }
    if (dflt) {
        pthread_rwlock_rdlock(&srv->reg->lock);
        for (size_t i = 0; i < srv->reg->nlisteners; i++) {
            struct urlgroup_listener *l = &srv->reg->listeners[i];
            if (l->port == port && l->https && ferry_http_server_set_tls(srv->http, l->id,
                                                                         dflt) < 0)
                ferry_log_error("certificate could not be switched on '%s'", l->addr);
        }
        pthread_rwlock_unlock(&srv->reg->lock);
        ferry_tls_ctx_unref(dflt);
    }
    free(c->store);
    ferry_tls_ctx_unref(c->tls);
    *c = srv->certs[--srv->ncerts];
    server_db_delete_cert(&srv->db, port);
    ferry_log_info("certificate of port %u removed", port);
out:
    pthread_mutex_unlock(&srv->lock);
    return r;
}

/* ---- snapshots ---- */

static int
server_url_info(const struct urlgroup_url *u, struct ferry_url_info *ret)
{
    struct urlgroup_url *mu = (struct urlgroup_url *)u;

    ret->url = urlgroup_url_string(u, NULL);
    ret->suffix = strdup(u->suffix);
    ret->source = strdup(u->source);
    ret->rule = u->rule_text ? strdup(u->rule_text) : NULL;
    if (!ret->url || !ret->suffix || !ret->source || (u->rule_text && !ret->rule))
        return -ENOMEM;
    pthread_mutex_lock(&mu->mlock);
    ret->manifest_ready = u->manifest != NULL;
    pthread_mutex_unlock(&mu->mlock);
    ret->requests = atomic_load(&mu->requests);
    ret->bytes_sent = atomic_load(&mu->bytes_sent);
    ret->active = atomic_load(&mu->active);
    return 0;
}

/* Build one group's info (registry read-locked). */
static int
server_group_info(struct urlgroup *g, struct ferry_group_info **ret)
{
    struct ferry_group_info *gi = calloc(1, sizeof(*gi));
    int r;

    if (!gi)
        return -ENOMEM;
    gi->prefix = strdup(g->p.canonical);
    gi->connection_limit = g->connection_limit;
    gi->bandwidth_limit = g->bandwidth_limit;
    gi->auth_negotiate = g->auth_negotiate;
    gi->auth_ntlm = g->auth_ntlm;
    gi->requests = atomic_load(&g->requests);
    gi->bytes_sent = atomic_load(&g->bytes_sent);
    gi->active = atomic_load(&g->active);
    if (!gi->prefix)
        goto oom;
    if (g->nurls > 0) {
        gi->urls = calloc(g->nurls, sizeof(*gi->urls));
        if (!gi->urls)
            goto oom;
    }
    for (size_t i = 0; i < g->nurls; i++) {
        gi->nurls++;
        r = server_url_info(g->urls[i], &gi->urls[i]);
        if (r < 0)
            goto oom;
    }
    *ret = gi;
    return 0;
oom:
    ferry_group_info_free(gi);
    return -ENOMEM;
}

int
ferry_server_group_get(struct ferry_server *srv, const char *prefix,
                       struct ferry_group_info **ret_group)
{
    struct urlgroup *g = NULL;
    int r;

    r = urlgroup_group_find(srv->reg, prefix, &g, NULL);
    if (r < 0)
        return r;
    pthread_rwlock_rdlock(&srv->reg->lock);
    r = server_group_info(g, ret_group);
    pthread_rwlock_unlock(&srv->reg->lock);
    urlgroup_unref(g);
    return r;
}

int
ferry_server_group_list(struct ferry_server *srv, struct ferry_group_info ***ret_groups,
                        size_t *ret_n)
{
    struct ferry_group_info **v = NULL;
    size_t n = 0;
    int r = 0;

    pthread_rwlock_rdlock(&srv->reg->lock);
    if (srv->reg->ngroups > 0) {
        v = calloc(srv->reg->ngroups, sizeof(*v));
        if (!v)
            r = -ENOMEM;
    }
    for (size_t i = 0; r == 0 && i < srv->reg->ngroups; i++) {
        r = server_group_info(srv->reg->groups[i], &v[n]);
        if (r == 0)
            n++;
    }
    pthread_rwlock_unlock(&srv->reg->lock);
    if (r < 0) {
        ferry_group_info_list_free(v, n);
        return r;
    }
    *ret_groups = v;
    *ret_n = n;
    return 0;
}

struct ferry_group_info *
ferry_group_info_free(struct ferry_group_info *g)
{
    if (!g)
        return NULL;
    for (size_t i = 0; i < g->nurls; i++) {
        free(g->urls[i].url);
        free(g->urls[i].suffix);
        free(g->urls[i].source);
        free(g->urls[i].rule);
    }
    free(g->urls);
    free(g->prefix);
    free(g);
    return NULL;
}

void
ferry_group_info_list_free(struct ferry_group_info **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        ferry_group_info_free(v[i]);
    free(v);
}

void
ferry_server_stats(struct ferry_server *srv, struct ferry_server_stats *ret)
{
    ret->requests = atomic_load(&srv->fs.requests);
    ret->bytes_sent = atomic_load(&srv->fs.bytes_sent);
    ret->active_connections = atomic_load(&srv->fs.active);
    ret->manifests_computed = manifest_worker_computed(srv->mf.worker);
    ret->tarpit_held = 0;
    ret->tarpit_parked = 0;
    if (srv->http) {
        unsigned parked = 0;

        ferry_http_server_tarpit_stats(srv->http, &ret->tarpit_held, &parked);
        ret->tarpit_parked = parked;
    }
}

/* ---- lifecycle ---- */

static void
server_restore_cert(void *ud, uint16_t port, const char *store, const char *sha1)
{
    struct ferry_server *srv = ud;
    struct ferry_status st;

    if (server_cert_bind(srv, port, store, sha1, &st) < 0)
        ferry_log_error("certificate %s of port %u not restored: %s", sha1, port, st.text);
}

static void
server_restore_group(void *ud, const struct server_db_group *row)
{
    struct ferry_server *srv = ud;
    struct ferry_status st;
    struct urlgroup *g = NULL;
    int r;

    /* The listeners of a server (or process) that just stopped can linger for a moment
     * while their io_uring requests are cancelled: retry EADDRINUSE for up to
     * SERVER_RESTORE_BIND_MS before giving up on the group. */
    r = urlgroup_group_create(srv->reg, row->prefix, NULL, &st);
    for (int waited = 0; r == -EADDRINUSE && waited < SERVER_RESTORE_BIND_MS; waited += 25) {
        usleep(25000);
        r = urlgroup_group_create(srv->reg, row->prefix, NULL, &st);
    }
    if (r < 0 || urlgroup_group_find(srv->reg, row->prefix, &g, &st) < 0) {
        ferry_log_error("URL group '%s' not restored: %s", row->prefix, st.text);
        return;
    }
    /* listeners are already open: workers may read the limits */
    __atomic_store_n(&g->connection_limit, row->connection_limit, __ATOMIC_RELAXED);
    __atomic_store_n(&g->bandwidth_limit, row->bandwidth_limit, __ATOMIC_RELAXED);
    __atomic_store_n(&g->upload_enabled, row->upload_enabled, __ATOMIC_RELAXED);
    __atomic_store_n(&g->max_upload_size, row->max_upload_size, __ATOMIC_RELAXED);
    /* Negotiate/NTLM were never enforced and Enable=true is refused since: a flag an older
     * ferryd stored is turned off (server_restore clears the rows), loudly, and the group
     * is served as before, by its URLs' access rules (Basic, certificates). */
    if (row->auth_negotiate || row->auth_ntlm)
        ferry_log_warn("URL group '%s': stored %s%s%s authentication is not supported and is "
                       "turned off; its URLs' access rules (HTTP Basic, client certificates) "
                       "decide, as they did", row->prefix, row->auth_negotiate ? "Negotiate" : "",
                       row->auth_negotiate && row->auth_ntlm ? " and " : "",
                       row->auth_ntlm ? "NTLM" : "");
    g->auth_negotiate = false;
    g->auth_ntlm = false;
    ferry_rate_set(g->rate, row->bandwidth_limit);
    urlgroup_unref(g);
}

static void
server_restore_url(void *ud, const char *prefix, const char *suffix, const char *source,
                   const char *rule, const char *const *certs, size_t ncerts)
{
    struct ferry_server *srv = ud;
    struct ferry_status st;
    struct urlgroup_url *u = NULL;

    if (!prefix || !suffix || !source ||
        urlgroup_url_create(srv->reg, prefix, suffix, source, rule, certs, ncerts, &u,
                            &st) < 0) {
        ferry_log_error("URL '%s/%s' not restored: %s", prefix ? prefix : "?",
                        suffix ? suffix : "?", st.text);
        return;
    }
    server_manifests_queue(&srv->mf, u);
    urlgroup_url_unref(u);
}

/* What server.db holds, in order: certificates first (https groups need them to listen),
 * then groups, then their URLs. */
static void
server_restore(struct ferry_server *srv)
{
    server_db_each_cert(&srv->db, server_restore_cert, srv);
    server_db_each_group(&srv->db, server_restore_group, srv);
    server_db_clear_group_auth(&srv->db);
    server_db_each_url(&srv->db, server_restore_url, srv);
}

/* The config file's url-group / url lines: applied at every start, not stored. */
static void
server_apply_config(struct ferry_server *srv)
{
    for (size_t i = 0; i < srv->cfg->nurls; i++) {
        const struct ferry_config_url *cu = &srv->cfg->urls[i];
        struct ferry_status st;
        struct urlgroup_url *u = NULL;
        char *prefix, *slash;

        ferry_status_clear(&st);
        if (!cu->url)
            continue;
        if (!cu->source) {
            if (urlgroup_group_create(srv->reg, cu->url, NULL, &st) < 0)
                ferry_log_error("config url-group '%s' refused: %s", cu->url, st.text);
            continue;
        }
        prefix = strdup(cu->url);
        if (!prefix)
            continue;
        slash = strrchr(prefix, '/');
        if (!slash || slash == prefix) {
            ferry_log_error("config url '%s' has no group prefix", cu->url);
            free(prefix);
            continue;
        }
        *slash = '\0';
        if (urlgroup_url_create(srv->reg, prefix, slash + 1, cu->source, cu->rule, NULL, 0, &u,
                                &st) < 0) {
            if (st.code == FERRY_E_ALREADY_EXISTS)
                ferry_log_info("config url '%s' is already published", cu->url);
            else
                ferry_log_error("config url '%s' refused: %s", cu->url, st.text);
        } else {
            server_manifests_queue(&srv->mf, u);
            urlgroup_url_unref(u);
        }
        free(prefix);
    }
}

int
server_new(const struct ferry_config *cfg, struct ferry_users *users,
           struct ferry_server **ret_srv)
{
    return server_new_relay(cfg, users, NULL, NULL, ret_srv);
}

int
server_new_relay(const struct ferry_config *cfg, struct ferry_users *users,
                 struct relay *(*relay_find)(void *ud, const char *source), void *relay_ud,
                 struct ferry_server **ret_srv)
{
    struct ferry_server *srv;
    const char *const *roots;
    int r;

    if (!cfg || !cfg->state_dir)
        return -EINVAL;
    srv = calloc(1, sizeof(*srv));
    if (!srv)
        return -ENOMEM;
    srv->cfg = cfg;
    srv->fs.upload_root_fd = -1; /* server_free closes it */
    pthread_mutex_init(&srv->lock, NULL);
    r = ferry_http_server_new(cfg, "data", cfg->workers, &srv->http);
    if (r < 0) {
        ferry_log_error("the data-plane HTTP server could not start: %s", strerror(-r));
        goto error;
    }
    roots = (const char *const *)cfg->publish_roots.v;
    r = urlgroup_registry_new(roots, cfg->publish_roots.n,
                              cfg->server_max_groups ? cfg->server_max_groups
                                                     : SERVER_DEFAULT_MAX_GROUPS,
                              cfg->server_max_urls ? cfg->server_max_urls
                                                   : SERVER_DEFAULT_MAX_URLS,
                              &server_urlgroup_ops, srv, &srv->reg);
    if (r < 0)
        goto error;
    if (relay_find)
        urlgroup_registry_set_relay(srv->reg, relay_find, relay_ud);
    srv->fs.reg = srv->reg;
    srv->fs.users = users;
    srv->fs.allow_basic_over_http = cfg->allow_basic_over_http;
    srv->fs.manifest_wanted = server_manifest_wanted;
    srv->fs.group_rate = server_group_rate;
    srv->fs.ud = srv;
    srv->fs.upload_root_fd = -1;
    srv->fs.upload_fragment_max = (size_t)cfg->upload_fragment_max;
    if (cfg->upload_notify_url && *cfg->upload_notify_url) {
        srv->fs.replies = upload_replies_new(cfg->upload_notify_url);
        if (!srv->fs.replies)
            ferry_log_warn("upload notifications to '%s' are off: out of memory",
                           cfg->upload_notify_url);
    }
    if (cfg->upload_root) {
        srv->fs.upload_root_fd = open(cfg->upload_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (srv->fs.upload_root_fd < 0)
            ferry_log_warn("upload root '%s' cannot be opened: %s; uploads are refused",
                           cfg->upload_root, strerror(errno));
    }
    r = server_manifests_init(&srv->mf, srv->reg, cfg->state_dir,
                              cfg->manifest_chunk_size ? cfg->manifest_chunk_size
                                                       : SERVER_DEFAULT_CHUNK,
                              cfg->manifest_sha256);
    if (r < 0)
        goto error;
    r = server_db_open(&srv->db, cfg->state_dir);
    if (r < 0)
        goto error;
    srv->sweep.upload_root_fd = srv->fs.upload_root_fd;
    srv->sweep.upload_timeout_s = cfg->upload_session_timeout; /* >= 1 (option table) */
    r = filesweep_start(&srv->sweep, srv->reg);
    if (r < 0) {
        ferry_log_error("the open-file sweeper thread could not start: %s", strerror(-r));
        goto error;
    }
    pthread_mutex_lock(&srv->lock);
    srv->db.paused = true;
    server_restore(srv);
    server_apply_config(srv);
    srv->db.paused = false;
    pthread_mutex_unlock(&srv->lock);
    *ret_srv = srv;
    return 0;
error:
    server_free(srv);
    return r;
}

struct ferry_server *
server_free(struct ferry_server *srv)
{
    if (!srv)
        return NULL;
    /* workers first (no more handlers or on_done), then the manifest thread, then the
     * registry whose listeners died with the HTTP server */
    srv->http = ferry_http_server_free(srv->http);
    srv->stopping = true;
    filesweep_stop(&srv->sweep);
    server_manifests_done(&srv->mf);
    srv->reg = urlgroup_registry_free(srv->reg);
    for (size_t i = 0; i < srv->ncerts; i++) {
        free(srv->certs[i].store);
        ferry_tls_ctx_unref(srv->certs[i].tls);
    }
    free(srv->certs);
    ferry_tls_ctx_unref(srv->default_tls);
    server_db_close(&srv->db);
    if (srv->fs.upload_root_fd >= 0)
        close(srv->fs.upload_root_fd);
    srv->fs.replies = upload_replies_free(srv->fs.replies);
    pthread_mutex_destroy(&srv->lock);
    free(srv);
    return NULL;
}
