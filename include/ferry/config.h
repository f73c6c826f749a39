/*
 * ferry/config.h - ferryd's configuration: one table of options drives the defaults, the
 * config file, the command-line flags and `--help`.
 *
 * Config file syntax: one "name = value" per line, names as the long flags without "--"
 * (e.g. "download-root = /srv/in"), '#' starts a comment, list options repeat the line.
 * Command-line flags override the file; `--config FILE` is read before the other flags.
 * Every peer-controlled quantity has a limit here (STYLE: limits are configuration).
 *
 * The engine's own options live in struct ferry_config. A layer above the engine (the
 * WS-Man control plane) declares its options in a struct ferry_config_section and passes
 * it to ferry_config_new_with(): its values then live in a struct of the layer's own,
 * reached with ferry_config_section_data(), and they are set, read from the file, parsed
 * from argv and listed by --help exactly like the engine's.
 */
#ifndef FERRY_CONFIG_H
#define FERRY_CONFIG_H

#include <stdio.h>
#include "ferry/common.h"

/* How an option's value is parsed and stored. */
enum ferry_config_type {
    FERRY_CONFIG_STRING,    /* char *; "" unsets */
    FERRY_CONFIG_CHOICE,    /* char *, one of the '|'-separated words in `choices` */
    FERRY_CONFIG_BOOL,      /* bool: true/false, yes/no, on/off, 1/0 */
    FERRY_CONFIG_UNSIGNED,  /* unsigned, decimal, within [min, max] */
    FERRY_CONFIG_SIZE,      /* size_t byte count with K/M/G/T or KiB/MiB/GiB/TiB */
    FERRY_CONFIG_BYTES,     /* uint64_t byte count, same syntax as FERRY_CONFIG_SIZE */
    FERRY_CONFIG_STRV,      /* struct ferry_strv: each occurrence appends (core only) */
    FERRY_CONFIG_URL_GROUP, /* "url-group = PREFIX": appends to cfg->urls (core only) */
    FERRY_CONFIG_URL,       /* "url = FULLURL SOURCE [RULE]": appends to cfg->urls (core) */
    FERRY_CONFIG_FILE,      /* --config: command line only (core only) */
};

/* One option: its name is the long flag without "--" and the config file key. */
struct ferry_config_option {
    const char *name;
    const char *arg;     /* argument name shown by --help (NULL for bools) */
    enum ferry_config_type type;
    const char *def;     /* default, parsed like a user value; NULL = unset/empty */
    const char *help;    /* one line */
    size_t offset;       /* field in struct ferry_config, or in the section's struct */
    uint64_t min, max;   /* range of numeric types */
    const char *choices; /* FERRY_CONFIG_CHOICE: "a|b|c" */
};

/* Options of a layer above the engine, stored in a struct of `size` bytes that the config
 * allocates (zeroed, then defaults applied) and frees (strings included). Sections may use
 * the types STRING, CHOICE, BOOL, UNSIGNED, SIZE and BYTES; names must not repeat the
 * engine's or another section's. */
struct ferry_config_section {
    const char *name;                          /* "wsman": for messages */
    const struct ferry_config_option *options;
    size_t noptions;
    size_t size;
};

#define FERRY_CONFIG_MAX_SECTIONS 4

struct ferry_strv {
    char **v;
    size_t n;
};

/* A URL group or URL declared in the config file ("url-group = PREFIX",
 * "url = PREFIX/SUFFIX SOURCE [RULE]"). */
struct ferry_config_url {
    char *url;    /* full URL: group prefix + "/" + suffix */
    char *source; /* source file path */
    char *rule;   /* access rule (SDDL or ferry syntax), NULL = anonymous */
};

struct ferry_config {
    /* general */
    char *state_dir;            /* --state-dir (required) */
    char *config_file;          /* --config */
    char *log_level;            /* --log-level: error|warn|info|debug (default info) */
    unsigned workers;           /* --workers: data-plane threads (default: online CPUs) */

    /* TLS and authentication (both listeners' roles) */
    char *tls_cert;             /* --tls-cert: default certificate (PEM) for https */
    char *tls_key;              /* --tls-key */
    char *tls_client_ca;        /* --tls-client-ca: CA file for client certificates */
    char *cert_store_dir;       /* --cert-store-dir: SetSslCertificate / client cert stores
                                   (default STATE/certs; store name = subdirectory) */
    bool allow_basic_over_http; /* --allow-basic-over-http: Basic from non-loopback on http */
    unsigned auth_fail_limit;   /* --auth-fail-limit: failures per address before backoff (10) */
    unsigned auth_verify_threads; /* --auth-verify-threads: PBKDF2 threads (2) */
    unsigned auth_verify_queue;   /* --auth-verify-queue: checks waiting, then 503 (64) */
    unsigned auth_tarpit_rate;    /* --auth-tarpit-rate: 401s a prefix gets at once a second
                                     before they are held (16; 0 = never held) */
    unsigned auth_tarpit_max;     /* --auth-tarpit-max: connections held at once per HTTP
                                     server (512) */

    /* HTTP core limits (both listeners) */
    size_t http_max_header_bytes;  /* --http-max-header-bytes (16384) */
    unsigned http_max_headers;     /* --http-max-headers (64) */
    size_t http_max_body_bytes;    /* --http-max-body-bytes for non-WS-Man requests (0: none) */
    unsigned http_header_timeout;  /* --http-header-timeout: s to receive a whole head (10) */
    unsigned http_idle_timeout;    /* --http-idle-timeout: keep-alive idle s (60) */
    unsigned http_body_timeout;    /* --http-body-timeout: s to receive a whole body (30) */
    unsigned http_max_connections; /* --http-max-connections per ferryd (20000) */

    /* server role */
    struct ferry_strv publish_roots;   /* --publish-root DIR (repeatable) */
    struct ferry_config_url *urls;     /* "url-group" / "url" lines of the config file */
    size_t nurls;
    char *send_backend;                /* --send-backend sendfile|splice (default sendfile) */
    uint64_t send_lowat;               /* --send-lowat: TCP_NOTSENT_LOWAT of data-plane
                                          sockets (64 KiB; 0 = not set) */
    uint64_t manifest_chunk_size;      /* --manifest-chunk-size (4 MiB) */
    bool manifest_sha256;              /* --manifest-sha256: add SHA-256 pieces to Metalink */
    unsigned server_max_groups;        /* --max-url-groups (64) */
    unsigned server_max_urls;          /* --max-urls (4096) */
    char *upload_root;                 /* --upload-root: group uploads in DIR/NAME (NULL) */
    uint64_t upload_fragment_max;      /* --upload-fragment-max: request body cap (8 MiB) */
    char *upload_notify_url;           /* --upload-notify-url: replies of upload-reply (NULL) */
    unsigned upload_session_timeout;   /* --upload-session-timeout: s without a packet before
                                          a session is removed (1209600 = 14 days) */

    /* client role */
    struct ferry_strv download_roots;  /* --download-root DIR (repeatable) */
    unsigned max_jobs;                 /* --max-jobs per machine (300) */
    unsigned max_files_per_job;        /* --max-files-per-job (1000) */
    unsigned max_ranges_per_file;      /* --max-ranges-per-file (500) */
    unsigned connections_per_file;     /* --connections-per-file (4) */
    unsigned fetch_threads;            /* --fetch-threads io_uring rings (1; 0: libcurl only) */
    char *fetch_splice;                /* --fetch-splice auto|on|off (auto: not on tmpfs) */
    uint64_t fetch_chunk_size;         /* --fetch-chunk-size when no manifest (4 MiB) */
    uint64_t bandwidth_limit;          /* --bandwidth-limit bytes/s for all jobs (0: none) */
    unsigned progress_interval_ms;     /* --progress-interval: commit period, ms (1000) */
    unsigned max_active_jobs;          /* --max-active-jobs transferring at once (4) */
    unsigned retry_delay_min;          /* --min-retry-delay floor, s (5) */
    unsigned connect_timeout;          /* --connect-timeout, s (30) */
    unsigned stall_timeout;            /* --stall-timeout: no bytes for s -> transient (60) */
    char *notify_user;                 /* --notify-user: commands run as it when ferryd is
                                          root (default ferry; never root) */
    unsigned notify_timeout;           /* --notify-timeout: s a command or POST may take (30) */
    unsigned notify_queue;             /* --notify-queue: notifications waiting (64) */
    unsigned notify_max_running;       /* --notify-max-running: commands / POSTs at once (4) */
    unsigned job_inactivity_timeout;   /* --job-inactivity-timeout: a new job's
                                          JobInactivityTimeout, s (7776000 = 90 days; 0 never) */

    /* sections of the layers above (ferry_config_new_with) and their structs */
    const struct ferry_config_section *sections[FERRY_CONFIG_MAX_SECTIONS];
    void *section_data[FERRY_CONFIG_MAX_SECTIONS];
    size_t nsections;
};

/* A config with every default set; NULL on OOM. */
FERRY_API struct ferry_config *ferry_config_new(void);
/* The same with the options of `n` sections added (n <= FERRY_CONFIG_MAX_SECTIONS). NULL on
 * OOM or, with errno EINVAL, when a section is malformed (a type sections may not use, a
 * name already taken, a bad default). */
FERRY_API struct ferry_config *ferry_config_new_with(const struct ferry_config_section *const *secs,
                                                     size_t n);
/* The struct holding `sec`'s values, or NULL when cfg was made without it. */
FERRY_API void *ferry_config_section_data(const struct ferry_config *cfg,
                                          const struct ferry_config_section *sec);
FERRY_API struct ferry_config *ferry_config_free(struct ferry_config *cfg);

/* Set one option by name ("download-root", "workers", ...). Lists append. On failure
 * returns -EINVAL (unknown name or bad value) with a message in err. */
FERRY_API int ferry_config_set(struct ferry_config *cfg, const char *name, const char *value,
                               char *err, size_t errlen);
/* Read a config file. -errno on I/O errors, -EINVAL on a bad line ("FILE:LINE: ..." in err). */
FERRY_API int ferry_config_load_file(struct ferry_config *cfg, const char *path, char *err,
                                     size_t errlen);
/* Parse ferryd's argv (after loading --config if present). Returns 0, 1 when --help or
 * --version was printed (caller exits 0), -EINVAL with err set otherwise. Also checks
 * required options (state-dir). */
FERRY_API int ferry_config_parse_args(struct ferry_config *cfg, int argc, char **argv,
                                      char *err, size_t errlen);
/* Print the option table (every option of the engine and of cfg's sections, its argument,
 * default and meaning). cfg may be NULL: the engine's options only. */
FERRY_API void ferry_config_print_help(const struct ferry_config *cfg, FILE *f,
                                       const char *prog);

#endif
