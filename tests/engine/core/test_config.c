/*
 * tests/engine/core/test_config.c - engine/core/config.c: defaults, every option type,
 * byte suffixes and overflow, config file + flags precedence, --help completeness, errors
 * with line numbers, url-group/url lines.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config-internal.h"
#include "ferry-test.h"
#include "ferry/config.h"

static char *tmp;

/* A section as a layer above the engine registers one (control/wsman has the real one):
 * the same names, so these tests also pin how such options behave. */
struct probe {
    char *listen, *tls_listen;
    bool anonymous_identify, metrics;
    size_t max_envelope;
    unsigned enum_ttl, max_enums;
};

#define PO(f) offsetof(struct probe, f)
static const struct ferry_config_option probe_options[] = {
    {"wsman-listen", "ADDR:PORT", FERRY_CONFIG_STRING, "127.0.0.1:5985", "a listener",
     PO(listen), 0, 0, NULL},
    {"wsman-tls-listen", "ADDR:PORT", FERRY_CONFIG_STRING, NULL, "another listener",
     PO(tls_listen), 0, 0, NULL},
    {"anonymous-identify", NULL, FERRY_CONFIG_BOOL, "true", "a flag on by default",
     PO(anonymous_identify), 0, 0, NULL},
    {"wsman-max-envelope", "BYTES", FERRY_CONFIG_SIZE, "512000", "a size",
     PO(max_envelope), 8 * 1024, 64 * 1024 * 1024, NULL},
    {"wsman-enum-ttl", "SECONDS", FERRY_CONFIG_UNSIGNED, "240", "a number from 1",
     PO(enum_ttl), 1, 86400, NULL},
    {"wsman-max-enums", "N", FERRY_CONFIG_UNSIGNED, "1024", "a count", PO(max_enums), 1,
     1000000, NULL},
    {"metrics", NULL, FERRY_CONFIG_BOOL, "false", "a flag off by default", PO(metrics), 0, 0,
     NULL},
};
static const struct ferry_config_section probe_section = {
    "probe", probe_options, sizeof(probe_options) / sizeof(probe_options[0]),
    sizeof(struct probe)};
static const struct ferry_config_section *const probe_sections[] = {&probe_section};

static struct ferry_config *
cfg_new(void)
{
    return ferry_config_new_with(probe_sections, 1);
}

static struct probe *
P(struct ferry_config *cfg)
{
    struct probe *p = ferry_config_section_data(cfg, &probe_section);
    ck_assert_ptr_nonnull(p);
    return p;
}

static void
setup(void)
{
    tmp = ft_tmpdir_new("config");
    ck_assert_ptr_nonnull(tmp);
}

static void
teardown(void)
{
    tmp = ft_tmpdir_free(tmp);
}

static char *
write_conf(const char *name, const char *text)
{
    char *path = NULL;

    ck_assert_int_ge(asprintf(&path, "%s/%s", tmp, name), 0);
    ck_assert_int_eq(ft_write_file(path, text, strlen(text)), 0);
    return path;
}

/* Run ferry_config_parse_args on a NULL-terminated list (argv[0] = "ferryd"). */
static int
parse(struct ferry_config *cfg, char *err, size_t errlen, ...)
{
    char *argv[64];
    int argc = 0;
    va_list ap;
    const char *a;

    argv[argc++] = (char *)"/usr/sbin/ferryd";
    va_start(ap, errlen);
    while ((a = va_arg(ap, const char *)) != NULL && argc < 63)
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    err[0] = '\0';
    return ferry_config_parse_args(cfg, argc, argv, err, errlen);
}

START_TEST(test_defaults)
{
    struct ferry_config *cfg = cfg_new();

    ck_assert_ptr_nonnull(cfg);
    ck_assert_ptr_null(cfg->state_dir);
    ck_assert_ptr_null(cfg->config_file);
    ck_assert_str_eq(cfg->log_level, "info");
    ck_assert_uint_eq(cfg->workers, 0);
    ck_assert_str_eq(P(cfg)->listen, "127.0.0.1:5985");
    ck_assert_ptr_null(P(cfg)->tls_listen);
    ck_assert_ptr_null(cfg->tls_cert);
    ck_assert_ptr_null(cfg->cert_store_dir);
    ck_assert(!cfg->allow_basic_over_http);
    ck_assert(P(cfg)->anonymous_identify);
    ck_assert_uint_eq(P(cfg)->max_envelope, 512000);
    ck_assert_uint_eq(P(cfg)->enum_ttl, 240);
    ck_assert_uint_eq(P(cfg)->max_enums, 1024);
    ck_assert_uint_eq(cfg->auth_fail_limit, 10);
    ck_assert_uint_eq(cfg->http_max_header_bytes, 16384);
    ck_assert_uint_eq(cfg->http_max_headers, 64);
    ck_assert_uint_eq(cfg->http_max_body_bytes, 0);
    ck_assert_uint_eq(cfg->http_header_timeout, 10);
    ck_assert_uint_eq(cfg->http_idle_timeout, 60);
    ck_assert_uint_eq(cfg->http_max_connections, 20000);
    ck_assert_uint_eq(cfg->publish_roots.n, 0);
    ck_assert_uint_eq(cfg->nurls, 0);
    ck_assert_str_eq(cfg->send_backend, "sendfile");
    ck_assert_uint_eq(cfg->manifest_chunk_size, 4 * 1024 * 1024);
    ck_assert(!cfg->manifest_sha256);
    ck_assert_uint_eq(cfg->server_max_groups, 64);
    ck_assert_uint_eq(cfg->server_max_urls, 4096);
    ck_assert_uint_eq(cfg->download_roots.n, 0);
    ck_assert_uint_eq(cfg->max_jobs, 300);
    ck_assert_uint_eq(cfg->max_files_per_job, 1000);
    ck_assert_uint_eq(cfg->max_ranges_per_file, 500);
    ck_assert_uint_eq(cfg->connections_per_file, 4);
    ck_assert_uint_eq(cfg->fetch_threads, 1);
    ck_assert_uint_eq(cfg->fetch_chunk_size, 4 * 1024 * 1024);
    ck_assert_uint_eq(cfg->bandwidth_limit, 0);
    ck_assert_uint_eq(cfg->progress_interval_ms, 1000);
    ck_assert_uint_eq(cfg->max_active_jobs, 4);
    ck_assert_uint_eq(cfg->retry_delay_min, 5);
    ck_assert_uint_eq(cfg->connect_timeout, 30);
    ck_assert_uint_eq(cfg->stall_timeout, 60);
    ck_assert(!P(cfg)->metrics);
    ck_assert_ptr_null(ferry_config_free(cfg));
    ck_assert_ptr_null(ferry_config_free(NULL));
}
END_TEST

/* Every table default parses and every numeric default lies in its own range. */
START_TEST(test_table_consistent)
{
    ck_assert_uint_ge(config_noptions, 40);
    for (size_t i = 0; i < config_noptions; i++) {
        const struct ferry_config_option *o = &config_options[i];
        ck_assert_ptr_nonnull(o->help);
        ck_assert_ptr_eq(config_option_find(o->name), o);
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(config_options[j].name, o->name);
        if (o->type != FERRY_CONFIG_BOOL)
            ck_assert_msg(o->arg != NULL, "option %s lacks an argument name", o->name);
        if (o->type == FERRY_CONFIG_CHOICE)
            ck_assert_ptr_nonnull(o->choices);
    }
    ck_assert_ptr_null(config_option_find("no-such-option"));
}
END_TEST

START_TEST(test_types)
{
    struct ferry_config *cfg = cfg_new();
    char err[256];

    /* string, and "" unsets */
    ck_assert_int_eq(ferry_config_set(cfg, "tls-cert", "/etc/ferry/c.pem", err, sizeof(err)), 0);
    ck_assert_str_eq(cfg->tls_cert, "/etc/ferry/c.pem");
    ck_assert_int_eq(ferry_config_set(cfg, "tls-cert", "", err, sizeof(err)), 0);
    ck_assert_ptr_null(cfg->tls_cert);
    /* choice */
    ck_assert_int_eq(ferry_config_set(cfg, "log-level", "debug", err, sizeof(err)), 0);
    ck_assert_str_eq(cfg->log_level, "debug");
    ck_assert_int_eq(ferry_config_set(cfg, "log-level", "loud", err, sizeof(err)), -EINVAL);
    ck_assert_str_eq(err, "invalid value 'loud' for --log-level: expected one of "
                          "error|warn|info|debug");
    ck_assert_str_eq(cfg->log_level, "debug");
    ck_assert_int_eq(ferry_config_set(cfg, "send-backend", "splice", err, sizeof(err)), 0);
    ck_assert_str_eq(cfg->send_backend, "splice");
    ck_assert_int_eq(ferry_config_set(cfg, "send-backend", "splic", err, sizeof(err)), -EINVAL);
    ck_assert_int_eq(ferry_config_set(cfg, "send-backend", "", err, sizeof(err)), -EINVAL);
    /* bool spellings */
    const char *yes[] = {"true", "yes", "on", "1", "TRUE"};
    const char *no[] = {"false", "no", "off", "0", "False"};
    for (size_t i = 0; i < 5; i++) {
        ck_assert_int_eq(ferry_config_set(cfg, "metrics", yes[i], err, sizeof(err)), 0);
        ck_assert(P(cfg)->metrics);
        ck_assert_int_eq(ferry_config_set(cfg, "metrics", no[i], err, sizeof(err)), 0);
        ck_assert(!P(cfg)->metrics);
    }
    ck_assert_int_eq(ferry_config_set(cfg, "metrics", "maybe", err, sizeof(err)), -EINVAL);
    ck_assert_str_eq(err, "invalid value 'maybe' for --metrics: expected true or false");
    /* unsigned with range */
    ck_assert_int_eq(ferry_config_set(cfg, "workers", "8", err, sizeof(err)), 0);
    ck_assert_uint_eq(cfg->workers, 8);
    ck_assert_int_eq(ferry_config_set(cfg, "workers", "abc", err, sizeof(err)), -EINVAL);
    ck_assert_str_eq(err, "invalid value 'abc' for --workers: expected an integer 0..256");
    ck_assert_int_eq(ferry_config_set(cfg, "workers", "257", err, sizeof(err)), -EINVAL);
    ck_assert_int_eq(ferry_config_set(cfg, "workers", "-1", err, sizeof(err)), -EINVAL);
    ck_assert_int_eq(ferry_config_set(cfg, "workers", "+3", err, sizeof(err)), -EINVAL);
    ck_assert_int_eq(ferry_config_set(cfg, "workers", "3 ", err, sizeof(err)), -EINVAL);
    ck_assert_int_eq(ferry_config_set(cfg, "workers", "0x10", err, sizeof(err)), -EINVAL);
    ck_assert_int_eq(ferry_config_set(cfg, "workers", "", err, sizeof(err)), -EINVAL);
    ck_assert_uint_eq(cfg->workers, 8);
    ck_assert_int_eq(ferry_config_set(cfg, "wsman-enum-ttl", "0", err, sizeof(err)), -EINVAL);
    ck_assert_int_eq(ferry_config_set(cfg, "http-max-connections", "4294967297", err,
                                      sizeof(err)),
                     -EINVAL);
    ck_assert_uint_eq(cfg->http_max_connections, 20000);
    /* size_t and uint64 byte counts */
    ck_assert_int_eq(ferry_config_set(cfg, "wsman-max-envelope", "1MiB", err, sizeof(err)), 0);
    ck_assert_uint_eq(P(cfg)->max_envelope, 1048576);
    ck_assert_int_eq(ferry_config_set(cfg, "wsman-max-envelope", "1K", err, sizeof(err)),
                     -EINVAL); /* below 8 KiB */
    ck_assert_int_eq(ferry_config_set(cfg, "bandwidth-limit", "10M", err, sizeof(err)), 0);
    ck_assert_uint_eq(cfg->bandwidth_limit, 10485760);
    ck_assert_int_eq(ferry_config_set(cfg, "manifest-chunk-size", "16MiB", err, sizeof(err)),
                     0);
    ck_assert_uint_eq(cfg->manifest_chunk_size, 16777216);
    ck_assert_int_eq(ferry_config_set(cfg, "manifest-chunk-size", "2GiB", err, sizeof(err)),
                     -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "expected a byte count 65536..1073741824"));
    /* string lists append */
    ck_assert_int_eq(ferry_config_set(cfg, "download-root", "/srv/a", err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_config_set(cfg, "download-root", "/srv/b", err, sizeof(err)), 0);
    ck_assert_uint_eq(cfg->download_roots.n, 2);
    ck_assert_str_eq(cfg->download_roots.v[0], "/srv/a");
    ck_assert_str_eq(cfg->download_roots.v[1], "/srv/b");
    ck_assert_ptr_null(cfg->download_roots.v[2]);
    ck_assert_int_eq(ferry_config_set(cfg, "download-root", "", err, sizeof(err)), -EINVAL);
    /* unknown names, NULL values */
    ck_assert_int_eq(ferry_config_set(cfg, "bogus", "1", err, sizeof(err)), -EINVAL);
    ck_assert_str_eq(err, "unknown option 'bogus'");
    ck_assert_int_eq(ferry_config_set(cfg, "workers", NULL, err, sizeof(err)), -EINVAL);
    ferry_config_free(cfg);
}
END_TEST

START_TEST(test_bytes)
{
    struct {
        const char *s;
        int r;
        uint64_t v;
    } cases[] = {
        {"0", 0, 0},
        {"512000", 0, 512000},
        {"16K", 0, 16384},
        {"16KiB", 0, 16384},
        {"4M", 0, 4194304},
        {"4MiB", 0, 4194304},
        {"2G", 0, 2147483648ULL},
        {"2GiB", 0, 2147483648ULL},
        {"3T", 0, 3298534883328ULL},
        {"1TiB", 0, 1099511627776ULL},
        {"18446744073709551615", 0, UINT64_MAX},
        {"18446744073709551616", -ERANGE, 0},
        {"17179869184G", -ERANGE, 0},
        {"16777216T", -ERANGE, 0},
        {"16777215T", 0, 16777215ULL * 1099511627776ULL},
        {"4KB", -EINVAL, 0},
        {"4k", -EINVAL, 0},
        {"4 K", -EINVAL, 0},
        {"K", -EINVAL, 0},
        {"", -EINVAL, 0},
        {"-1", -EINVAL, 0},
        {" 1", -EINVAL, 0},
        {"1.5M", -EINVAL, 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 12345;
        int r = config_parse_bytes(cases[i].s, &v);
        ck_assert_msg(r == cases[i].r, "'%s': got %d, want %d", cases[i].s, r, cases[i].r);
        if (r == 0)
            ck_assert_uint_eq(v, cases[i].v);
        else
            ck_assert_uint_eq(v, 12345);
    }
}
END_TEST

START_TEST(test_control_chars)
{
    struct ferry_config *cfg = cfg_new();
    char err[256];

    ck_assert_int_eq(ferry_config_set(cfg, "tls-cert", "/a\nb", err, sizeof(err)), -EINVAL);
    ck_assert_str_eq(err, "invalid value for --tls-cert: it contains a control character");
    ck_assert_int_eq(ferry_config_set(cfg, "publish-root", "/a\tb", err, sizeof(err)), -EINVAL);
    ck_assert_int_eq(ferry_config_set(cfg, "state-dir", "/x\x7f", err, sizeof(err)), -EINVAL);
    ck_assert_int_eq(ferry_config_set(cfg, "url-group", "http://h:1/g\x1b", err, sizeof(err)),
                     -EINVAL);
    ck_assert_ptr_null(cfg->tls_cert);
    ck_assert_uint_eq(cfg->publish_roots.n, 0);
    ck_assert_uint_eq(cfg->nurls, 0);
    ferry_config_free(cfg);
}
END_TEST

START_TEST(test_urls)
{
    struct ferry_config *cfg = cfg_new();
    char err[256];

    ck_assert_int_eq(ferry_config_set(cfg, "url-group", "http://+:8080/images", err,
                                      sizeof(err)),
                     0);
    ck_assert_int_eq(ferry_config_set(cfg, "url", "http://+:8080/images/disk.qcow2  /srv/d.qcow2",
                                      err, sizeof(err)),
                     0);
    ck_assert_int_eq(ferry_config_set(cfg, "url",
                                      "https://127.0.0.1:8443/sets/a.bin /srv/a.bin "
                                      "D:(A;;GA;;;AU) ",
                                      err, sizeof(err)),
                     0);
    ck_assert_uint_eq(cfg->nurls, 3);
    ck_assert_str_eq(cfg->urls[0].url, "http://+:8080/images");
    ck_assert_ptr_null(cfg->urls[0].source);
    ck_assert_ptr_null(cfg->urls[0].rule);
    ck_assert_str_eq(cfg->urls[1].url, "http://+:8080/images/disk.qcow2");
    ck_assert_str_eq(cfg->urls[1].source, "/srv/d.qcow2");
    ck_assert_ptr_null(cfg->urls[1].rule);
    ck_assert_str_eq(cfg->urls[2].url, "https://127.0.0.1:8443/sets/a.bin");
    ck_assert_str_eq(cfg->urls[2].source, "/srv/a.bin");
    ck_assert_str_eq(cfg->urls[2].rule, "D:(A;;GA;;;AU)");

    const char *bad_groups[] = {"ftp://h/g", "http://h", "http://h/", "http://h/a/b",
                                "http:///g", "http://h/g?x=1", "http://h//g"};
    for (size_t i = 0; i < sizeof(bad_groups) / sizeof(bad_groups[0]); i++)
        ck_assert_msg(ferry_config_set(cfg, "url-group", bad_groups[i], err, sizeof(err)) ==
                          -EINVAL,
                      "url-group '%s' accepted", bad_groups[i]);
    const char *bad_urls[] = {"http://h:1/g/f",          /* no source */
                              "http://h:1/g /srv/x",     /* group only */
                              "http://h:1/g/f/x /srv/x", /* two levels below the group */
                              "/srv/x http://h:1/g/f", "", "http://h:1/g/f#frag /srv/x"};
    for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++)
        ck_assert_msg(ferry_config_set(cfg, "url", bad_urls[i], err, sizeof(err)) == -EINVAL,
                      "url '%s' accepted", bad_urls[i]);
    ck_assert_int_eq(ferry_config_set(cfg, "url", "http://h:1/g/f", err, sizeof(err)), -EINVAL);
    ck_assert_str_eq(err, "invalid value 'http://h:1/g/f' for --url: the source file is missing");
    ck_assert_uint_eq(cfg->nurls, 3);
    ferry_config_free(cfg);
}
END_TEST

START_TEST(test_file)
{
    struct ferry_config *cfg = cfg_new();
    char err[256];
    char *path = write_conf("ferryd.conf",
                            "# ferryd test configuration\n"
                            "\n"
                            "state-dir = /var/lib/ferry\n"
                            "   workers=3   \r\n"
                            "publish-root = /srv/pub   # inline comment\n"
                            "publish-root = /srv/pub2\n"
                            "\t# indented comment\n"
                            "metrics = yes\n"
                            "url-group = http://+:8080/images\n"
                            "url = http://+:8080/images/disk.img /srv/pub/disk.img alice,bob\n"
                            "log-level = warn");

    ck_assert_int_eq(ferry_config_load_file(cfg, path, err, sizeof(err)), 0);
    ck_assert_str_eq(cfg->state_dir, "/var/lib/ferry");
    ck_assert_uint_eq(cfg->workers, 3);
    ck_assert_uint_eq(cfg->publish_roots.n, 2);
    ck_assert_str_eq(cfg->publish_roots.v[0], "/srv/pub");
    ck_assert_str_eq(cfg->publish_roots.v[1], "/srv/pub2");
    ck_assert(P(cfg)->metrics);
    ck_assert_str_eq(cfg->log_level, "warn");
    ck_assert_uint_eq(cfg->nurls, 2);
    ck_assert_str_eq(cfg->urls[1].rule, "alice,bob");
    ferry_config_free(cfg);
    free(path);

    cfg = cfg_new();
    ck_assert_int_eq(ferry_config_load_file(cfg, "/nonexistent/ferryd.conf", err, sizeof(err)),
                     -ENOENT);
    ck_assert_ptr_nonnull(strstr(err, "open('/nonexistent/ferryd.conf') failed"));
    ck_assert_int_eq(ferry_config_load_file(cfg, tmp, err, sizeof(err)), -EINVAL);
    ferry_config_free(cfg);
}
END_TEST

START_TEST(test_file_errors)
{
    struct {
        const char *text;
        const char *msg; /* after "PATH:" */
    } cases[] = {
        {"workers = 2\n\nbogus = 1\n", "3: unknown option 'bogus'"},
        {"# c\nworkers = lots\n", "2: invalid value 'lots' for workers: expected an integer "
                                  "0..256"},
        {"workers\n", "1: expected 'name = value'"},
        {"\n\n\n\nconfig = /etc/x\n", "5: option 'config' is only valid on the command line"},
        {"metrics = \n", "1: invalid value '' for metrics: expected true or false"},
        {"workers = 1\nstate-dir = /a\x01b\n",
         "2: invalid value for state-dir: it contains a control character"},
        {"url = http://h:1/g/f\n", "1: invalid value 'http://h:1/g/f' for url: the source file "
                                   "is missing"},
        {"--workers = 2\n", "1: unknown option '--workers'"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ferry_config *cfg = cfg_new();
        char err[256], want[512];
        char *path = write_conf("bad.conf", cases[i].text);
        ck_assert_int_eq(ferry_config_load_file(cfg, path, err, sizeof(err)), -EINVAL);
        snprintf(want, sizeof(want), "%s:%s", path, cases[i].msg);
        ck_assert_str_eq(err, want);
        free(path);
        ferry_config_free(cfg);
    }

    /* NUL byte inside a line, via the buffer entry point */
    struct ferry_config *cfg = cfg_new();
    char err[256];
    ck_assert_int_eq(config_load_buffer(cfg, "mem", "workers = 1\nwor\0kers = 2\n", 25, err,
                                        sizeof(err)),
                     -EINVAL);
    ck_assert_str_eq(err, "mem:2: NUL byte in line");
    ck_assert_uint_eq(cfg->workers, 1);
    ferry_config_free(cfg);
}
END_TEST

START_TEST(test_args)
{
    struct ferry_config *cfg = cfg_new();
    char err[256];

    ck_assert_int_eq(parse(cfg, err, sizeof(err), "--state-dir", "/var/lib/ferry",
                           "--workers=7", "--metrics", "--no-anonymous-identify",
                           "--manifest-sha256=false", "--download-root", "/in",
                           "--download-root=/in2", "--bandwidth-limit", "1G", NULL),
                     0);
    ck_assert_str_eq(cfg->state_dir, "/var/lib/ferry");
    ck_assert_uint_eq(cfg->workers, 7);
    ck_assert(P(cfg)->metrics);
    ck_assert(!P(cfg)->anonymous_identify);
    ck_assert(!cfg->manifest_sha256);
    ck_assert_uint_eq(cfg->download_roots.n, 2);
    ck_assert_str_eq(cfg->download_roots.v[1], "/in2");
    ck_assert_uint_eq(cfg->bandwidth_limit, 1073741824ULL);
    ck_assert_str_eq(cfg->cert_store_dir, "/var/lib/ferry/certs");
    ferry_config_free(cfg);

    struct {
        const char *a, *b;
        const char *msg;
    } bad[] = {
        {"--x", NULL, "unknown option '--x'"},
        {"--workers", "abc", "invalid value 'abc' for --workers: expected an integer 0..256"},
        {"--workers", NULL, "option '--workers' needs a value (N)"},
        {"stray", NULL, "unexpected argument 'stray'"},
        {"-v", NULL, "unexpected argument '-v'"},
        {"--", NULL, "unexpected argument '--'"},
        {"--no-workers", NULL, "unknown option '--no-workers'"},
        {"--no-metrics=1", NULL, "option '--no-metrics' takes no value"},
        {"--metrics=perhaps", NULL, "invalid value 'perhaps' for --metrics: expected true or "
                                    "false"},
        {"--config", "", "option '--config' needs a value (FILE)"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cfg = cfg_new();
        ck_assert_int_eq(parse(cfg, err, sizeof(err), "--state-dir", "/s", bad[i].a, bad[i].b,
                               NULL),
                         -EINVAL);
        ck_assert_str_eq(err, bad[i].msg);
        ferry_config_free(cfg);
    }

    cfg = cfg_new();
    ck_assert_int_eq(parse(cfg, err, sizeof(err), "--workers", "2", NULL), -EINVAL);
    ck_assert_str_eq(err, "missing required option --state-dir");
    ferry_config_free(cfg);
}
END_TEST

START_TEST(test_precedence)
{
    struct ferry_config *cfg = cfg_new();
    char err[256];
    char *path = write_conf("p.conf", "state-dir = /from/file\n"
                                      "workers = 3\n"
                                      "log-level = debug\n"
                                      "publish-root = /f1\n"
                                      "publish-root = /f2\n"
                                      "download-root = /d1\n"
                                      "url-group = http://+:80/g\n"
                                      "cert-store-dir = /certs\n");

    /* --config comes after the flags on the command line and is still read first */
    ck_assert_int_eq(parse(cfg, err, sizeof(err), "--workers", "5", "--publish-root", "/c1",
                           "--publish-root", "/c2", "--config", path, NULL),
                     0);
    ck_assert_str_eq(cfg->config_file, path);
    ck_assert_str_eq(cfg->state_dir, "/from/file");
    ck_assert_uint_eq(cfg->workers, 5);
    ck_assert_str_eq(cfg->log_level, "debug");
    /* a list given on the command line replaces the file's list */
    ck_assert_uint_eq(cfg->publish_roots.n, 2);
    ck_assert_str_eq(cfg->publish_roots.v[0], "/c1");
    ck_assert_str_eq(cfg->publish_roots.v[1], "/c2");
    /* lists not on the command line keep the file's values */
    ck_assert_uint_eq(cfg->download_roots.n, 1);
    ck_assert_str_eq(cfg->download_roots.v[0], "/d1");
    ck_assert_uint_eq(cfg->nurls, 1);
    ck_assert_str_eq(cfg->cert_store_dir, "/certs");
    ferry_config_free(cfg);

    /* a bad file fails parse_args with its FILE:LINE message */
    char *badp = write_conf("bad.conf", "workers = 1\nworkers = many\n");
    cfg = cfg_new();
    ck_assert_int_eq(parse(cfg, err, sizeof(err), "--config=", NULL), -EINVAL);
    ck_assert_int_eq(parse(cfg, err, sizeof(err), "--state-dir", "/s", "--config", badp, NULL),
                     -EINVAL);
    char want[512];
    snprintf(want, sizeof(want), "%s:2: invalid value 'many' for workers: expected an integer "
                                 "0..256", badp);
    ck_assert_str_eq(err, want);
    ferry_config_free(cfg);
    cfg = cfg_new();
    ck_assert_int_eq(parse(cfg, err, sizeof(err), "--state-dir", "/s", "--config",
                           "/nonexistent.conf", NULL),
                     -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "open('/nonexistent.conf') failed"));
    ferry_config_free(cfg);
    free(badp);
    free(path);
}
END_TEST

/* Run parse_args with stdout redirected into a file; return what was printed. */
static char *
capture_parse(const char *flag, int *ret_r)
{
    char *out = NULL, *path = NULL;
    size_t len;
    int fd, saved;
    struct ferry_config *cfg = cfg_new();
    char err[256];

    ck_assert_int_ge(asprintf(&path, "%s/stdout", tmp), 0);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    fflush(stdout);
    saved = dup(1);
    dup2(fd, 1);
    close(fd);
    /* no --state-dir and an unknown flag after: --help wins over both */
    *ret_r = parse(cfg, err, sizeof(err), "--workers", "2", flag, "--bogus", NULL);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    ck_assert_int_eq(ft_read_file(path, &out, &len), 0);
    free(path);
    ferry_config_free(cfg);
    return out;
}

START_TEST(test_help)
{
    int r;
    char *out = capture_parse("--help", &r);
    size_t entries = 0;

    ck_assert_int_eq(r, 1);
    ck_assert_ptr_nonnull(strstr(out, "usage: ferryd --state-dir DIR [options]"));
    for (size_t i = 0; i < config_noptions; i++) {
        const struct ferry_config_option *o = &config_options[i];
        char want[256];
        if (o->type == FERRY_CONFIG_BOOL)
            snprintf(want, sizeof(want), "\n  --%s, --no-%s\n        %s", o->name, o->name,
                     o->help);
        else
            snprintf(want, sizeof(want), "\n  --%s %s\n        %s", o->name, o->arg, o->help);
        ck_assert_msg(strstr(out, want) != NULL, "--help lacks '%s'", want);
        if (o->def) {
            snprintf(want, sizeof(want), "[default: %s]", o->def);
            ck_assert_ptr_nonnull(strstr(out, want));
        }
    }
    for (const char *p = out; (p = strstr(p, "\n  --")) != NULL; p++)
        entries++;
    for (size_t i = 0; i < probe_section.noptions; i++)
        ck_assert_ptr_nonnull(strstr(out, probe_options[i].help));
    ck_assert_uint_eq(entries, config_noptions + probe_section.noptions + 2); /* + --help,
                                                                                --version */
    ck_assert_ptr_nonnull(strstr(out, "[default: 127.0.0.1:5985]"));
    ck_assert_ptr_nonnull(strstr(out, "[default: 4MiB]"));
    ck_assert_ptr_nonnull(strstr(out, "(error|warn|info|debug)"));
    free(out);

    out = capture_parse("--version", &r);
    ck_assert_int_eq(r, 1);
    ck_assert_str_eq(out, "ferryd " FERRY_VERSION "\n");
    free(out);
}
END_TEST

/* Sections: an engine-only config does not know their options; malformed sections are
 * refused; each section's struct is found by its descriptor; strings in it are freed. */
START_TEST(test_sections)
{
    struct ferry_config *cfg = ferry_config_new();
    struct ferry_config_option bad[2] = {probe_options[0], probe_options[0]};
    struct ferry_config_section sec = {"bad", bad, 1, sizeof(struct probe)};
    const struct ferry_config_section *secs[] = {&sec};
    char err[256];

    ck_assert_ptr_nonnull(cfg);
    ck_assert_int_eq(ferry_config_set(cfg, "metrics", "true", err, sizeof(err)), -EINVAL);
    ck_assert_str_eq(err, "unknown option 'metrics'");
    ck_assert_ptr_null(ferry_config_section_data(cfg, &probe_section));
    ferry_config_free(cfg);

    /* the same section twice: its names are taken by the first */
    const struct ferry_config_section *twice[] = {&probe_section, &probe_section};
    errno = 0;
    ck_assert_ptr_null(ferry_config_new_with(twice, 2));
    ck_assert_int_eq(errno, EINVAL);
    /* a name of the engine's */
    bad[0].name = "workers";
    ck_assert_ptr_null(ferry_config_new_with(secs, 1));
    /* two options of one name */
    bad[0] = bad[1];
    sec.noptions = 2;
    ck_assert_ptr_null(ferry_config_new_with(secs, 1));
    /* a type sections may not use */
    sec.noptions = 1;
    bad[0].type = FERRY_CONFIG_STRV;
    ck_assert_ptr_null(ferry_config_new_with(secs, 1));
    /* a field outside the struct */
    bad[0] = probe_options[0];
    bad[0].offset = sizeof(struct probe);
    ck_assert_ptr_null(ferry_config_new_with(secs, 1));
    /* a default outside its range */
    bad[0] = probe_options[4];
    bad[0].def = "0";
    ck_assert_ptr_null(ferry_config_new_with(secs, 1));
    /* too many sections */
    ck_assert_ptr_null(ferry_config_new_with(probe_sections, FERRY_CONFIG_MAX_SECTIONS + 1));

    /* a good one: set from flags and the file like any option, strings freed (ASan) */
    cfg = cfg_new();
    char *path = write_conf("sec.conf", "wsman-tls-listen = 0.0.0.0:5986\nmetrics = on\n");
    ck_assert_int_eq(ferry_config_load_file(cfg, path, err, sizeof(err)), 0);
    ck_assert_int_eq(parse(cfg, err, sizeof(err), "--state-dir", "/s", "--wsman-listen=",
                           "--no-anonymous-identify", NULL),
                     0);
    ck_assert_ptr_null(P(cfg)->listen);
    ck_assert_str_eq(P(cfg)->tls_listen, "0.0.0.0:5986");
    ck_assert(P(cfg)->metrics);
    ck_assert(!P(cfg)->anonymous_identify);
    ck_assert_uint_eq(P(cfg)->enum_ttl, 240);
    ferry_config_free(cfg);
    free(path);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_table_consistent);
    tcase_add_test(tc, test_types);
    tcase_add_test(tc, test_bytes);
    tcase_add_test(tc, test_control_chars);
    tcase_add_test(tc, test_urls);
    tcase_add_test(tc, test_file);
    tcase_add_test(tc, test_file_errors);
    tcase_add_test(tc, test_args);
    tcase_add_test(tc, test_precedence);
    tcase_add_test(tc, test_help);
    tcase_add_test(tc, test_sections);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
