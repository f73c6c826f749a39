/*
 * tests/engine/server/test_server_role.c - the compact server role with the real HTTP core,
 * driven by real clients: curl (bytes, headers, ranges, conditionals, keep-alive, refusals),
 * wget, aria2c (-x8 -s8 and Metalink piece verification, also failing it on altered bytes),
 * limits, auth rules, restart and listener lifetime, https with openssl-made certificates.
 * Every group listens on a free 127.0.0.1 port found at run time.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ferry/config.h"
#include "ferry/jobs.h"
#include "ferry/server.h"
#include "ferry/users.h"
#include "ferry-test.h"
#include "jobs_role.h"
#include "server_role.h"
#include "core/relay.h"

#define SMALL_SIZE (3u * 1024 * 1024 + 123)

static char *tmp, *state, *pub, *small_path;
static struct ferry_config *cfg;
static struct ferry_users *users;
static struct ferry_server *srv;
static int port;
static char prefix[128], base[160];

static int
free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), p;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    p = ntohs(a.sin_port);
    close(fd);
    return p;
}

static int
sh(const char *fmt, ...) FERRY_PRINTF(1, 2);
static int
sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    int st;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Run a command, return its stdout (malloc()ed, NUL-terminated). */
static char *
sh_out(const char *fmt, ...) FERRY_PRINTF(1, 2);
static char *
sh_out(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    size_t len = 0, cap = 65536;
    char *buf = malloc(cap);
    FILE *f;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    for (;;) {
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        if (n == 0)
            break;
        len += n;
        if (len + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    pclose(f);
    buf[len] = '\0';
    return buf;
}

static void
need(const char *tool)
{
    if (sh("command -v %s >/dev/null 2>&1", tool) != 0)
        ft_skip("%s not installed", tool);
}

static void
fill_random(const char *path, size_t size, unsigned seed)
{
    uint8_t *b = malloc(size);

    for (size_t i = 0; i < size; i++) {
        seed = seed * 1103515245u + 12345u;
        b[i] = (uint8_t)(seed >> 16);
    }
    ck_assert_int_eq(ft_write_file(path, b, size), 0);
    free(b);
}

static char *
tpath(const char *name)
{
    char *p;

    ck_assert_int_ge(asprintf(&p, "%s/%s", tmp, name), 0);
    return p;
}

static void
set(const char *name, const char *value)
{
    char err[256] = "";
    ck_assert_msg(ferry_config_set(cfg, name, value, err, sizeof(err)) == 0, "%s: %s", name,
                  err);
}

static void
server_start(void)
{
    ck_assert_int_eq(server_new(cfg, users, &srv), 0);
}

static void
server_stop(void)
{
    srv = server_free(srv);
}

static void
publish(const char *suffix, const char *source, const char *rule)
{
    struct ferry_status st;

    ck_assert_msg(ferry_server_url_create(srv, prefix, suffix, source, rule, NULL, 0, &st) == 0,
                  "publish %s: %s", suffix, st.text);
}

static bool
manifest_ready(const char *suffix)
{
    struct ferry_group_info *g = NULL;
    bool ready = false;

    if (ferry_server_group_get(srv, prefix, &g) < 0)
        return false;
    for (size_t i = 0; i < g->nurls; i++)
        if (strcmp(g->urls[i].suffix, suffix) == 0)
            ready = g->urls[i].manifest_ready;
    ferry_group_info_free(g);
    return ready;
}

static void
wait_manifest(const char *suffix)
{
    for (int i = 0; i < 3000 && !manifest_ready(suffix); i++)
        usleep(10000);
    ck_assert_msg(manifest_ready(suffix), "manifest of %s not ready", suffix);
}

static void
setup(void)
{
    char *users_path;

    /* as ferryd does: a peer closing mid-body must not kill the process (sendfile has no
     * MSG_NOSIGNAL) */
    signal(SIGPIPE, SIG_IGN);
    tmp = ft_tmpdir_new("server-role");
    state = tpath("state");
    pub = tpath("pub");
    ck_assert_int_eq(mkdir(state, 0700), 0);
    ck_assert_int_eq(mkdir(pub, 0755), 0);
    ck_assert_int_ge(asprintf(&small_path, "%s/small.bin", pub), 0);
    fill_random(small_path, SMALL_SIZE, 42);
    ck_assert_int_ge(asprintf(&users_path, "%s/users", state), 0);
    ck_assert_int_eq(ferry_users_add(users_path, "alice", FERRY_ROLE_USER, "alice-pw"), 0);
    ck_assert_int_eq(ferry_users_add(users_path, "root", FERRY_ROLE_ADMIN, "root-pw"), 0);
    ck_assert_int_eq(ferry_users_open(users_path, &users), 0);
    free(users_path);
    cfg = ferry_config_new();
    ck_assert_ptr_nonnull(cfg);
    set("state-dir", state);
    set("publish-root", pub);
    set("workers", "2");
    set("manifest-chunk-size", "1MiB");
    port = free_port();
    snprintf(prefix, sizeof(prefix), "http://127.0.0.1:%d/files", port);
    snprintf(base, sizeof(base), "http://127.0.0.1:%d/files", port);
    server_start();
}

static void
teardown(void)
{
    server_stop();
    cfg = ferry_config_free(cfg);
    users = ferry_users_free(users);
    free(small_path);
    free(state);
    free(pub);
    tmp = ft_tmpdir_free(tmp);
}

/* curl -> HTTP status, body into out (may be /dev/null), extra args. */
static int
curl_code(const char *out, const char *extra, const char *url)
{
    char *s = sh_out("curl -s -o '%s' -w '%%{http_code}' %s '%s'", out, extra, url);
    int code = (int)strtol(s, NULL, 10);
    free(s);
    return code;
}

static bool
same_slice(const char *got, const char *src, long off, long len)
{
    return sh("tail -c +%ld '%s' | head -c %ld | cmp -s - '%s'", off + 1, src, len, got) == 0;
}

START_TEST(test_get_head_ranges)
{
    char url[256], *out = tpath("out"), *h;

    publish("small.bin", small_path, NULL);
    snprintf(url, sizeof(url), "%s/small.bin", base);
    /* full GET, byte-exact */
    ck_assert_int_eq(curl_code(out, "", url), 200);
    ck_assert_int_eq(sh("cmp -s '%s' '%s'", out, small_path), 0);
    /* HEAD headers */
    wait_manifest("small.bin");
    h = sh_out("curl -sSI '%s' | tr -d '\\r'", url);
    ck_assert_ptr_nonnull(strstr(h, "HTTP/1.1 200"));
    ck_assert_msg(strstr(h, "Content-Length: 3145851\n"), "%s", h);
    ck_assert_ptr_nonnull(strstr(h, "Accept-Ranges: bytes\n"));
    ck_assert_ptr_nonnull(strstr(h, "ETag: \""));
    ck_assert_ptr_nonnull(strstr(h, "Last-Modified: "));
    ck_assert_msg(strstr(h, "Cache-Control: public, no-transform\n"), "%s", h);
    ck_assert_msg(strstr(h, "Link: </files/small.bin.meta4>; rel=describedby; "
                            "type=\"application/metalink4+xml\"\n"), "%s", h);
    free(h);
    /* HEAD of the Metalink: its type and the length GET sends */
    char murl[256], *meta = tpath("m.meta4");
    snprintf(murl, sizeof(murl), "%s/small.bin.meta4", base);
    h = sh_out("curl -sSI '%s' | tr -d '\\r'", murl);
    ck_assert_msg(strstr(h, "Content-Type: application/metalink4+xml\n"), "%s", h);
    ck_assert_int_eq(curl_code(meta, "", murl), 200);
    struct stat mst;
    ck_assert_int_eq(stat(meta, &mst), 0);
    char cl[64];
    snprintf(cl, sizeof(cl), "Content-Length: %lld\n", (long long)mst.st_size);
    ck_assert_msg(strstr(h, cl), "%s (want %s)", h, cl);
    free(h);
    /* the document names this file, its size and 4 chunks of 1 MiB */
    h = sh_out("cat '%s'", meta);
    ck_assert_ptr_nonnull(strstr(h, "<file name=\"small.bin\">"));
    ck_assert_ptr_nonnull(strstr(h, "<size>3145851</size>"));
    ck_assert_ptr_nonnull(strstr(h, "<pieces type=\"xxh3-128\" length=\"1048576\">"));
    ck_assert_msg(strstr(h, "<url priority=\"1\">http://127.0.0.1:"), "%s", h);
    free(h);
    free(meta);
    /* ranges: middle, suffix, open-ended */
    ck_assert_int_eq(curl_code(out, "-r 100-199", url), 206);
    ck_assert(same_slice(out, small_path, 100, 100));
    ck_assert_int_eq(curl_code(out, "-r -500", url), 206);
    ck_assert(same_slice(out, small_path, SMALL_SIZE - 500, 500));
    ck_assert_int_eq(curl_code(out, "-r 3000000-", url), 206);
    ck_assert(same_slice(out, small_path, 3000000, SMALL_SIZE - 3000000));
    h = sh_out("curl -s -D - -o /dev/null -r 10-19 '%s' | tr -d '\\r'", url);
    ck_assert_msg(strstr(h, "Content-Range: bytes 10-19/3145851\n"), "%s", h);
    free(h);
    /* unsatisfiable */
    h = sh_out("curl -s -D - -o /dev/null -r 4000000- '%s' | tr -d '\\r'", url);
    ck_assert_msg(strstr(h, "HTTP/1.1 416"), "%s", h);
    ck_assert_ptr_nonnull(strstr(h, "Content-Range: bytes */3145851\n"));
    free(h);
    /* multi-range: whole file, 200 */
    ck_assert_int_eq(curl_code(out, "-r 0-1,5-6", url), 200);
    ck_assert_int_eq(sh("cmp -s '%s' '%s'", out, small_path), 0);
    free(out);
}
END_TEST

START_TEST(test_conditionals_keepalive)
{
    char url[256], *h, etag[128] = "", lm[64] = "", *p, *out = tpath("out");

    publish("small.bin", small_path, NULL);
    snprintf(url, sizeof(url), "%s/small.bin", base);
    h = sh_out("curl -sSI '%s' | tr -d '\\r'", url);
    p = strstr(h, "ETag: ");
    ck_assert_ptr_nonnull(p);
    sscanf(p + 6, "%127[^\n]", etag);
    p = strstr(h, "Last-Modified: ");
    ck_assert_ptr_nonnull(p);
    sscanf(p + 15, "%63[^\n]", lm);
    free(h);
    char hdr[300];
    snprintf(hdr, sizeof(hdr), "-H 'If-None-Match: %s'", etag);
    ck_assert_int_eq(curl_code(out, hdr, url), 304);
    snprintf(hdr, sizeof(hdr), "-H 'If-Modified-Since: %s'", lm);
    ck_assert_int_eq(curl_code(out, hdr, url), 304);
    ck_assert_int_eq(curl_code(out, "-H 'If-None-Match: \"nope\"'", url), 200);
    /* If-Range: current ETag -> 206, stale -> 200 whole file */
    snprintf(hdr, sizeof(hdr), "-r 0-9 -H 'If-Range: %s'", etag);
    ck_assert_int_eq(curl_code(out, hdr, url), 206);
    ck_assert_int_eq(curl_code(out, "-r 0-9 -H 'If-Range: \"stale\"'", url), 200);
    ck_assert_int_eq(sh("cmp -s '%s' '%s'", out, small_path), 0);
    /* keep-alive: two requests, one connection */
    h = sh_out("curl -sv -o /dev/null -o /dev/null '%s' '%s' 2>&1", url, url);
    ck_assert_msg(strstr(h, "Re-using existing connection"), "%s", h);
    free(h);
    free(out);
}
END_TEST

START_TEST(test_refusals)
{
    char url[256], *h, *other = tpath("pub/other.bin"), *out = tpath("out");

    fill_random(other, 1000, 5);
    publish("small.bin", small_path, NULL);
    /* unpublished paths */
    snprintf(url, sizeof(url), "%s/other.bin", base);
    ck_assert_int_eq(curl_code(out, "", url), 404);
    snprintf(url, sizeof(url), "%s/", base);
    ck_assert_int_eq(curl_code(out, "", url), 404);
    snprintf(url, sizeof(url), "%s", base);
    ck_assert_int_eq(curl_code(out, "", url), 404);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
    ck_assert_int_eq(curl_code(out, "", url), 404);
    /* traversal, encoded dots and slashes, NUL: never 200 */
    const char *evil[] = {"/files/../files/small.bin", "/files/%2e%2e/files/small.bin",
                          "/files/%2E%2E%2Fsmall.bin", "/files%2Fsmall.bin",
                          "/files/small.bin%00", "/files/small.bin/", "/files//small.bin",
                          "/files/./small.bin", "/../etc/passwd"};
    for (size_t i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
        snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, evil[i]);
        int code = curl_code(out, "--path-as-is", url);
        ck_assert_msg(code == 404 || code == 400, "%s -> %d", evil[i], code);
    }
    /* other methods */
    snprintf(url, sizeof(url), "%s/small.bin", base);
    h = sh_out("curl -s -D - -o /dev/null -X DELETE '%s' | tr -d '\\r'", url);
    ck_assert_msg(strstr(h, "HTTP/1.1 405"), "%s", h);
    ck_assert_ptr_nonnull(strstr(h, "Allow: GET, HEAD\n"));
    free(h);
    free(other);
    free(out);
}
END_TEST

START_TEST(test_wget)
{
    char url[256], *out = tpath("wget.out");

    need("wget");
    publish("small.bin", small_path, NULL);
    snprintf(url, sizeof(url), "%s/small.bin", base);
    ck_assert_int_eq(sh("wget -q -O '%s' '%s'", out, url), 0);
    ck_assert_int_eq(sh("cmp -s '%s' '%s'", out, small_path), 0);
    /* resume with -c: a partial file is completed by a range request */
    ck_assert_int_eq(truncate(out, 1000000), 0);
    ck_assert_int_eq(sh("wget -q -c -O '%s' '%s'", out, url), 0);
    ck_assert_int_eq(sh("cmp -s '%s' '%s'", out, small_path), 0);
    free(out);
}
END_TEST

START_TEST(test_aria2c_parallel)
{
    char url[256], *big = tpath("pub/big.img"), *dl = tpath("dl");

    need("aria2c");
    need("xxhsum");
    fill_random(big, 256u * 1024 * 1024, 9);
    publish("big.img", big, NULL);
    snprintf(url, sizeof(url), "%s/big.img", base);
    ck_assert_int_eq(sh("aria2c -q -x8 -s8 -k1M --allow-overwrite=true -d '%s' -o big.img "
                        "'%s'", dl, url), 0);
    char *a = sh_out("xxhsum -H2 '%s' | cut -d' ' -f1", big);
    char *b = sh_out("xxhsum -H2 '%s/big.img' | cut -d' ' -f1", dl);
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    free(big);
    free(dl);
}
END_TEST

START_TEST(test_aria2c_metalink)
{
    char url[256], *meta = tpath("m.meta4"), *dl = tpath("dl"), *log = tpath("aria.log");
    char *src = tpath("pub/img.bin"), *h;
    struct stat st;
    struct timespec times[2];
    int fd;

    need("aria2c");
    /* restart with SHA-256 pieces so aria2c can verify */
    server_stop();
    set("manifest-sha256", "true");
    server_start();
    fill_random(src, 6u * 1024 * 1024 + 77, 11);
    publish("img.bin", src, NULL);
    wait_manifest("img.bin");
    snprintf(url, sizeof(url), "%s/img.bin.meta4", base);
    ck_assert_int_eq(curl_code(meta, "", url), 200);
    h = sh_out("cat '%s'", meta);
    ck_assert_ptr_nonnull(strstr(h, "<pieces type=\"sha-256\" length=\"1048576\">"));
    ck_assert_ptr_nonnull(strstr(h, "<pieces type=\"xxh3-128\" length=\"1048576\">"));
    free(h);
    ck_assert_int_eq(sh("aria2c -q --allow-overwrite=true -d '%s' --metalink-file='%s' "
                        ">'%s' 2>&1", dl, meta, log), 0);
    ck_assert_int_eq(sh("cmp -s '%s/img.bin' '%s'", dl, src), 0);

    /* alter bytes in place: same size, mtime restored -> the server keeps the old manifest,
     * aria2c's piece check must fail */
    ck_assert_int_eq(stat(src, &st), 0);
    fd = open(src, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, "XXXXXXXX", 8, 2 * 1024 * 1024 + 10), 8);
    close(fd);
    times[0] = st.st_atim;
    times[1] = st.st_mtim;
    ck_assert_int_eq(utimensat(AT_FDCWD, src, times, 0), 0);
    sh("rm -rf '%s'", dl);
    int rc = sh("timeout 30 aria2c --max-tries=2 --retry-wait=0 --allow-overwrite=true "
                "-d '%s' --metalink-file='%s' >'%s' 2>&1", dl, meta, log);
    ck_assert_int_ne(rc, 0);
    h = sh_out("cat '%s'", log);
    /* the altered bytes are in piece 2 (2 MiB + 10) */
    ck_assert_msg(strstr(h, "Invalid checksum index=2"), "%s", h);
    free(h);
    free(meta);
    free(dl);
    free(log);
    free(src);
}
END_TEST

START_TEST(test_limits)
{
    struct ferry_status st;
    char url[256], *two = tpath("pub/two.bin"), *out = tpath("out"), *h;
    struct timespec a, b;
    uint32_t v = 0;
    double secs;

    fill_random(two, 2u * 1024 * 1024, 3);
    publish("two.bin", two, NULL);
    snprintf(url, sizeof(url), "%s/two.bin", base);
    /* BandwidthLimit: minimum enforced, 1 MiB/s observed */
    ck_assert_int_eq(ferry_server_group_set_property(srv, prefix, "BandwidthLimit", 1000, &st),
                     -EINVAL);
    ck_assert_str_eq(st.param, "Value");
    ck_assert_int_eq(ferry_server_group_set_property(srv, prefix, "Bogus", 1, &st), -EINVAL);
    ck_assert_str_eq(st.param, "Property");
    ck_assert_int_eq(ferry_server_group_set_property(srv, prefix, "BandwidthLimit", 1048576,
                                                     &st), 0);
    ck_assert_int_eq(ferry_server_group_get_property(srv, prefix, "BandwidthLimit", &v, &st),
                     0);
    ck_assert_uint_eq(v, 1048576);
    clock_gettime(CLOCK_MONOTONIC, &a);
    ck_assert_int_eq(curl_code(out, "", url), 200);
    clock_gettime(CLOCK_MONOTONIC, &b);
    secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    ck_assert_msg(secs >= 1.5, "2 MiB at 1 MiB/s took %.2f s", secs);
    ck_assert_int_eq(sh("cmp -s '%s' '%s'", out, two), 0);
    /* ConnectionLimit 1: a slow download holds the slot, the next request gets 503 */
    ck_assert_int_eq(ferry_server_group_set_property(srv, prefix, "BandwidthLimit", 65536, &st),
                     0);
    ck_assert_int_eq(ferry_server_group_set_property(srv, prefix, "ConnectionLimit", 1, &st), 0);
    ck_assert_int_eq(sh("(curl -s -o /dev/null --max-time 3 '%s' &) ; sleep 0.5", url), 0);
    h = sh_out("curl -s -D - -o /dev/null '%s' | tr -d '\\r'", url);
    ck_assert_msg(strstr(h, "HTTP/1.1 503"), "%s", h);
    ck_assert_ptr_nonnull(strstr(h, "Retry-After: 5\n"));
    free(h);
    struct ferry_server_stats stats;
    ferry_server_stats(srv, &stats);
    ck_assert_uint_ge(stats.active_connections, 1);
    ck_assert_uint_ge(stats.bytes_sent, 2u * 1024 * 1024);
    sleep(3); /* the background curl gives up; its slot is released when its socket closes */
    ck_assert_int_eq(ferry_server_group_set_property(srv, prefix, "BandwidthLimit", 0, &st), 0);
    {
        /* the server sees that socket close at its next paced send: allow it a moment */
        int code = 0;
        for (int i = 0; i < 50 && code != 200; i++) {
            code = curl_code(out, "", url);
            if (code != 200)
                usleep(100000);
        }
        ck_assert_int_eq(code, 200);
    }
    free(two);
    free(out);
}
END_TEST

START_TEST(test_restart_and_close)
{
    struct ferry_status st;
    char url[256], *out = tpath("out");
    uint32_t v = 0;
    bool exists = false;

    publish("small.bin", small_path, "D:(A;;GA;;;WD)");
    ck_assert_int_eq(ferry_server_group_set_property(srv, prefix, "ConnectionLimit", 7, &st), 0);
    /* Negotiate and NTLM are refused, not stored: the fault names what is supported */
    ck_assert_int_eq(ferry_server_group_set_auth(srv, prefix, 1, true, &st), -EOPNOTSUPP);
    ck_assert_int_eq(st.kind, FERRY_STATUS_INVALID_PARAMETER);
    ck_assert_str_eq(st.param, "Scheme");
    ck_assert_ptr_nonnull(strstr(st.text, "NTLM is not supported"));
    ck_assert_ptr_nonnull(strstr(st.text, "Basic"));
    ck_assert_int_eq(ferry_server_group_set_auth(srv, prefix, 0, true, &st), -EOPNOTSUPP);
    ck_assert_ptr_nonnull(strstr(st.text, "Negotiate is not supported"));
    ck_assert_int_eq(ferry_server_group_set_auth(srv, prefix, 1, false, &st), 0);
    ck_assert_int_eq(ferry_server_group_set_auth(srv, prefix, 2, true, &st), -EINVAL);
    ck_assert_str_eq(st.param, "Scheme");
    ck_assert_int_eq(ferry_server_group_get_property(srv, "http://+:1/none", "ConnectionLimit",
                                                     &v, &st), -ENOENT);
    ck_assert_int_eq(st.kind, FERRY_STATUS_NOT_FOUND);
    ck_assert_str_eq(st.param, "UrlGroup");
    server_stop();
    /* nothing listens while stopped */
    snprintf(url, sizeof(url), "%s/small.bin", base);
    ck_assert_int_eq(sh("curl -s -o /dev/null '%s'", url), 7);
    server_start();
    ck_assert_int_eq(ferry_server_url_check(srv, prefix, "small.bin", &exists, &st), 0);
    ck_assert(exists);
    ck_assert_int_eq(ferry_server_group_get_property(srv, prefix, "ConnectionLimit", &v, &st),
                     0);
    ck_assert_uint_eq(v, 7);
    bool ntlm = false, negotiate = true;
    ck_assert_int_eq(ferry_server_group_get_auth(srv, prefix, 1, &ntlm, &st), 0);
    ck_assert_int_eq(ferry_server_group_get_auth(srv, prefix, 0, &negotiate, &st), 0);
    ck_assert(!ntlm && !negotiate); /* the refused settings were never stored */
    ck_assert_int_eq(curl_code(out, "", url), 200);
    ck_assert_int_eq(sh("cmp -s '%s' '%s'", out, small_path), 0);
    /* deleting the last group on the port closes it: connection refused */
    ck_assert_int_eq(ferry_server_group_delete(srv, prefix, &st), 0);
    ck_assert_int_eq(sh("curl -s -o /dev/null '%s'", url), 7);
    /* the port can be taken again at once */
    ck_assert_msg(ferry_server_url_create(srv, prefix, "small.bin", small_path, NULL, NULL, 0,
                                          &st) == 0, "%s", st.text);
    ck_assert_int_eq(curl_code(out, "", url), 200);
    ck_assert_int_eq(ferry_server_group_delete(srv, prefix, &st), 0);
    /* and it stays deleted across a restart */
    server_stop();
    server_start();
    ck_assert_int_eq(ferry_server_url_check(srv, prefix, "small.bin", &exists, &st), -ENOENT);
    ck_assert_int_eq(st.kind, FERRY_STATUS_NOT_FOUND);
    free(out);
}
END_TEST

START_TEST(test_basic_auth)
{
    char url[256], *h, *out = tpath("out");

    publish("alice.bin", small_path, "users=alice");
    publish("admin.bin", small_path, "D:(A;;GA;;;BA)");
    snprintf(url, sizeof(url), "%s/alice.bin", base);
    h = sh_out("curl -s -D - -o /dev/null '%s' | tr -d '\\r'", url);
    ck_assert_msg(strstr(h, "HTTP/1.1 401"), "%s", h);
    ck_assert_ptr_nonnull(strstr(h, "WWW-Authenticate: Basic realm=\"ferry\"\n"));
    free(h);
    /* a protected URL is never for a shared cache, its 206s neither */
    h = sh_out("curl -s -D - -o /dev/null -r 0-9 -u alice:alice-pw '%s' | tr -d '\\r'", url);
    ck_assert_msg(strstr(h, "HTTP/1.1 206"), "%s", h);
    ck_assert_msg(strstr(h, "Cache-Control: private, no-transform\n"), "%s", h);
    free(h);
    ck_assert_int_eq(curl_code(out, "-u alice:wrong", url), 401);
    ck_assert_int_eq(curl_code(out, "-u root:root-pw", url), 403);
    ck_assert_int_eq(curl_code(out, "-u alice:alice-pw", url), 200);
    ck_assert_int_eq(sh("cmp -s '%s' '%s'", out, small_path), 0);
    snprintf(url, sizeof(url), "%s/admin.bin", base);
    ck_assert_int_eq(curl_code(out, "-u alice:alice-pw", url), 403);
    ck_assert_int_eq(curl_code(out, "-u root:root-pw", url), 200);
    /* the Metalink of a protected URL has the same rule */
    wait_manifest("admin.bin");
    snprintf(url, sizeof(url), "%s/admin.bin.meta4", base);
    ck_assert_int_eq(curl_code(out, "", url), 401);
    ck_assert_int_eq(curl_code(out, "-u root:root-pw", url), 200);
    free(out);
}
END_TEST

static void
make_cert(const char *dir, const char *cn, char **ret_crt, char **ret_key)
{
    ck_assert_int_ge(asprintf(ret_crt, "%s/%s.crt", dir, cn), 0);
    ck_assert_int_ge(asprintf(ret_key, "%s/%s.key", dir, cn), 0);
    ck_assert_int_eq(sh("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=%s' "
                        "-addext 'subjectAltName=IP:127.0.0.1' -keyout '%s' -out '%s' "
                        ">/dev/null 2>&1", cn, *ret_key, *ret_crt), 0);
}

START_TEST(test_https)
{
    struct ferry_status st;
    char url[256], sprefix[128], *crt, *key, *crt2, *key2, *out = tpath("out"), *store, *h;
    uint8_t sha1[20];
    int sport = free_port();

    need("openssl");
    make_cert(tmp, "default", &crt, &key);
    /* no certificate at all: clear refusal */
    snprintf(sprefix, sizeof(sprefix), "https://127.0.0.1:%d/sec", sport);
    ck_assert_int_eq(ferry_server_group_create(srv, sprefix, &st), -ENOENT);
    ck_assert_ptr_nonnull(strstr(st.text, "no certificate"));
    /* a port cannot be both http and https */
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/x", port);
    ferry_server_group_create(srv, prefix, &st);
    ck_assert_int_eq(ferry_server_group_create(srv, url, &st), -EINVAL);
    ck_assert_ptr_nonnull(strstr(st.text, "both http and https"));
    /* the daemon's default certificate */
    server_stop();
    set("tls-cert", crt);
    set("tls-key", key);
    server_start();
    ck_assert_int_eq(ferry_server_url_create(srv, sprefix, "small.bin", small_path, NULL, NULL, 0,
                                             &st), 0);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/sec/small.bin", sport);
    char extra[512];
    snprintf(extra, sizeof(extra), "--cacert '%s'", crt);
    ck_assert_int_eq(curl_code(out, extra, url), 200);
    ck_assert_int_eq(sh("cmp -s '%s' '%s'", out, small_path), 0);
    snprintf(extra, sizeof(extra), "--cacert '%s' -r -1000", crt);
    ck_assert_int_eq(curl_code(out, extra, url), 206);
    ck_assert(same_slice(out, small_path, SMALL_SIZE - 1000, 1000));
    /* SetSslCertificate: store dir STATE/certs/MY holding cert+key PEM */
    ck_assert_int_ge(asprintf(&store, "%s/certs/MY", state), 0);
    ck_assert_int_eq(sh("mkdir -p '%s'", store), 0);
    make_cert(tmp, "bound", &crt2, &key2);
    ck_assert_int_eq(sh("cat '%s' '%s' > '%s/bound.pem'", crt2, key2, store), 0);
    h = sh_out("openssl x509 -in '%s' -noout -fingerprint -sha1 | cut -d= -f2 | tr -d ':\\n'",
               crt2);
    ck_assert_uint_eq(strlen(h), 40);
    for (int i = 0; i < 20; i++) {
        unsigned x;
        sscanf(h + 2 * i, "%2x", &x);
        sha1[i] = (uint8_t)x;
    }
    free(h);
    ck_assert_int_eq(ferry_server_set_ssl_cert(srv, (uint16_t)sport, "MY", sha1, 19, &st),
                     -EINVAL);
    ck_assert_str_eq(st.param, "hashBlob");
    ck_assert_int_eq(ferry_server_set_ssl_cert(srv, (uint16_t)sport, "../x", sha1, 20, &st),
                     -EINVAL);
    ck_assert_str_eq(st.param, "StoreName");
    ck_assert_int_eq(ferry_server_set_ssl_cert(srv, (uint16_t)sport, "MY", sha1, 20, &st), 0);
    snprintf(extra, sizeof(extra), "--cacert '%s'", crt2);
    ck_assert_int_eq(curl_code(out, extra, url), 200);
    ck_assert_int_eq(sh("cmp -s '%s' '%s'", out, small_path), 0);
    /* aria2c, several ranges in parallel over TLS */
    if (sh("command -v aria2c >/dev/null 2>&1") == 0) {
        char *dl = tpath("dl-tls");
        ck_assert_int_eq(sh("aria2c -q -x4 -s4 -k1M --ca-certificate='%s' "
                            "--allow-overwrite=true -d '%s' -o s.bin '%s'", crt2, dl, url), 0);
        ck_assert_int_eq(sh("cmp -s '%s/s.bin' '%s'", dl, small_path), 0);
        free(dl);
    }
    /* the binding survives a restart */
    server_stop();
    server_start();
    ck_assert_int_eq(curl_code(out, extra, url), 200);
    free(store);
    free(crt);
    free(key);
    free(crt2);
    free(key2);
    free(out);
}
END_TEST

START_TEST(test_client_cert_rule)
{
    struct ferry_status st;
    char sprefix[128], url[256], rule[256], extra[1024], *out = tpath("out"), *crt, *key, *h;
    int sport = free_port();

    need("openssl");
    make_cert(tmp, "srv", &crt, &key);
    /* a CA and two client certificates it signed */
    ck_assert_int_eq(sh("cd '%s' && openssl req -x509 -newkey rsa:2048 -nodes -days 2 "
                        "-subj /CN=ca -keyout ca.key -out ca.crt >/dev/null 2>&1 && "
                        "for c in good other; do openssl req -newkey rsa:2048 -nodes "
                        "-subj /CN=$c -keyout $c.key -out $c.csr >/dev/null 2>&1 && "
                        "openssl x509 -req -in $c.csr -CA ca.crt -CAkey ca.key "
                        "-CAcreateserial -days 2 -out $c.crt >/dev/null 2>&1 || exit 1; done",
                        tmp), 0);
    h = sh_out("openssl x509 -in '%s/good.crt' -noout -fingerprint -sha256 | cut -d= -f2 | "
               "tr -d '\\n'", tmp);
    ck_assert_uint_eq(strlen(h), 95); /* AB:CD:... form, accepted as is */
    snprintf(rule, sizeof(rule), "cert=%s", h);
    free(h);
    server_stop();
    set("tls-cert", crt);
    set("tls-key", key);
    char ca[512];
    snprintf(ca, sizeof(ca), "%s/ca.crt", tmp);
    set("tls-client-ca", ca);
    server_start();
    snprintf(sprefix, sizeof(sprefix), "https://127.0.0.1:%d/sec", sport);
    ck_assert_msg(ferry_server_url_create(srv, sprefix, "small.bin", small_path, rule, NULL, 0,
                                          &st) == 0, "%s", st.text);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/sec/small.bin", sport);
    snprintf(extra, sizeof(extra), "--cacert '%s'", crt);
    ck_assert_int_eq(curl_code(out, extra, url), 403);
    snprintf(extra, sizeof(extra), "--cacert '%s' --cert '%s/other.crt' --key '%s/other.key'",
             crt, tmp, tmp);
    ck_assert_int_eq(curl_code(out, extra, url), 403);
    snprintf(extra, sizeof(extra), "--cacert '%s' --cert '%s/good.crt' --key '%s/good.key'",
             crt, tmp, tmp);
    ck_assert_int_eq(curl_code(out, extra, url), 200);
    ck_assert_int_eq(sh("cmp -s '%s' '%s'", out, small_path), 0);
    /* CreateUrl's certificate hash list adds cert grants to an SDDL rule; it persists */
    const char *fps[] = {rule + 5};
    ck_assert_msg(ferry_server_url_create(srv, sprefix, "adm.bin", small_path, "D:(A;;GA;;;BA)",
                                          fps, 1, &st) == 0, "%s", st.text);
    server_stop();
    server_start();
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/sec/adm.bin", sport);
    ck_assert_int_eq(curl_code(out, extra, url), 200);
    snprintf(extra, sizeof(extra), "--cacert '%s' --cert '%s/other.crt' --key '%s/other.key'",
             crt, tmp, tmp);
    ck_assert_int_eq(curl_code(out, extra, url), 401);
    char extra2[1200];
    snprintf(extra2, sizeof(extra2), "%s -u root:root-pw", extra);
    ck_assert_int_eq(curl_code(out, extra2, url), 200);
    free(crt);
    free(key);
    free(out);
}
END_TEST

START_TEST(test_manifest_invalidation)
{
    char url[256], murl[256], *h, *out = tpath("m.meta4");
    struct ferry_server_stats stats;
    struct timespec times[2];
    struct stat st;

    need("xxhsum");
    publish("small.bin", small_path, NULL);
    wait_manifest("small.bin");
    snprintf(url, sizeof(url), "%s/small.bin", base);
    snprintf(murl, sizeof(murl), "%s/small.bin.meta4", base);
    h = sh_out("curl -sSI '%s' | tr -d '\\r'", url);
    ck_assert_ptr_nonnull(strstr(h, "Link: "));
    free(h);
    /* new bytes, same size, newer mtime: another identity */
    ck_assert_int_eq(stat(small_path, &st), 0);
    fill_random(small_path, SMALL_SIZE, 4242);
    times[0] = st.st_atim;
    times[1] = st.st_mtim;
    times[1].tv_sec += 10;
    ck_assert_int_eq(utimensat(AT_FDCWD, small_path, times, 0), 0);
    /* the first response after the change drops the stale manifest: no Link */
    h = sh_out("curl -sSI '%s' | tr -d '\\r'", url);
    ck_assert_msg(!strstr(h, "Link: "), "%s", h);
    free(h);
    wait_manifest("small.bin");
    for (int i = 0; i < 300; i++) {
        h = sh_out("curl -sSI '%s' | tr -d '\\r'", url);
        bool linked = strstr(h, "Link: ") != NULL;
        free(h);
        if (linked)
            break;
        usleep(10000);
    }
    ck_assert_int_eq(curl_code(out, "", murl), 200);
    /* chunk 0 and the short last chunk of the new bytes are in the document */
    char *c0 = sh_out("head -c 1048576 '%s' | xxhsum -H2 | cut -d' ' -f1 | tr -d '\\n'",
                      small_path);
    char *c3 = sh_out("tail -c 123 '%s' | xxhsum -H2 | cut -d' ' -f1 | tr -d '\\n'",
                      small_path);
    h = sh_out("cat '%s'", out);
    ck_assert_uint_eq(strlen(c0), 32);
    ck_assert_msg(strstr(h, c0), "%s not in %s", c0, h);
    ck_assert_msg(strstr(h, c3), "%s not in %s", c3, h);
    ck_assert_ptr_nonnull(strstr(h, "<size>3145851</size>"));
    free(h);
    free(c0);
    free(c3);
    ferry_server_stats(srv, &stats);
    ck_assert_uint_eq(stats.manifests_computed, 2);
    /* the old version's cache file is gone, the new one is there */
    h = sh_out("ls '%s/manifests' | grep -c '\\.bin$'", state);
    ck_assert_str_eq(h, "1\n");
    free(h);
    /* a restart loads it from the cache instead of computing again */
    server_stop();
    server_start();
    wait_manifest("small.bin");
    ferry_server_stats(srv, &stats);
    ck_assert_uint_eq(stats.manifests_computed, 0);
    ck_assert_int_eq(curl_code(out, "", murl), 200);
    /* unpublishing forgets the cache file */
    struct ferry_status fst;
    ck_assert_int_eq(ferry_server_url_delete(srv, prefix, "small.bin", &fst), 0);
    h = sh_out("ls '%s/manifests' | grep -c '\\.bin$'", state);
    ck_assert_str_eq(h, "0\n");
    free(h);
    free(out);
}
END_TEST

/* Optional (FERRY_TEST_LONG=1): aria2c -x8 -s8 on a 1 GiB sparse-ish file. */
START_TEST(test_aria2c_1g)
{
    char url[256], *big = tpath("pub/huge.img"), *dl = tpath("dl");

    need("aria2c");
    need("xxhsum");
    ck_assert_int_eq(sh("head -c 536870912 /dev/urandom > '%s' && truncate -s 1G '%s'", big,
                        big), 0);
    publish("huge.img", big, NULL);
    snprintf(url, sizeof(url), "%s/huge.img", base);
    ck_assert_int_eq(sh("aria2c -q -x8 -s8 --allow-overwrite=true -d '%s' -o huge.img '%s'",
                        dl, url), 0);
    char *a = sh_out("xxhsum -H2 '%s' | cut -d' ' -f1", big);
    char *b = sh_out("xxhsum -H2 '%s/huge.img' | cut -d' ' -f1", dl);
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    free(big);
    free(dl);
}
END_TEST

/* The two roles together: a BITS job of the client role fetches a sparse image from this
 * server, uses its manifest (zero chunks are not fetched) and ends byte-exact. */
START_TEST(test_client_role_interop)
{
    struct ferry_jobs *jobs = NULL;
    struct ferry_job_create req = {0};
    struct ferry_job_info *info = NULL;
    struct ferry_group_info *g = NULL;
    struct ferry_status st;
    char id[FERRY_GUID_STRLEN], url[256], *img = tpath("pub/sparse.img"), *in = tpath("in");
    char local[512];
    uint8_t *buf = malloc(1024 * 1024);
    enum ferry_job_state js = FERRY_JOB_QUEUED;
    int fd;

    /* 12 MiB: chunk 0 data, chunks 1-9 holes, chunk 10 zeros written, chunk 11 data */
    fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, 12 * 1024 * 1024), 0);
    for (size_t i = 0; i < 1024 * 1024; i++)
        buf[i] = (uint8_t)(i * 7 + 1);
    ck_assert_int_eq(pwrite(fd, buf, 1024 * 1024, 0), 1024 * 1024);
    ck_assert_int_eq(pwrite(fd, buf, 1024 * 1024, 11 * 1024 * 1024), 1024 * 1024);
    memset(buf, 0, 1024 * 1024);
    ck_assert_int_eq(pwrite(fd, buf, 1024 * 1024, 10 * 1024 * 1024), 1024 * 1024);
    close(fd);
    free(buf);
    ck_assert_int_eq(mkdir(in, 0755), 0);
    publish("sparse.img", img, NULL);
    wait_manifest("sparse.img");

    server_stop();
    set("download-root", in);
    server_start();
    wait_manifest("sparse.img");
    ck_assert_int_eq(jobs_new(cfg, &jobs), 0);
    snprintf(url, sizeof(url), "%s/sparse.img", base);
    snprintf(local, sizeof(local), "%s/sparse.img", in);
    req.display_name = "interop";
    req.remote_url = url;
    req.local_file = local;
    ck_assert_msg(ferry_jobs_create(jobs, &req, id, &st) == 0, "%s", st.text);
    for (int t = 0; t < 3000; t++) {
        ck_assert_int_eq(ferry_jobs_get(jobs, id, &info, &st), 0);
        js = info->state;
        info = ferry_job_info_free(info);
        if (js == FERRY_JOB_TRANSFERRED || js == FERRY_JOB_ERROR)
            break;
        usleep(10000);
    }
    ck_assert_int_eq(js, FERRY_JOB_TRANSFERRED);
    ck_assert_int_eq(ferry_jobs_set_state(jobs, id, FERRY_JOB_ACTION_COMPLETE, &st), 0);
    ck_assert_int_eq(sh("cmp -s '%s' '%s'", local, img), 0);
    /* only the two data chunks crossed the wire (plus the manifest) */
    ck_assert_int_eq(ferry_server_group_get(srv, prefix, &g), 0);
    ck_assert_msg(g->bytes_sent >= 2u * 1024 * 1024 && g->bytes_sent < 3u * 1024 * 1024,
                  "server sent %llu bytes of a 12 MiB file with 2 MiB of data",
                  (unsigned long long)g->bytes_sent);
    ferry_group_info_free(g);
    jobs = jobs_free(jobs);
    free(img);
    free(in);
}
END_TEST

START_TEST(test_source_changes_and_pipelining)
{
    char url[256], *f = tpath("pub/moving.bin"), *outside = tpath("secret.txt"), *h;
    char *out = tpath("out");

    fill_random(f, 100000, 77);
    ck_assert_int_eq(ft_write_file(outside, "top secret\n", 11), 0);
    publish("moving.bin", f, NULL);
    snprintf(url, sizeof(url), "%s/moving.bin", base);
    ck_assert_int_eq(curl_code(out, "", url), 200);
    /* replaced by a symlink leaving the publish root: opened beneath the root per request,
     * so never served */
    ck_assert_int_eq(unlink(f), 0);
    ck_assert_int_eq(symlink(outside, f), 0);
    ck_assert_int_eq(curl_code(out, "", url), 404);
    h = sh_out("curl -s '%s'", url);
    ck_assert_ptr_null(strstr(h, "top secret"));
    free(h);
    /* gone -> 404; back -> 200 */
    ck_assert_int_eq(unlink(f), 0);
    ck_assert_int_eq(curl_code(out, "", url), 404);
    ck_assert_int_eq(mkdir(f, 0755), 0);
    ck_assert_int_eq(curl_code(out, "", url), 404);
    ck_assert_int_eq(rmdir(f), 0);
    fill_random(f, 100000, 78);
    ck_assert_int_eq(curl_code(out, "", url), 200);
    ck_assert_int_eq(sh("cmp -s '%s' '%s'", out, f), 0);
    /* pipelining: three requests in one write, answered in order on one connection */
    ck_assert_msg(getenv("FERRY_SRC"), "FERRY_SRC is not set: run through meson test");
    h = sh_out("/usr/bin/python3 '%s/tests/engine/server/pipeline.py' %d /files/moving.bin "
               "0-9 10-19 -5 | od -An -tx1 | tr -d ' \\n'", getenv("FERRY_SRC"), port);
    char *want = sh_out("(head -c 20 '%s'; tail -c 5 '%s') | od -An -tx1 | tr -d ' \\n'",
                        f, f);
    ck_assert_uint_eq(strlen(want), 50);
    ck_assert_str_eq(h, want);
    free(h);
    free(want);
    free(f);
    free(outside);
    free(out);
}
END_TEST

/* The host's first global IPv4 address (non-loopback), or "" when it has none. */
static void
global_ipv4(char *buf, size_t len)
{
    char *ip = sh_out("ip -4 -o addr show scope global 2>/dev/null | awk '{print $4}' | "
                      "cut -d/ -f1 | head -n1 | tr -d '\\n'");
    snprintf(buf, len, "%s", ip);
    free(ip);
}

/* Basic over plain http from a non-loopback peer is refused unless allow-basic-over-http. */
START_TEST(test_basic_non_loopback)
{
    struct ferry_status st;
    char ip[64], gprefix[160], url[256], *out = tpath("out"), *h;

    global_ipv4(ip, sizeof(ip));
    ck_assert_uint_gt(strlen(ip), 0);
    snprintf(gprefix, sizeof(gprefix), "http://%s:%d/files", ip, port);
    ck_assert_msg(ferry_server_url_create(srv, gprefix, "s.bin", small_path, "authenticated",
                                          NULL, 0, &st) == 0, "%s", st.text);
    snprintf(url, sizeof(url), "http://%s:%d/files/s.bin", ip, port);
    /* the peer address is the host's own global address, not loopback */
    h = sh_out("curl -s -u alice:alice-pw -D - '%s' | tr -d '\\r'", url);
    ck_assert_msg(strstr(h, "HTTP/1.1 401"), "%s", h);
    ck_assert_ptr_nonnull(strstr(h, "only accepted from loopback"));
    free(h);
    server_stop();
    set("allow-basic-over-http", "true");
    server_start();
    ck_assert_int_eq(curl_code(out, "-u alice:alice-pw", url), 200);
    ck_assert_int_eq(sh("cmp -s '%s' '%s'", out, small_path), 0);
    ck_assert_int_eq(curl_code(out, "-u alice:nope", url), 401);
    free(out);
}
END_TEST

/* IPv6 literal and a DNS name as group hosts; '+' on all addresses. */
START_TEST(test_hosts)
{
    struct ferry_status st;
    char g6[160], gn[160], gp[160], url[256], *out = tpath("out");
    int p6 = free_port(), pp = free_port();

    snprintf(g6, sizeof(g6), "http://[::1]:%d/v6", p6);
    ck_assert_msg(ferry_server_url_create(srv, g6, "small.bin", small_path, NULL, NULL, 0, &st)
                      == 0, "%s", st.text);
    snprintf(url, sizeof(url), "http://[::1]:%d/v6/small.bin", p6);
    ck_assert_int_eq(curl_code(out, "-g", url), 200);
    ck_assert_int_eq(sh("cmp -s '%s' '%s'", out, small_path), 0);
    /* a name is resolved once, to every address getaddrinfo gives (here 127.0.0.1) */
    snprintf(gn, sizeof(gn), "http://localhost:%d/byname", port);
    ck_assert_msg(ferry_server_url_create(srv, gn, "small.bin", small_path, NULL, NULL, 0, &st)
                      == 0, "%s", st.text);
    snprintf(url, sizeof(url), "http://localhost:%d/byname/small.bin", port);
    ck_assert_int_eq(curl_code(out, "-4", url), 200);
    /* '+' listens on every address of the port */
    snprintf(gp, sizeof(gp), "http://+:%d/all", pp);
    ck_assert_msg(ferry_server_url_create(srv, gp, "small.bin", small_path, NULL, NULL, 0, &st)
                      == 0, "%s", st.text);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/all/small.bin", pp);
    ck_assert_int_eq(curl_code(out, "", url), 200);
    snprintf(url, sizeof(url), "http://[::1]:%d/all/small.bin", pp);
    ck_assert_int_eq(curl_code(out, "-g", url), 200);
    /* a specific address on that port shares the all-addresses listener */
    char gs[160];
    snprintf(gs, sizeof(gs), "http://127.0.0.1:%d/one", pp);
    ck_assert_msg(ferry_server_url_create(srv, gs, "small.bin", small_path, NULL, NULL, 0, &st)
                      == 0, "%s", st.text);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/one/small.bin", pp);
    ck_assert_int_eq(curl_code(out, "", url), 200);
    ck_assert_int_eq(ferry_server_group_delete(srv, gp, &st), 0);
    ck_assert_int_eq(curl_code(out, "", url), 200);
    ck_assert_int_eq(ferry_server_group_delete(srv, gs, &st), 0);
    ck_assert_int_eq(sh("curl -s -o /dev/null '%s'", url), 7);
    free(out);
}
END_TEST

struct churn {
    atomic_bool stop;
    int rounds;
    char other[160];
};

/* Control-plane churn on another thread: publish/unpublish, property changes, a group on
 * another port created and deleted. */
static void *
churn_main(void *arg)
{
    struct churn *c = arg;
    struct ferry_status st;

    while (!atomic_load(&c->stop)) {
        ck_assert_int_eq(ferry_server_url_create(srv, prefix, "churn.bin", small_path, NULL,
                                                 NULL, 0, &st), 0);
        ferry_server_group_set_property(srv, prefix, "BandwidthLimit",
                                        c->rounds % 2 ? 0 : 64 * 1024 * 1024, &st);
        ck_assert_int_eq(ferry_server_group_create(srv, c->other, &st), 0);
        usleep(2000);
        ck_assert_int_eq(ferry_server_url_delete(srv, prefix, "churn.bin", &st), 0);
        ck_assert_int_eq(ferry_server_group_delete(srv, c->other, &st), 0);
        c->rounds++;
    }
    return NULL;
}

START_TEST(test_concurrent_churn)
{
    struct churn c = {0};
    pthread_t t;
    char *codes;
    int stable = 0, churn200 = 0, churn404 = 0, other = 0;

    publish("stable.bin", small_path, NULL);
    snprintf(c.other, sizeof(c.other), "http://127.0.0.1:%d/other", free_port());
    ck_assert_int_eq(pthread_create(&t, NULL, churn_main, &c), 0);
    codes = sh_out("for i in $(seq 1 120); do echo stable.bin; echo churn.bin; done | "
                   "xargs -P4 -I{} curl -s -o /dev/null -w '{} %%{http_code} "
                   "%%{size_download}\\n' '%s/{}'", base);
    atomic_store(&c.stop, true);
    pthread_join(t, NULL);
    for (char *save = NULL, *line = strtok_r(codes, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char name[32];
        int code;
        long long size;
        if (sscanf(line, "%31s %d %lld", name, &code, &size) != 3)
            continue;
        if (strcmp(name, "stable.bin") == 0 && code == 200 && size == SMALL_SIZE)
            stable++;
        else if (strcmp(name, "churn.bin") == 0 && code == 200 && size == SMALL_SIZE)
            churn200++;
        else if (strcmp(name, "churn.bin") == 0 && code == 404)
            churn404++;
        else
            other++;
    }
    free(codes);
    ck_assert_msg(stable == 120 && other == 0 && churn200 + churn404 == 120,
                  "stable %d churn 200/404 %d/%d other %d (rounds %d)", stable, churn200,
                  churn404, other, c.rounds);
    ck_assert_int_gt(c.rounds, 5);
}
END_TEST

START_TEST(test_config_urls_and_info)
{
    struct ferry_group_info **v = NULL;
    size_t n = 0;
    char line[1024], url[256], *out = tpath("out");

    server_stop();
    snprintf(line, sizeof(line), "%s/conf.bin %s authenticated", prefix, small_path);
    set("url", line);
    server_start();
    ck_assert_int_eq(ferry_server_group_list(srv, &v, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(v[0]->prefix, prefix);
    ck_assert_uint_eq(v[0]->nurls, 1);
    ck_assert_str_eq(v[0]->urls[0].suffix, "conf.bin");
    ck_assert_str_eq(v[0]->urls[0].rule, "authenticated");
    ferry_group_info_list_free(v, n);
    snprintf(url, sizeof(url), "%s/conf.bin", base);
    ck_assert_int_eq(curl_code(out, "", url), 401);
    ck_assert_int_eq(curl_code(out, "-u alice:alice-pw", url), 200);
    ck_assert_int_eq(curl_code(out, "-u alice:alice-pw", url), 200);
    ck_assert_int_eq(ferry_server_group_list(srv, &v, &n), 0);
    ck_assert_uint_eq(v[0]->urls[0].requests, 3);
    ck_assert_uint_eq(v[0]->urls[0].bytes_sent, 2ull * SMALL_SIZE);
    ck_assert_uint_eq(v[0]->requests, 3);
    ferry_group_info_list_free(v, n);
    free(out);
}
END_TEST

/* ---- relay URLs (docs/internals/relay.md) ---- */
static struct relay *test_relay;
static char *test_relay_path;

static struct relay *
fake_relay_find(void *ud, const char *source)
{
    (void)ud;
    if (test_relay && strcmp(source, test_relay_path) == 0)
        return relay_ref(test_relay);
    return NULL;
}

START_TEST(test_relay_url)
{
    static const char etag[] = "\"origin-etag-1\"";
    static const char lm[] = "Sun, 06 Nov 1994 08:49:37 GMT";
    char url[256], murl[256], *out = tpath("out"), *h;
    struct relay_info info = {.size = SMALL_SIZE, .chunk_size = 1048576, .nchunks = 4,
                              .etag = etag, .last_modified = lm,
                              .meta4 = "<metalink>origin</metalink>", .meta4_len = 27};

    test_relay_path = tpath("pub/still-fetching.bin"); /* does not exist */
    test_relay = relay_new(test_relay_path);
    server_stop();
    ck_assert_int_eq(server_new_relay(cfg, users, fake_relay_find, NULL, &srv), 0);
    publish("relay.bin", test_relay_path, NULL);
    snprintf(url, sizeof(url), "%s/relay.bin", base);
    snprintf(murl, sizeof(murl), "%s/relay.bin.meta4", base);
    /* pending: no manifest yet */
    h = sh_out("curl -sSI '%s' | tr -d '\\r'", url);
    ck_assert_msg(strstr(h, "HTTP/1.1 503") && strstr(h, "Retry-After: 1\n"), "%s", h);
    free(h);
    ck_assert_int_eq(curl_code(out, "", murl), 503);

    info.fd = open(small_path, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(info.fd, 0);
    ck_assert_int_eq(relay_setup(test_relay, &info), 0);
    close(info.fd);
    /* ready, nothing verified: HEAD describes the origin's version */
    h = sh_out("curl -sSI '%s' | tr -d '\\r'", url);
    ck_assert_msg(strstr(h, "HTTP/1.1 200"), "%s", h);
    ck_assert_msg(strstr(h, "ETag: \"origin-etag-1\"\n"), "%s", h);
    ck_assert_msg(strstr(h, "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\n"), "%s", h);
    ck_assert_msg(strstr(h, "Content-Length: 3145851\n"), "%s", h);
    ck_assert_msg(strstr(h, "X-Ferry-Have: chunks=4; chunk-size=1048576; have=\n"), "%s", h);
    ck_assert_msg(strstr(h, "Link: </files/relay.bin.meta4>; rel=describedby"), "%s", h);
    free(h);
    /* not yet verified: 503 with the set */
    h = sh_out("curl -s -D - -o /dev/null -r 0-99 '%s' | tr -d '\\r'", url);
    ck_assert_msg(strstr(h, "HTTP/1.1 503") && strstr(h, "Retry-After: 1\n") &&
                  strstr(h, "X-Ferry-Have: chunks=4; chunk-size=1048576; have=\n"), "%s", h);
    free(h);
    /* chunk 2 verified: its bytes are served, with If-Range on the origin's ETag */
    relay_mark(test_relay, 2);
    ck_assert_int_eq(curl_code(out, "-r 2097252-2097351 -H 'If-Range: \"origin-etag-1\"'", url),
                     206);
    ck_assert(same_slice(out, small_path, 2097252, 100));
    h = sh_out("curl -s -D - -o /dev/null -r 2097152-2097161 '%s' | tr -d '\\r'", url);
    ck_assert_msg(strstr(h, "Content-Range: bytes 2097152-2097161/3145851\n") &&
                  strstr(h, "X-Ferry-Have: chunks=4; chunk-size=1048576; have=2\n"), "%s", h);
    free(h);
    /* a range reaching into chunk 3, and the whole file: not yet */
    ck_assert_int_eq(curl_code(out, "-r 3145720-3145739", url), 503);
    ck_assert_int_eq(curl_code(out, "", url), 503);
    /* another version in If-Range: the whole file, which is not there yet */
    ck_assert_int_eq(curl_code(out, "-r 2097252-2097351 -H 'If-Range: \"other\"'", url), 503);
    /* the origin's manifest, byte for byte */
    ck_assert_int_eq(curl_code(out, "", murl), 200);
    h = sh_out("cat '%s'", out);
    ck_assert_str_eq(h, "<metalink>origin</metalink>");
    free(h);
    /* complete: the whole file */
    relay_complete(test_relay);
    ck_assert_int_eq(curl_code(out, "", url), 200);
    ck_assert_int_eq(sh("cmp -s '%s' '%s'", out, small_path), 0);
    h = sh_out("curl -sSI '%s' | tr -d '\\r'", url);
    ck_assert_msg(strstr(h, "X-Ferry-Have: chunks=4; chunk-size=1048576; have=*\n"), "%s", h);
    free(h);
    /* cancelled: gone */
    relay_withdraw(test_relay);
    ck_assert_int_eq(curl_code(out, "-r 0-9", url), 404);
    test_relay = relay_unref(test_relay);
    free(test_relay_path);
    free(out);
}
END_TEST

/* A job with a Peer source (tests/tools/fake_relay.py standing in for another host's
 * relay URL) besides its origin (this server role): the peer's first "not yet" answers
 * are no job error, most chunks come from the peer, the peer's corrupted chunk is caught
 * by the origin's manifest and fetched from the origin, the copy is exact. */
START_TEST(test_peer_source)
{
    struct ferry_jobs *jobs = NULL;
    struct ferry_job_create req = {0};
    struct ferry_job_info *info = NULL;
    struct ferry_status st;
    char id[FERRY_GUID_STRLEN], url[256], peer[256], local[512], *h, *etag, *lm;
    char *img = tpath("pub/peer.img"), *in = tpath("in"), *plog = tpath("peer.log");
    enum ferry_job_state js = FERRY_JOB_QUEUED;
    int pport = free_port();
    pid_t pp;

    ck_assert_msg(getenv("FERRY_SRC"), "FERRY_SRC is not set: run through meson test");
    need("python3");
    fill_random(img, 8u * 1024 * 1024, 7);
    ck_assert_int_eq(mkdir(in, 0755), 0);
    server_stop();
    set("download-root", in);
    server_start();
    publish("peer.img", img, NULL);
    wait_manifest("peer.img");
    snprintf(url, sizeof(url), "%s/peer.img", base);
    etag = sh_out("curl -sSI '%s' | tr -d '\\r' | sed -n 's/^ETag: //p'", url);
    lm = sh_out("curl -sSI '%s' | tr -d '\\r' | sed -n 's/^Last-Modified: //p'", url);
    etag[strcspn(etag, "\n")] = '\0';
    lm[strcspn(lm, "\n")] = '\0';
    ck_assert_int_gt(strlen(etag), 2);
    /* the peer lists every chunk, says "not yet" 3 times, corrupts chunk 7 (the last) */
    pp = fork();
    ck_assert_int_ge(pp, 0);
    if (pp == 0) {
        char port_s[16], *tool;
        snprintf(port_s, sizeof(port_s), "%d", pport);
        if (asprintf(&tool, "%s/tests/tools/fake_relay.py", getenv("FERRY_SRC")) < 0)
            _exit(127);
        execlp("python3", "python3", tool, port_s, img, etag, lm, "1048576", "7", "3", plog,
               (char *)NULL);
        _exit(127);
    }
    for (int t = 0; t < 500 && sh("curl -s -o /dev/null -I http://127.0.0.1:%d/x", pport) != 0;
         t++)
        usleep(10000);
    snprintf(peer, sizeof(peer), "http://127.0.0.1:%d/relay/peer.img", pport);

    ck_assert_int_eq(jobs_new(cfg, &jobs), 0);
    snprintf(local, sizeof(local), "%s/peer.img", in);
    req.display_name = "peer";
    req.remote_url = url;
    req.local_file = local;
    req.suspend = true;
    ck_assert_msg(ferry_jobs_create(jobs, &req, id, &st) == 0, "%s", st.text);
    ck_assert_msg(ferry_jobs_set_option(jobs, id, "Peer", peer, &st) == 0, "%s", st.text);
    ck_assert_int_eq(ferry_jobs_set_state(jobs, id, FERRY_JOB_ACTION_RESUME, &st), 0);
    for (int t = 0; t < 3000; t++) {
        ck_assert_int_eq(ferry_jobs_get(jobs, id, &info, &st), 0);
        js = info->state;
        if (js == FERRY_JOB_TRANSFERRED || js == FERRY_JOB_ERROR ||
            js == FERRY_JOB_TRANSIENT_ERROR)
            break;
        info = ferry_job_info_free(info);
        usleep(10000);
    }
    ck_assert_int_eq(js, FERRY_JOB_TRANSFERRED);
    ck_assert_uint_eq(info->transient_error_count, 0);
    /* good chunks from the peer until it served the bad one (how many depends on the
     * order the answers came in), the bad one and the rest from the origin; every byte
     * counted once */
    ck_assert_msg(info->bytes_from_peers >= 1u * 1024 * 1024 &&
                  info->bytes_from_peers <= 7u * 1024 * 1024,
                  "from peers %llu", (unsigned long long)info->bytes_from_peers);
    ck_assert_msg(info->bytes_from_origin >= 1u * 1024 * 1024,
                  "from origin %llu", (unsigned long long)info->bytes_from_origin);
    ck_assert_uint_eq(info->bytes_from_origin + info->bytes_from_peers, 8u * 1024 * 1024);
    info = ferry_job_info_free(info);
    ck_assert_int_eq(ferry_jobs_set_state(jobs, id, FERRY_JOB_ACTION_COMPLETE, &st), 0);
    ck_assert_int_eq(sh("cmp -s '%s' '%s'", local, img), 0);
    /* the peer said "not yet" 3 times and served chunk 7 once: then it was dropped */
    h = sh_out("grep -c '^503$' '%s'; grep -c '^206 7$' '%s'", plog, plog);
    ck_assert_str_eq(h, "3\n1\n");
    free(h);
    jobs = jobs_free(jobs);
    kill(pp, SIGTERM);
    waitpid(pp, NULL, 0);
    free(etag);
    free(lm);
    free(img);
    free(in);
    free(plog);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("server_role");
    TCase *tc = tcase_create("role");
    SRunner *sr;
    int failed;

    if (system("command -v curl >/dev/null 2>&1") != 0)
        ft_skip("curl not installed");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_get_head_ranges);
    tcase_add_test(tc, test_relay_url);
    tcase_add_test(tc, test_peer_source);
    tcase_add_test(tc, test_conditionals_keepalive);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_wget);
    tcase_add_test(tc, test_aria2c_parallel);
    tcase_add_test(tc, test_aria2c_metalink);
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_restart_and_close);
    tcase_add_test(tc, test_basic_auth);
    tcase_add_test(tc, test_https);
    tcase_add_test(tc, test_client_cert_rule);
    tcase_add_test(tc, test_manifest_invalidation);
    tcase_add_test(tc, test_client_role_interop);
    tcase_add_test(tc, test_source_changes_and_pipelining);
    tcase_add_test(tc, test_hosts);
    tcase_add_test(tc, test_concurrent_churn);
    tcase_add_test(tc, test_config_urls_and_info);
    suite_add_tcase(s, tc);
    /* needs a non-loopback address of this host; without one the case is left out and
     * that is said on stderr */
    if (system("ip -4 -o addr show scope global 2>/dev/null | grep -q inet") == 0) {
        TCase *tn = tcase_create("non_loopback");
        tcase_add_checked_fixture(tn, setup, teardown);
        tcase_set_timeout(tn, 60);
        tcase_add_test(tn, test_basic_non_loopback);
        suite_add_tcase(s, tn);
    } else {
        fprintf(stderr, "test_basic_non_loopback not run: no global IPv4 address\n");
    }
    if (getenv("FERRY_TEST_LONG") && strcmp(getenv("FERRY_TEST_LONG"), "1") == 0) {
        TCase *tl = tcase_create("long");
        tcase_add_checked_fixture(tl, setup, teardown);
        tcase_set_timeout(tl, 600);
        tcase_add_test(tl, test_aria2c_1g);
        suite_add_tcase(s, tl);
    }
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
