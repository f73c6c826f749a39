/*
 * config.c - ferryd's configuration (ferry/config.h). One static table of options drives
 * the defaults, ferry_config_set, the config file, the command-line flags and --help, so an
 * option exists everywhere or nowhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-internal.h"
#include "ferry/config.h"

#define OFF(field) offsetof(struct ferry_config, field)
#define KiB 1024ULL
#define MiB (1024ULL * 1024ULL)
#define GiB (1024ULL * 1024ULL * 1024ULL)

/* clang-format off */
const struct ferry_config_option config_options[] = {
    /* general */
    {"state-dir", "DIR", FERRY_CONFIG_STRING, NULL,
     "state directory: job store, users file, certificates (required)", OFF(state_dir), 0, 0, NULL},
    {"config", "FILE", FERRY_CONFIG_FILE, NULL,
     "read options from FILE (\"name = value\" lines) before the other flags", OFF(config_file),
     0, 0, NULL},
    {"log-level", "LEVEL", FERRY_CONFIG_CHOICE, "info",
     "least severe messages logged", OFF(log_level), 0, 0, "error|warn|info|debug"},
    {"workers", "N", FERRY_CONFIG_UNSIGNED, "0",
     "data-plane threads, 0 = one per online CPU", OFF(workers), 0, 256, NULL},

    /* TLS and authentication */
    {"tls-cert", "FILE", FERRY_CONFIG_STRING, NULL,
     "default certificate chain (PEM) for https listeners", OFF(tls_cert), 0, 0, NULL},
    {"tls-key", "FILE", FERRY_CONFIG_STRING, NULL,
     "private key (PEM) of --tls-cert", OFF(tls_key), 0, 0, NULL},
    {"tls-client-ca", "FILE", FERRY_CONFIG_STRING, NULL,
     "CA file that client certificates are verified against", OFF(tls_client_ca), 0, 0, NULL},
    {"cert-store-dir", "DIR", FERRY_CONFIG_STRING, NULL,
     "certificate stores for SetSslCertificate, one subdirectory per store "
     "(unset: STATE/certs)", OFF(cert_store_dir), 0, 0, NULL},
    {"allow-basic-over-http", NULL, FERRY_CONFIG_BOOL, "false",
     "accept Basic authentication over plain http from non-loopback peers",
     OFF(allow_basic_over_http), 0, 0, NULL},
    {"auth-fail-limit", "N", FERRY_CONFIG_UNSIGNED, "10",
     "failed logins of an address or user before backoff (a prefix: twice), 0 = no limit",
     OFF(auth_fail_limit), 0, 1000000, NULL},
    {"auth-verify-threads", "N", FERRY_CONFIG_UNSIGNED, "2",
     "threads checking passwords (PBKDF2) for WS-Man and the data port",
     OFF(auth_verify_threads), 1, 64, NULL},
    {"auth-verify-queue", "N", FERRY_CONFIG_UNSIGNED, "64",
     "password checks waiting for a thread before requests are answered 503",
     OFF(auth_verify_queue), 1, 100000, NULL},
    {"auth-tarpit-rate", "N", FERRY_CONFIG_UNSIGNED, "16",
     "401 answers an address prefix (/24, /64) gets at once per second; past that each is "
     "held 100 ms, doubling to 2 s, before it is sent, 0 = never held",
     OFF(auth_tarpit_rate), 0, 1000000, NULL},
    {"auth-tarpit-max", "N", FERRY_CONFIG_UNSIGNED, "512",
     "connections whose 401 is held at once, per listener kind (data port, WS-Man); "
     "beyond it a 401 goes at once", OFF(auth_tarpit_max), 0, 1000000, NULL},

    /* HTTP core limits */
    {"http-max-header-bytes", "BYTES", FERRY_CONFIG_SIZE, "16384",
     "largest request head (request line and headers)", OFF(http_max_header_bytes), 1 * KiB,
     1 * MiB, NULL},
    {"http-max-headers", "N", FERRY_CONFIG_UNSIGNED, "64",
     "most header fields in one request", OFF(http_max_headers), 8, 1024, NULL},
    {"http-max-body-bytes", "BYTES", FERRY_CONFIG_SIZE, "0",
     "largest request body outside WS-Man, 0 = bodies refused (413)", OFF(http_max_body_bytes),
     0, 1 * GiB, NULL},
    {"http-header-timeout", "SECONDS", FERRY_CONFIG_UNSIGNED, "10",
     "time allowed to receive a whole request head", OFF(http_header_timeout), 1, 3600, NULL},
    {"http-idle-timeout", "SECONDS", FERRY_CONFIG_UNSIGNED, "60",
     "keep-alive connections idle longer are closed", OFF(http_idle_timeout), 1, 86400, NULL},
    {"http-body-timeout", "SECONDS", FERRY_CONFIG_UNSIGNED, "30",
     "time allowed to receive a whole request body, however slowly it trickles",
     OFF(http_body_timeout), 1, 3600, NULL},
    {"http-max-connections", "N", FERRY_CONFIG_UNSIGNED, "20000",
     "open connections per ferryd, over all listeners", OFF(http_max_connections), 1, 1000000,
     NULL},

    /* server role */
    {"publish-root", "DIR", FERRY_CONFIG_STRV, NULL,
     "directory whose files may be published (repeatable)", OFF(publish_roots), 0, 0, NULL},
    {"url-group", "PREFIX", FERRY_CONFIG_URL_GROUP, NULL,
     "URL group scheme://host:port/name created at start (repeatable)", OFF(urls), 0, 0, NULL},
    {"url", "'URL SOURCE [RULE]'", FERRY_CONFIG_URL, NULL,
     "publish SOURCE at URL (group prefix/suffix), access RULE (default anonymous; repeatable)",
     OFF(urls), 0, 0, NULL},
    {"send-backend", "NAME", FERRY_CONFIG_CHOICE, "sendfile",
     "how file bodies leave on plain sockets", OFF(send_backend), 0, 0, "sendfile|splice"},
    {"send-lowat", "BYTES", FERRY_CONFIG_BYTES, "64KiB",
     "unsent bytes a data-plane socket may hold (TCP_NOTSENT_LOWAT), 0 = the kernel's limit",
     OFF(send_lowat), 0, 64 * MiB, NULL},
    {"manifest-chunk-size", "BYTES", FERRY_CONFIG_BYTES, "4MiB",
     "chunk size of published files' manifests", OFF(manifest_chunk_size), 64 * KiB, 1 * GiB,
     NULL},
    {"manifest-sha256", NULL, FERRY_CONFIG_BOOL, "false",
     "add SHA-256 pieces to Metalink manifests", OFF(manifest_sha256), 0, 0, NULL},
    {"max-url-groups", "N", FERRY_CONFIG_UNSIGNED, "64",
     "URL groups per ferryd", OFF(server_max_groups), 1, 65536, NULL},
    {"max-urls", "N", FERRY_CONFIG_UNSIGNED, "4096",
     "published URLs per ferryd", OFF(server_max_urls), 1, 1000000, NULL},
    {"upload-root", "DIR", FERRY_CONFIG_STRING, NULL,
     "uploads to a group with UploadEnabled land in DIR/NAME (unset: no uploads)",
     OFF(upload_root), 0, 0, NULL},
    {"upload-fragment-max", "BYTES", FERRY_CONFIG_BYTES, "8MiB",
     "largest BITS upload fragment: the body cap of a BITS_POST its access rule allowed",
     OFF(upload_fragment_max), 4 * KiB, 1 * GiB, NULL},
    {"upload-notify-url", "URL", FERRY_CONFIG_STRING, NULL,
     "upload-reply: POST each whole upload to URL; its response is the client's reply",
     OFF(upload_notify_url), 0, 0, NULL},
    {"upload-session-timeout", "SECONDS", FERRY_CONFIG_UNSIGNED, "1209600",
     "an upload session that receives nothing this long is removed with its part file",
     OFF(upload_session_timeout), 1, 315360000, NULL},

    /* client role */
    {"download-root", "DIR", FERRY_CONFIG_STRV, NULL,
     "directory that jobs may write into (repeatable)", OFF(download_roots), 0, 0, NULL},
    {"max-jobs", "N", FERRY_CONFIG_UNSIGNED, "300",
     "jobs per machine", OFF(max_jobs), 1, 100000, NULL},
    {"max-files-per-job", "N", FERRY_CONFIG_UNSIGNED, "1000",
     "files in one job", OFF(max_files_per_job), 1, 100000, NULL},
    {"max-ranges-per-file", "N", FERRY_CONFIG_UNSIGNED, "500",
     "byte ranges requested for one file", OFF(max_ranges_per_file), 1, 100000, NULL},
    {"connections-per-file", "N", FERRY_CONFIG_UNSIGNED, "4",
     "parallel connections fetching one file", OFF(connections_per_file), 1, 64, NULL},
    {"fetch-threads", "N", FERRY_CONFIG_UNSIGNED, "1",
     "io_uring fetch threads for plain http:// sources, 0 = libcurl only",
     OFF(fetch_threads), 0, 16, NULL},
    {"fetch-splice", "MODE", FERRY_CONFIG_CHOICE, "off",
     "io_uring fetch bodies socket -> file by splice(2): on, off (recv + pwrite), auto = "
     "unless the file is on tmpfs",
     OFF(fetch_splice), 0, 0, "auto|on|off"},
    {"fetch-chunk-size", "BYTES", FERRY_CONFIG_BYTES, "4MiB",
     "range size fetched and verified when the server has no manifest",
     OFF(fetch_chunk_size), 64 * KiB, 1 * GiB, NULL},
    {"bandwidth-limit", "BYTES", FERRY_CONFIG_BYTES, "0",
     "bytes per second for all jobs together, 0 = unlimited", OFF(bandwidth_limit), 0,
     UINT64_MAX, NULL},
    {"progress-interval", "MS", FERRY_CONFIG_UNSIGNED, "1000",
     "period of progress commits to the store", OFF(progress_interval_ms), 50, 3600000, NULL},
    {"max-active-jobs", "N", FERRY_CONFIG_UNSIGNED, "4",
     "jobs transferring at once", OFF(max_active_jobs), 1, 1000, NULL},
    {"min-retry-delay", "SECONDS", FERRY_CONFIG_UNSIGNED, "5",
     "floor of a job's MinimumRetryDelay", OFF(retry_delay_min), 1, 2592000, NULL},
    {"connect-timeout", "SECONDS", FERRY_CONFIG_UNSIGNED, "30",
     "time allowed to connect to a remote server", OFF(connect_timeout), 1, 3600, NULL},
    {"stall-timeout", "SECONDS", FERRY_CONFIG_UNSIGNED, "60",
     "a transfer receiving no bytes this long is a transient error", OFF(stall_timeout), 1,
     86400, NULL},
    {"notify-user", "NAME", FERRY_CONFIG_STRING, "ferry",
     "account that job notification commands run as when ferryd runs as root (never root)",
     OFF(notify_user), 0, 0, NULL},
    {"notify-timeout", "SECONDS", FERRY_CONFIG_UNSIGNED, "30",
     "a notification command is killed, a notification POST abandoned, after this long",
     OFF(notify_timeout), 1, 3600, NULL},
    {"notify-queue", "N", FERRY_CONFIG_UNSIGNED, "64",
     "job notifications waiting to run; more are dropped (and logged)", OFF(notify_queue), 1,
     100000, NULL},
    {"notify-max-running", "N", FERRY_CONFIG_UNSIGNED, "4",
     "notification commands (and, apart, POSTs) running at once", OFF(notify_max_running), 1,
     64, NULL},
    {"job-inactivity-timeout", "SECONDS", FERRY_CONFIG_UNSIGNED, "7776000",
     "a new job's JobInactivityTimeout: jobs not modified this long (and not transferring) "
     "are cancelled (BITS's 90-day cleanup; 0 never)", OFF(job_inactivity_timeout), 0,
     4294967295u, NULL},

};
/* clang-format on */

const size_t config_noptions = sizeof(config_options) / sizeof(config_options[0]);

const struct ferry_config_option *
config_option_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < config_noptions; i++) {
        if (strcmp(config_options[i].name, name) == 0)
            return &config_options[i];
    }
    return NULL;
}

/* The option called `name` in the core table or in one of cfg's sections, or NULL. */
static const struct ferry_config_option *
option_find(const struct ferry_config *cfg, const char *name)
{
    const struct ferry_config_option *o = config_option_find(name);

    if (o || !name)
        return o;
    for (size_t s = 0; s < cfg->nsections; s++) {
        const struct ferry_config_section *sec = cfg->sections[s];
        for (size_t i = 0; i < sec->noptions; i++) {
            if (strcmp(sec->options[i].name, name) == 0)
                return &sec->options[i];
        }
    }
    return NULL;
}

/* Where option o's value lives: in cfg itself, or in the struct of the section owning o. */
static void *
field(struct ferry_config *cfg, const struct ferry_config_option *o)
{
    for (size_t s = 0; s < cfg->nsections; s++) {
        const struct ferry_config_section *sec = cfg->sections[s];
        for (size_t i = 0; i < sec->noptions; i++) {
            if (&sec->options[i] == o)
                return (char *)cfg->section_data[s] + o->offset;
        }
    }
    return (char *)cfg + o->offset;
}

static bool
has_control_char(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return true;
    }
    return false;
}

int
config_parse_bytes(const char *s, uint64_t *ret)
{
    static const struct {
        const char *suffix;
        uint64_t mult;
    } units[] = {
        {"", 1},         {"K", KiB},      {"M", MiB},      {"G", GiB},     {"T", GiB * KiB},
        {"KiB", KiB},    {"MiB", MiB},    {"GiB", GiB},    {"TiB", GiB * KiB},
    };
    unsigned long long v;
    char *end;

    if (!s || *s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno == ERANGE)
        return -ERANGE;
    if (errno != 0 || end == s)
        return -EINVAL;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].suffix) != 0)
            continue;
        if (v > UINT64_MAX / units[i].mult)
            return -ERANGE;
        *ret = (uint64_t)v * units[i].mult;
        return 0;
    }
    return -EINVAL;
}

static int
parse_unsigned(const char *s, uint64_t *ret)
{
    unsigned long long v;
    char *end;

    if (!s || *s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno == ERANGE)
        return -ERANGE;
    if (errno != 0 || end == s || *end != '\0')
        return -EINVAL;
    *ret = v;
    return 0;
}

static int
parse_bool(const char *s, bool *ret)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};

    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *ret = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *ret = false;
            return 0;
        }
    }
    return -EINVAL;
}

static bool
choice_ok(const char *choices, const char *s)
{
    size_t n = strlen(s);
    const char *p = choices;

    if (n == 0)
        return false;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, s, n) == 0)
            return true;
        if (!bar)
            break;
        p = bar + 1;
    }
    return false;
}

static int
strv_push(struct ferry_strv *sv, const char *s)
{
    char **nv;
    char *copy = strdup(s);

    if (!copy)
        return -ENOMEM;
    nv = realloc(sv->v, (sv->n + 2) * sizeof(*nv));
    if (!nv) {
        free(copy);
        return -ENOMEM;
    }
    nv[sv->n++] = copy;
    nv[sv->n] = NULL;
    sv->v = nv;
    return 0;
}

static void
strv_clear(struct ferry_strv *sv)
{
    for (size_t i = 0; i < sv->n; i++)
        free(sv->v[i]);
    free(sv->v);
    sv->v = NULL;
    sv->n = 0;
}

static void
urls_clear(struct ferry_config *cfg)
{
    for (size_t i = 0; i < cfg->nurls; i++) {
        free(cfg->urls[i].url);
        free(cfg->urls[i].source);
        free(cfg->urls[i].rule);
    }
    free(cfg->urls);
    cfg->urls = NULL;
    cfg->nurls = 0;
}

/*
 * Checks the shape scheme://host[:port]/seg1[/seg2]: `segments` path segments, none empty,
 * no query or fragment. The server role validates hosts and ports in depth.
 */
static bool
url_shape_ok(const char *url, unsigned segments)
{
    const char *p, *slash;
    unsigned n = 0;

    if (strncmp(url, "http://", 7) == 0)
        p = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        p = url + 8;
    else
        return false;
    slash = strchr(p, '/');
    if (!slash || slash == p)
        return false;
    if (strpbrk(url, "?# \t"))
        return false;
    p = slash;
    while (*p == '/') {
        const char *next = strchr(p + 1, '/');
        size_t len = next ? (size_t)(next - p - 1) : strlen(p + 1);
        if (len == 0)
            return false;
        n++;
        if (!next)
            break;
        p = next;
    }
    return n == segments;
}

static int
url_push(struct ferry_config *cfg, const char *url, const char *source, const char *rule)
{
    struct ferry_config_url *nv, *u;

    nv = realloc(cfg->urls, (cfg->nurls + 1) * sizeof(*nv));
    if (!nv)
        return -ENOMEM;
    cfg->urls = nv;
    u = &cfg->urls[cfg->nurls];
    memset(u, 0, sizeof(*u));
    u->url = strdup(url);
    u->source = source ? strdup(source) : NULL;
    u->rule = rule ? strdup(rule) : NULL;
    if (!u->url || (source && !u->source) || (rule && !u->rule)) {
        free(u->url);
        free(u->source);
        free(u->rule);
        return -ENOMEM;
    }
    cfg->nurls++;
    return 0;
}

/* "URL SOURCE [RULE]": RULE is the rest of the line (it may hold spaces). */
static int
url_line_apply(struct ferry_config *cfg, const char *value, const char *shown, char *err,
               size_t errlen)
{
    char *copy = strdup(value), *url, *source, *rule, *p;
    int r;

    if (!copy)
        return -ENOMEM;
    p = copy;
    url = p;
    p += strcspn(p, " \t");
    if (*p)
        *p++ = '\0';
    p += strspn(p, " \t");
    source = p;
    p += strcspn(p, " \t");
    if (*p)
        *p++ = '\0';
    p += strspn(p, " \t");
    rule = *p ? p : NULL;
    if (rule) {
        size_t len = strlen(rule);
        while (len > 0 && (rule[len - 1] == ' ' || rule[len - 1] == '\t'))
            rule[--len] = '\0';
    }
    if (!url_shape_ok(url, 2)) {
        ferry_errf(err, errlen, -EINVAL,
             "invalid value '%s' for %s: expected http(s)://host:port/group/name SOURCE [RULE]",
             value, shown);
        r = -EINVAL;
        goto cleanup;
    }
    if (!*source) {
        ferry_errf(err, errlen, -EINVAL, "invalid value '%s' for %s: the source file is missing", value,
             shown);
        r = -EINVAL;
        goto cleanup;
    }
    r = url_push(cfg, url, source, rule);
cleanup:
    free(copy);
    return r;
}

/*
 * Apply one value to option `o`. `shown` is how the option is named in errors ("--workers"
 * on the command line, "workers" in a file).
 */
static int
option_apply(struct ferry_config *cfg, const struct ferry_config_option *o, const char *value,
             const char *shown, char *err, size_t errlen)
{
    void *f = field(cfg, o);
    uint64_t v;
    bool b;
    int r;

    if (!value) {
        ferry_errf(err, errlen, -EINVAL, "option %s needs a value (%s)", shown, o->arg ? o->arg : "BOOL");
        return -EINVAL;
    }
    if (has_control_char(value)) {
        ferry_errf(err, errlen, -EINVAL, "invalid value for %s: it contains a control character", shown);
        return -EINVAL;
    }

    switch (o->type) {
    case FERRY_CONFIG_STRING:
    case FERRY_CONFIG_FILE: {
        char **sp = f;
        char *copy = NULL;
        if (*value) {
            copy = strdup(value);
            if (!copy)
                return -ENOMEM;
        }
        free(*sp);
        *sp = copy;
        return 0;
    }
    case FERRY_CONFIG_CHOICE: {
        char **sp = f;
        char *copy;
        if (!choice_ok(o->choices, value)) {
            ferry_errf(err, errlen, -EINVAL, "invalid value '%s' for %s: expected one of %s", value, shown,
                 o->choices);
            return -EINVAL;
        }
        copy = strdup(value);
        if (!copy)
            return -ENOMEM;
        free(*sp);
        *sp = copy;
        return 0;
    }
    case FERRY_CONFIG_BOOL:
        if (parse_bool(value, &b) < 0) {
            ferry_errf(err, errlen, -EINVAL, "invalid value '%s' for %s: expected true or false", value, shown);
            return -EINVAL;
        }
        *(bool *)f = b;
        return 0;
    case FERRY_CONFIG_UNSIGNED:
    case FERRY_CONFIG_SIZE:
    case FERRY_CONFIG_BYTES:
        if (o->type == FERRY_CONFIG_UNSIGNED)
            r = parse_unsigned(value, &v);
        else
            r = config_parse_bytes(value, &v);
        if (r < 0 || v < o->min || v > o->max) {
            if (o->type == FERRY_CONFIG_UNSIGNED)
                ferry_errf(err, errlen, -EINVAL, "invalid value '%s' for %s: expected an integer %llu..%llu",
                     value, shown, (unsigned long long)o->min, (unsigned long long)o->max);
            else
                ferry_errf(err, errlen, -EINVAL,
                     "invalid value '%s' for %s: expected a byte count %llu..%llu "
                     "(suffixes K, M, G, T, KiB, MiB, GiB, TiB)",
                     value, shown, (unsigned long long)o->min, (unsigned long long)o->max);
            return -EINVAL;
        }
        if (o->type == FERRY_CONFIG_UNSIGNED)
            *(unsigned *)f = (unsigned)v;
        else if (o->type == FERRY_CONFIG_SIZE)
            *(size_t *)f = (size_t)v;
        else
            *(uint64_t *)f = v;
        return 0;
    case FERRY_CONFIG_STRV:
        if (!*value) {
            ferry_errf(err, errlen, -EINVAL, "invalid value '' for %s: expected %s", shown, o->arg);
            return -EINVAL;
        }
        return strv_push(f, value);
    case FERRY_CONFIG_URL_GROUP:
        if (!url_shape_ok(value, 1)) {
            ferry_errf(err, errlen, -EINVAL, "invalid value '%s' for %s: expected http(s)://host:port/name",
                 value, shown);
            return -EINVAL;
        }
        return url_push(cfg, value, NULL, NULL);
    case FERRY_CONFIG_URL:
        return url_line_apply(cfg, value, shown, err, errlen);
    }
    return -EINVAL;
}

/* Apply the defaults of n options. */
static int
defaults_apply(struct ferry_config *cfg, const struct ferry_config_option *opts, size_t n)
{
    char err[256];

    for (size_t i = 0; i < n; i++) {
        if (opts[i].def && option_apply(cfg, &opts[i], opts[i].def, opts[i].name, err,
                                        sizeof(err)) < 0)
            return -EINVAL;
    }
    return 0;
}

/* Free the values of n options stored in cfg or a section struct. */
static void
values_free(struct ferry_config *cfg, const struct ferry_config_option *opts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct ferry_config_option *o = &opts[i];
        void *f = field(cfg, o);
        switch (o->type) {
        case FERRY_CONFIG_STRING:
        case FERRY_CONFIG_CHOICE:
        case FERRY_CONFIG_FILE:
            free(*(char **)f);
            *(char **)f = NULL;
            break;
        case FERRY_CONFIG_STRV:
            strv_clear(f);
            break;
        case FERRY_CONFIG_URL_GROUP:
        case FERRY_CONFIG_URL:
            urls_clear(cfg);
            break;
        default:
            break;
        }
    }
}

/* A section's options use only the types sections may use and names not taken yet. */
static bool
section_ok(const struct ferry_config *cfg, const struct ferry_config_section *sec)
{
    if (!sec || !sec->options || sec->size == 0)
        return false;
    for (size_t i = 0; i < sec->noptions; i++) {
        const struct ferry_config_option *o = &sec->options[i];
        if (o->type > FERRY_CONFIG_BYTES || !o->name || option_find(cfg, o->name))
            return false;
        if (o->offset >= sec->size)
            return false;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(sec->options[j].name, o->name) == 0)
                return false;
        }
    }
    return true;
}

struct ferry_config *
ferry_config_new_with(const struct ferry_config_section *const *secs, size_t n)
{
    struct ferry_config *cfg;

    if (n > FERRY_CONFIG_MAX_SECTIONS || (n && !secs)) {
        errno = EINVAL;
        return NULL;
    }
    cfg = calloc(1, sizeof(*cfg));
    if (!cfg)
        return NULL;
    if (defaults_apply(cfg, config_options, config_noptions) < 0)
        goto fail;
    for (size_t s = 0; s < n; s++) {
        if (!section_ok(cfg, secs[s])) {
            ferry_config_free(cfg);
            errno = EINVAL;
            return NULL;
        }
        cfg->section_data[s] = calloc(1, secs[s]->size);
        if (!cfg->section_data[s])
            goto fail;
        cfg->sections[s] = secs[s];
        cfg->nsections = s + 1;
        if (defaults_apply(cfg, secs[s]->options, secs[s]->noptions) < 0) {
            ferry_config_free(cfg);
            errno = EINVAL;
            return NULL;
        }
    }
    return cfg;
fail:
    ferry_config_free(cfg);
    errno = ENOMEM;
    return NULL;
}

struct ferry_config *
ferry_config_new(void)
{
    return ferry_config_new_with(NULL, 0);
}

void *
ferry_config_section_data(const struct ferry_config *cfg, const struct ferry_config_section *sec)
{
    if (!cfg)
        return NULL;
    for (size_t s = 0; s < cfg->nsections; s++) {
        if (cfg->sections[s] == sec)
            return cfg->section_data[s];
    }
    return NULL;
}

struct ferry_config *
ferry_config_free(struct ferry_config *cfg)
{
    if (!cfg)
        return NULL;
    values_free(cfg, config_options, config_noptions);
    for (size_t s = 0; s < cfg->nsections; s++) {
        values_free(cfg, cfg->sections[s]->options, cfg->sections[s]->noptions);
        free(cfg->section_data[s]);
    }
    free(cfg);
    return NULL;
}

int
ferry_config_set(struct ferry_config *cfg, const char *name, const char *value, char *err,
                 size_t errlen)
{
    const struct ferry_config_option *o;
    char shown[80];

    if (!cfg)
        return -EINVAL;
    o = option_find(cfg, name);
    if (!o) {
        ferry_errf(err, errlen, -EINVAL, "unknown option '%s'", name ? name : "(null)");
        return -EINVAL;
    }
    snprintf(shown, sizeof(shown), "--%s", o->name);
    return option_apply(cfg, o, value, shown, err, errlen);
}

static char *
trim(char *s)
{
    char *end;

    s += strspn(s, " \t");
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        *--end = '\0';
    return s;
}

/* One config line (NUL-terminated, no '\n'). 0, or -EINVAL with err set (no prefix). */
static int
config_line(struct ferry_config *cfg, char *line, char *err, size_t errlen)
{
    const struct ferry_config_option *o;
    char *eq, *name, *value, *hash;

    line = trim(line);
    if (*line == '\0' || *line == '#')
        return 0;
    /* '#' after whitespace starts a comment */
    for (hash = strchr(line, '#'); hash; hash = strchr(hash + 1, '#')) {
        if (hash[-1] == ' ' || hash[-1] == '\t') {
            *hash = '\0';
            break;
        }
    }
    eq = strchr(line, '=');
    if (!eq) {
        ferry_errf(err, errlen, -EINVAL, "expected 'name = value'");
        return -EINVAL;
    }
    *eq = '\0';
    name = trim(line);
    value = trim(eq + 1);
    if (has_control_char(name)) {
        ferry_errf(err, errlen, -EINVAL, "option name contains a control character");
        return -EINVAL;
    }
    o = option_find(cfg, name);
    if (!o) {
        ferry_errf(err, errlen, -EINVAL, "unknown option '%s'", name);
        return -EINVAL;
    }
    if (o->type == FERRY_CONFIG_FILE) {
        ferry_errf(err, errlen, -EINVAL, "option '%s' is only valid on the command line", name);
        return -EINVAL;
    }
    return option_apply(cfg, o, value, name, err, errlen);
}

int
config_load_buffer(struct ferry_config *cfg, const char *fname, const char *buf, size_t len,
                   char *err, size_t errlen)
{
    char *copy, *line, *nl;
    unsigned lineno = 0;
    char msg[512];
    int r = 0;

    if (len > CONFIG_FILE_MAX) {
        ferry_errf(err, errlen, -EINVAL, "%s: larger than %d bytes", fname, CONFIG_FILE_MAX);
        return -EINVAL;
    }
    copy = malloc(len + 1);
    if (!copy)
        return -ENOMEM;
    if (len)
        memcpy(copy, buf, len);
    copy[len] = '\0';
    line = copy;
    while (line <= copy + len) {
        nl = memchr(line, '\n', (size_t)(copy + len - line));
        if (nl)
            *nl = '\0';
        lineno++;
        if (strlen(line) != (size_t)((nl ? nl : copy + len) - line)) {
            ferry_errf(err, errlen, -EINVAL, "%s:%u: NUL byte in line", fname, lineno);
            r = -EINVAL;
            break;
        }
        msg[0] = '\0';
        r = config_line(cfg, line, msg, sizeof(msg));
        if (r < 0) {
            if (r == -ENOMEM)
                ferry_errf(err, errlen, -EINVAL, "%s:%u: out of memory", fname, lineno);
            else
                ferry_errf(err, errlen, -EINVAL, "%s:%u: %s", fname, lineno, msg);
            break;
        }
        if (!nl)
            break;
        line = nl + 1;
    }
    free(copy);
    return r;
}

int
ferry_config_load_file(struct ferry_config *cfg, const char *path, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    struct stat st;
    int fd, r;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        ferry_errf(err, errlen, -EINVAL, "open('%s') failed: %s", path, strerror(errno));
        return r;
    }
    if (fstat(fd, &st) < 0) {
        r = -errno;
        ferry_errf(err, errlen, -EINVAL, "stat('%s') failed: %s", path, strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        ferry_errf(err, errlen, -EINVAL, "%s: not a regular file", path);
        r = -EINVAL;
        goto cleanup;
    }
    if (st.st_size > CONFIG_FILE_MAX) {
        ferry_errf(err, errlen, -EINVAL, "%s: larger than %d bytes", path, CONFIG_FILE_MAX);
        r = -EFBIG;
        goto cleanup;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        r = -ENOMEM;
        goto cleanup;
    }
    while (len <= (size_t)st.st_size) {
        ssize_t n = read(fd, buf + len, (size_t)st.st_size + 1 - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            ferry_errf(err, errlen, -EINVAL, "read('%s') failed: %s", path, strerror(errno));
            goto cleanup;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len > (size_t)st.st_size) {
        ferry_errf(err, errlen, -EINVAL, "%s: grew while being read", path);
        r = -EINVAL;
        goto cleanup;
    }
    r = config_load_buffer(cfg, path, buf, len, err, errlen);
cleanup:
    free(buf);
    close(fd);
    return r;
}

static void
print_wrapped_default(FILE *f, const struct ferry_config_option *o)
{
    switch (o->type) {
    case FERRY_CONFIG_STRV:
    case FERRY_CONFIG_URL_GROUP:
    case FERRY_CONFIG_URL:
        fprintf(f, " [default: none]");
        break;
    case FERRY_CONFIG_FILE:
        break;
    default:
        fprintf(f, " [default: %s]", o->def ? o->def : "unset");
        break;
    }
}

/* Help lines of n options. */
static void
help_print(FILE *f, const struct ferry_config_option *opts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct ferry_config_option *o = &opts[i];
        if (o->type == FERRY_CONFIG_BOOL)
            fprintf(f, "  --%s, --no-%s\n", o->name, o->name);
        else
            fprintf(f, "  --%s %s\n", o->name, o->arg);
        fprintf(f, "        %s", o->help);
        if (o->type == FERRY_CONFIG_CHOICE)
            fprintf(f, " (%s)", o->choices);
        print_wrapped_default(f, o);
        fputc('\n', f);
    }
}

void
ferry_config_print_help(const struct ferry_config *cfg, FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s --state-dir DIR [options]\n"
            "\n"
            "Every option can also be set in the --config file as \"name = value\" (list\n"
            "options repeat the line); flags given on the command line override the file.\n"
            "Byte counts take the suffixes K, M, G, T or KiB, MiB, GiB, TiB (powers of 1024).\n"
            "\n"
            "Options:\n",
            prog ? prog : "ferryd");
    help_print(f, config_options, config_noptions);
    for (size_t s = 0; cfg && s < cfg->nsections; s++)
        help_print(f, cfg->sections[s]->options, cfg->sections[s]->noptions);
    fprintf(f, "  --help\n        show this help and exit\n");
    fprintf(f, "  --version\n        show the version and exit\n");
}

/*
 * Split argv[i] into an option and its value: "--name=value", "--name value", "--flag",
 * "--no-flag". *ret_value may be NULL (a bool with no value). *ret_used is 2 when the
 * value was the next argument.
 */
static int
arg_split(const struct ferry_config *cfg, int argc, char **argv, int i, char *name, size_t namelen,
          const struct ferry_config_option **ret_o, const char **ret_value, int *ret_used, char *err,
          size_t errlen)
{
    const char *a = argv[i];
    const char *eq;
    const struct ferry_config_option *o;
    const char *value = NULL;
    size_t len;
    int used = 1;

    if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
        ferry_errf(err, errlen, -EINVAL, "unexpected argument '%s'", a);
        return -EINVAL;
    }
    eq = strchr(a, '=');
    len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
    if (len >= namelen) {
        ferry_errf(err, errlen, -EINVAL, "unknown option '%.*s'", (int)(len + 2), a);
        return -EINVAL;
    }
    memcpy(name, a + 2, len);
    name[len] = '\0';
    o = option_find(cfg, name);
    if (!o && strncmp(name, "no-", 3) == 0) {
        const struct ferry_config_option *neg = option_find(cfg, name + 3);
        if (neg && neg->type == FERRY_CONFIG_BOOL) {
            if (eq) {
                ferry_errf(err, errlen, -EINVAL, "option '--%s' takes no value", name);
                return -EINVAL;
            }
            *ret_o = neg;
            *ret_value = "false";
            *ret_used = 1;
            return 0;
        }
    }
    if (!o) {
        ferry_errf(err, errlen, -EINVAL, "unknown option '--%s'", name);
        return -EINVAL;
    }
    if (eq) {
        value = eq + 1;
    } else if (o->type == FERRY_CONFIG_BOOL) {
        value = "true";
    } else if (i + 1 < argc) {
        value = argv[i + 1];
        used = 2;
    } else {
        ferry_errf(err, errlen, -EINVAL, "option '--%s' needs a value (%s)", name, o->arg);
        return -EINVAL;
    }
    *ret_o = o;
    *ret_value = value;
    *ret_used = used;
    return 0;
}

static const char *
prog_name(const char *argv0)
{
    const char *slash;

    if (!argv0 || !*argv0)
        return "ferryd";
    slash = strrchr(argv0, '/');
    return slash ? slash + 1 : argv0;
}

int
ferry_config_parse_args(struct ferry_config *cfg, int argc, char **argv, char *err,
                        size_t errlen)
{
    const char *prog = prog_name(argc > 0 ? argv[0] : NULL);
    const char *config_path = NULL;
    bool list_seen[sizeof(config_options) / sizeof(config_options[0])] = {false};
    bool urls_seen = false;
    char name[128];
    int r;

    if (!cfg)
        return -EINVAL;
    /* Pass 1: --help / --version win over everything; find --config. */
    for (int i = 1; i < argc;) {
        const struct ferry_config_option *o;
        const char *value;
        int used;

        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            ferry_config_print_help(cfg, stdout, prog);
            return 1;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("%s %s\n", prog, FERRY_VERSION);
            return 1;
        }
        r = arg_split(cfg, argc, argv, i, name, sizeof(name), &o, &value, &used, err, errlen);
        if (r < 0)
            return r;
        if (o->type == FERRY_CONFIG_FILE)
            config_path = value;
        i += used;
    }
    if (config_path) {
        if (!*config_path) {
            ferry_errf(err, errlen, -EINVAL, "option '--config' needs a value (FILE)");
            return -EINVAL;
        }
        r = ferry_config_load_file(cfg, config_path, err, errlen);
        if (r < 0)
            return r == -ENOMEM ? r : -EINVAL;
    }
    /* Pass 2: flags override the file; the first occurrence of a list option on the
     * command line replaces the file's list. */
    for (int i = 1; i < argc;) {
        const struct ferry_config_option *o;
        const char *value;
        char shown[140];
        int used;

        r = arg_split(cfg, argc, argv, i, name, sizeof(name), &o, &value, &used, err, errlen);
        if (r < 0)
            return r;
        if (o->type == FERRY_CONFIG_STRV && !list_seen[o - config_options]) {
            strv_clear(field(cfg, o));
            list_seen[o - config_options] = true;
        }
        if ((o->type == FERRY_CONFIG_URL || o->type == FERRY_CONFIG_URL_GROUP) && !urls_seen) {
            urls_clear(cfg);
            urls_seen = true;
        }
        snprintf(shown, sizeof(shown), "--%s", o->name);
        r = option_apply(cfg, o, value, shown, err, errlen);
        if (r < 0)
            return r;
        i += used;
    }
    if (!cfg->state_dir) {
        ferry_errf(err, errlen, -EINVAL, "missing required option --state-dir");
        return -EINVAL;
    }
    if (!cfg->cert_store_dir) {
        if (asprintf(&cfg->cert_store_dir, "%s/certs", cfg->state_dir) < 0) {
            cfg->cert_store_dir = NULL;
            return -ENOMEM;
        }
    }
    return 0;
}
