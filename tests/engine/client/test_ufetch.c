/*
 * tests/engine/client/test_ufetch.c - engine/client/ufetch.c, the io_uring range fetcher,
 * driven directly against a real nginx (and tests/tools/faultproxy.py in front of it):
 * byte-exact ranges over N connections and 1 or 2 fetch threads with the XXH3 of every
 * range checked, every error it reports (HTTP status, remote changed, 200 to a range,
 * refused), retries after a reset / truncated body / a keep-alive connection the server
 * closed, the stall timeout, stop mid-range (progress = bytes on disk + their digest), and
 * the bandwidth bucket. Every test runs in the receive mode FERRY_FETCH_SPLICE says (on:
 * splice, else recv + pwrite; the client/ufetch-splice registration sets it); the splice_*
 * tests run both modes whatever it says and compare them.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client-test.h"
#include "ferry-test.h"
#include "client/verify.h"
#include "ferry/rate.h"
#include "ufetch.h"

#define MiB (1024u * 1024u)

struct uenv {
    char *tmp;
    char www[512], ngxdir[512], src[600], out[600];
    struct ct_nginx ngx;
    struct ufetch *u;
    int fd;
    uint8_t *data;   /* the source file's bytes */
    uint64_t size;
    char etag[128], lm[128];
};

static atomic_uint wakes;
static int uf_splice = -1;          /* receive mode of uenv_params: -1 FERRY_FETCH_SPLICE */
static uint64_t last_spliced;       /* ufetch_source_spliced of fetch_one's last source */

static void
uenv_wake(void *userdata)
{
    (void)userdata;
    atomic_fetch_add(&wakes, 1);
}

/* nginx's validators for the file, as a HEAD shows them (curl, once). */
static void
uenv_validators(struct uenv *e, const char *url)
{
    char cmd[1200], *txt = NULL, *p;
    size_t len = 0;
    char hf[700];

    snprintf(hf, sizeof(hf), "%s/head.txt", e->tmp);
    snprintf(cmd, sizeof(cmd), "curl -s -I -o %s '%s'", hf, url);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(ft_read_file(hf, &txt, &len), 0);
    p = strstr(txt, "ETag: ");
    ck_assert_ptr_nonnull(p);
    snprintf(e->etag, sizeof(e->etag), "%.*s", (int)strcspn(p + 6, "\r\n"), p + 6);
    p = strstr(txt, "Last-Modified: ");
    ck_assert_ptr_nonnull(p);
    snprintf(e->lm, sizeof(e->lm), "%.*s", (int)strcspn(p + 15, "\r\n"), p + 15);
    free(txt);
}

static void
uenv_init(struct uenv *e, const char *tag, const char *nginx_extra, uint64_t size,
          unsigned threads)
{
    char url[256];
    size_t len = 0;

    memset(e, 0, sizeof(*e));
    e->tmp = ft_tmpdir_new(tag);
    ck_assert_ptr_nonnull(e->tmp);
    snprintf(e->www, sizeof(e->www), "%s/www", e->tmp);
    snprintf(e->ngxdir, sizeof(e->ngxdir), "%s/nginx", e->tmp);
    snprintf(e->src, sizeof(e->src), "%s/f.bin", e->www);
    snprintf(e->out, sizeof(e->out), "%s/out.bin", e->tmp);
    mkdir(e->www, 0755);
    ck_assert_int_eq(ct_random_file(e->src, size, 7), 0);
    ck_assert_int_eq(ft_read_file(e->src, (char **)&e->data, &len), 0);
    ck_assert_uint_eq(len, size);
    e->size = size;
    ck_assert_int_eq(ct_nginx_start(&e->ngx, e->ngxdir, e->www, nginx_extra), 0);
    snprintf(url, sizeof(url), "%s/f.bin", e->ngx.url);
    uenv_validators(e, url);
    e->fd = open(e->out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ck_assert_int_ge(e->fd, 0);
    ck_assert_int_eq(ftruncate(e->fd, (off_t)size), 0);
    ck_assert_int_eq(ufetch_new(threads, uenv_wake, NULL, &e->u), 0);
}

static void
uenv_done(struct uenv *e)
{
    e->u = ufetch_free(e->u);
    close(e->fd);
    free(e->data);
    ct_nginx_done(&e->ngx);
    e->tmp = ft_tmpdir_free(e->tmp);
}

static void
uenv_params(struct uenv *e, struct ufetch_source_params *p, int port, unsigned conns)
{
    struct sockaddr_in *in = (struct sockaddr_in *)&p->addr;

    memset(p, 0, sizeof(*p));
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    p->addrlen = sizeof(*in);
    p->host = "127.0.0.1";
    p->user_agent = "ferry-test";
    p->target = "/f.bin";
    p->if_range = e->etag;
    p->etag = e->etag;
    p->last_modified = e->lm;
    p->total = e->size;
    p->fd = e->fd;
    p->conns = conns;
    p->connect_timeout_s = 5;
    p->stall_timeout_s = 5;
    if (uf_splice >= 0) {
        p->splice = uf_splice == 1;
    } else {
        const char *v = getenv("FERRY_FETCH_SPLICE");
        p->splice = v && strcmp(v, "on") == 0;
    }
}

/* Wait for `n` results (at most timeout_ms); returns how many arrived. */
static size_t
wait_results(struct ufetch_source *s, struct ufetch_result *out, size_t n, int timeout_ms)
{
    size_t got = 0;

    for (int waited = 0; got < n && waited < timeout_ms; waited += 5) {
        got += ufetch_poll(s, out + got, n - got);
        if (got < n)
            ct_sleep_ms(5);
    }
    return got;
}

/* Did the temp file get exactly the source's bytes [off, off+len)? */
static bool
bytes_match(struct uenv *e, uint64_t off, uint64_t len)
{
    uint8_t *b = malloc(len ? len : 1);
    bool ok;

    ck_assert_ptr_nonnull(b);
    ok = pread(e->fd, b, len, (off_t)off) == (ssize_t)len && memcmp(b, e->data + off, len) == 0;
    free(b);
    return ok;
}

/* Fetch one range on a fresh source through `port`; returns the result. */
static struct ufetch_result
fetch_one(struct uenv *e, int port, uint64_t start, uint64_t end, unsigned stall_s,
          uint8_t digest[16])
{
    struct ufetch_source_params p;
    struct ufetch_source *s = NULL;
    struct ufetch_result res = {.status = -1};
    void *hs = verify_stream_new();

    uenv_params(e, &p, port, 1);
    if (stall_s)
        p.stall_timeout_s = stall_s;
    ck_assert_int_eq(ufetch_source_new(e->u, &p, &s), 0);
    ck_assert_int_eq(ufetch_feed(s, hs, start, end, hs), 0);
    ck_assert_uint_eq(wait_results(s, &res, 1, 30000), 1);
    ck_assert_ptr_eq(res.tag, hs);
    last_spliced = ufetch_source_spliced(s);
    s = ufetch_source_free(s);
    if (digest)
        verify_stream_digest(hs, digest);
    verify_stream_free(hs);
    return res;
}

/* Many ranges over N connections and 1 / 2 threads: every byte and every digest right. */
START_TEST(test_ranges)
{
    static const unsigned conf[][2] = {{1, 1}, {1, 4}, {2, 4}, {2, 8}};
    uint64_t size = 21 * MiB + 12345, cs = 4 * MiB, n = (size + cs - 1) / cs;
    struct uenv e;

    uenv_init(&e, "uf-ranges", NULL, size, 2);
    for (size_t k = 0; k < sizeof(conf) / sizeof(conf[0]); k++) {
        struct ufetch *u = NULL;
        struct ufetch_source_params p;
        struct ufetch_source *s = NULL;
        struct ufetch_result res[16];
        void *hs[16];

        ck_assert_int_eq(ufetch_new(conf[k][0], uenv_wake, NULL, &u), 0);
        ck_assert_uint_eq(ufetch_threads(u), conf[k][0]);
        ck_assert_int_eq(ftruncate(e.fd, 0), 0);
        ck_assert_int_eq(ftruncate(e.fd, (off_t)size), 0);
        uenv_params(&e, &p, e.ngx.port, conf[k][1]);
        ck_assert_int_eq(ufetch_source_new(u, &p, &s), 0);
        for (uint64_t i = 0; i < n; i++) {
            uint64_t end = (i + 1) * cs > size ? size - 1 : (i + 1) * cs - 1;
            hs[i] = verify_stream_new();
            ck_assert_int_eq(ufetch_feed(s, hs[i], i * cs, end, hs[i]), 0);
        }
        ck_assert_uint_eq(wait_results(s, res, n, 60000), n);
        for (uint64_t i = 0; i < n; i++) {
            uint64_t ci, len;
            uint8_t got[16], want[16];
            for (ci = 0; ci < n && hs[ci] != res[i].tag; ci++)
                ;
            ck_assert_uint_lt(ci, n);
            len = (ci + 1) * cs > size ? size - ci * cs : cs;
            ck_assert_int_eq(res[i].status, UFETCH_DONE);
            ck_assert_uint_eq(res[i].written, len);
            verify_stream_digest(hs[ci], got);
            verify_digest(e.data + ci * cs, len, want);
            ck_assert_mem_eq(got, want, 16);
            ck_assert_mem_eq(res[i].digest, want, 16); /* the result's digest at `written` */
        }
        ck_assert(bytes_match(&e, 0, size));
        s = ufetch_source_free(s);
        u = ufetch_free(u);
        for (uint64_t i = 0; i < n; i++)
            verify_stream_free(hs[i]);
    }
    /* keep-alive: 4 connections carried all ranges of the four runs (6 per run) */
    ck_assert_uint_eq(ct_nginx_count(&e.ngx, "GET /f.bin"), 4 * n);
    ck_assert_uint_gt(atomic_load(&wakes), 0);
    uenv_done(&e);
}
END_TEST

/* What ufetch reports instead of bytes. */
START_TEST(test_errors)
{
    struct uenv e;
    struct ufetch_source_params p;
    struct ufetch_source *s = NULL;
    struct ufetch_result r;
    void *hs;
    int port;

    uenv_init(&e, "uf-errors", "location /noranges/ { max_ranges 0; }", 3 * MiB, 1);

    /* 404 */
    uenv_params(&e, &p, e.ngx.port, 1);
    p.target = "/missing.bin";
    hs = verify_stream_new();
    ck_assert_int_eq(ufetch_source_new(e.u, &p, &s), 0);
    ck_assert_int_eq(ufetch_feed(s, hs, 0, 99, hs), 0);
    ck_assert_uint_eq(wait_results(s, &r, 1, 10000), 1);
    ck_assert_int_eq(r.status, UFETCH_E_HTTP);
    ck_assert_int_eq(r.http_status, 404);
    s = ufetch_source_free(s);

    /* another ETag than the probe saw: the remote changed (If-Range makes nginx send 200) */
    uenv_params(&e, &p, e.ngx.port, 1);
    p.etag = p.if_range = "\"not-this-one\"";
    ck_assert_int_eq(ufetch_source_new(e.u, &p, &s), 0);
    ck_assert_int_eq(ufetch_feed(s, hs, MiB, 2 * MiB - 1, hs), 0);
    ck_assert_uint_eq(wait_results(s, &r, 1, 10000), 1);
    ck_assert_int_eq(r.status, UFETCH_E_CHANGED);
    s = ufetch_source_free(s);

    /* another total size in Content-Range: changed */
    uenv_params(&e, &p, e.ngx.port, 1);
    p.total = e.size + 1;
    ck_assert_int_eq(ufetch_source_new(e.u, &p, &s), 0);
    ck_assert_int_eq(ufetch_feed(s, hs, 0, 1023, hs), 0);
    ck_assert_uint_eq(wait_results(s, &r, 1, 10000), 1);
    ck_assert_int_eq(r.status, UFETCH_E_CHANGED);
    s = ufetch_source_free(s);

    /* a server that ignores Range (200, same validators): E_NO_RANGES for a part ... */
    {
        char target[700];
        snprintf(target, sizeof(target), "%s/noranges", e.www);
        mkdir(target, 0755);
        snprintf(target, sizeof(target), "%s/noranges/f.bin", e.www);
        ck_assert_int_eq(link(e.src, target), 0);
    }
    uenv_params(&e, &p, e.ngx.port, 1);
    p.target = "/noranges/f.bin";
    ck_assert_int_eq(ufetch_source_new(e.u, &p, &s), 0);
    ck_assert_int_eq(ufetch_feed(s, hs, 0, 1023, hs), 0);
    ck_assert_uint_eq(wait_results(s, &r, 1, 10000), 1);
    ck_assert_int_eq(r.status, UFETCH_E_NO_RANGES);
    ck_assert_int_eq(r.http_status, 200);
    /* ... and the whole file when the whole file was asked for */
    verify_stream_reset(hs);
    ck_assert_int_eq(ufetch_feed(s, hs, 0, e.size - 1, hs), 0);
    ck_assert_uint_eq(wait_results(s, &r, 1, 10000), 1);
    ck_assert_int_eq(r.status, UFETCH_DONE);
    ck_assert(bytes_match(&e, 0, e.size));
    s = ufetch_source_free(s);

    /* nobody listening */
    port = ct_free_port();
    uenv_params(&e, &p, port, 1);
    ck_assert_int_eq(ufetch_source_new(e.u, &p, &s), 0);
    ck_assert_int_eq(ufetch_feed(s, hs, 0, 1023, hs), 0);
    ck_assert_uint_eq(wait_results(s, &r, 1, 10000), 1);
    ck_assert_int_eq(r.status, UFETCH_E_NET);
    ck_assert_int_eq(r.err, -ECONNREFUSED);
    s = ufetch_source_free(s);

    /* refused parameters */
    uenv_params(&e, &p, e.ngx.port, 1);
    p.host = "a\r\nX: y";
    ck_assert_int_eq(ufetch_source_new(e.u, &p, &s), -EINVAL);
    uenv_params(&e, &p, e.ngx.port, 0);
    ck_assert_int_eq(ufetch_source_new(e.u, &p, &s), -EINVAL);
    verify_stream_free(hs);
    uenv_done(&e);
}
END_TEST

/* The server closes an idle keep-alive connection: the next range goes out on a fresh one
 * without an error. */
START_TEST(test_keepalive_closed)
{
    struct uenv e;
    struct ufetch_source_params p;
    struct ufetch_source *s = NULL;
    struct ufetch_result r;
    void *hs = verify_stream_new();

    uenv_init(&e, "uf-ka", "keepalive_timeout 1s;", 2 * MiB, 1);
    uenv_params(&e, &p, e.ngx.port, 1);
    ck_assert_int_eq(ufetch_source_new(e.u, &p, &s), 0);
    ck_assert_int_eq(ufetch_feed(s, hs, 0, MiB - 1, hs), 0);
    ck_assert_uint_eq(wait_results(s, &r, 1, 10000), 1);
    ck_assert_int_eq(r.status, UFETCH_DONE);
    ct_sleep_ms(1600); /* nginx closes the idle connection */
    verify_stream_reset(hs);
    ck_assert_int_eq(ufetch_feed(s, hs, MiB, 2 * MiB - 1, hs), 0);
    ck_assert_uint_eq(wait_results(s, &r, 1, 10000), 1);
    ck_assert_int_eq(r.status, UFETCH_DONE);
    ck_assert_uint_eq(r.written, MiB);
    ck_assert(bytes_match(&e, 0, 2 * MiB));
    s = ufetch_source_free(s);
    verify_stream_free(hs);
    uenv_done(&e);
}
END_TEST


/* Cuts mid-body (RST, FIN) are retried on a fresh connection from the last byte in; the
 * range's digest still covers exactly its bytes. Too many cuts in a row: E_NET. A stall:
 * E_TIMEOUT after stall-timeout. */
static void
faults(void)
{
    static const char *const cuts[] = {"reset after=300000 times=2",
                                       "truncate after=1500000 times=1"};
    struct uenv e;
    struct ufetch_result r;
    uint8_t d[16], want[16];
    int port;
    pid_t px;
    struct timespec t0, t1;

    uenv_init(&e, "uf-faults", NULL, 4 * MiB, 2);
    verify_digest(e.data, 4 * MiB, want);
    for (size_t k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++) {
        ck_assert_int_eq(ftruncate(e.fd, 0), 0);
        ck_assert_int_eq(ftruncate(e.fd, (off_t)e.size), 0);
        px = ct_faultproxy_start(e.ngx.port, e.tmp, cuts[k], &port);
        r = fetch_one(&e, port, 0, 4 * MiB - 1, 0, d);
        ct_faultproxy_stop(px);
        ck_assert_msg(r.status == UFETCH_DONE, "%s: status %d err %d", cuts[k], r.status, r.err);
        ck_assert_uint_eq(r.written, 4 * MiB);
        ck_assert_mem_eq(d, want, 16);
        ck_assert(bytes_match(&e, 0, 4 * MiB));
        if (uf_splice == 1)
            ck_assert_uint_gt(last_spliced, 0);
    }
    /* every response cut before a byte of progress: gives up after the retries */
    px = ct_faultproxy_start(e.ngx.port, e.tmp, "reset after=0 times=100", &port);
    r = fetch_one(&e, port, 0, 4 * MiB - 1, 0, NULL);
    ct_faultproxy_stop(px);
    ck_assert_int_eq(r.status, UFETCH_E_NET);
    ck_assert_int_lt(r.err, 0);
    /* stall after 100000 bytes: E_TIMEOUT after ~1 s, the bytes before it kept */
    px = ct_faultproxy_start(e.ngx.port, e.tmp, "stall after=100000", &port);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    r = fetch_one(&e, port, 0, 4 * MiB - 1, 1, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ct_faultproxy_stop(px);
    ck_assert_int_eq(r.status, UFETCH_E_TIMEOUT);
    ck_assert_uint_le(r.written, 100000);
    ck_assert(bytes_match(&e, 0, r.written));
    ck_assert_int_ge((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000, 900);
    uenv_done(&e);
}

START_TEST(test_faults)
{
    faults();
}
END_TEST

/* Stop in the middle of a slow range: afterwards the progress says how many bytes are in
 * the file and their digest, and both are true. */
static void
stop_progress(void)
{
    struct uenv e;
    struct ufetch_source_params p;
    struct ufetch_source *s = NULL;
    struct ufetch_result r;
    void *hs = verify_stream_new();
    uint64_t w = 0;
    uint8_t d[16], want[16];

    uenv_init(&e, "uf-stop", "limit_rate 4m;", 16 * MiB, 1);
    uenv_params(&e, &p, e.ngx.port, 1);
    ck_assert_int_eq(ufetch_source_new(e.u, &p, &s), 0);
    ck_assert_int_eq(ufetch_feed(s, hs, 0, e.size - 1, hs), 0);
    ct_sleep_ms(1200);
    ck_assert(ufetch_progress(s, hs, &w, d));
    ck_assert_uint_gt(w, 0);
    ufetch_source_stop(s);
    ck_assert_uint_eq(ufetch_poll(s, &r, 1), 0);
    ck_assert(ufetch_progress(s, hs, &w, d));
    ck_assert_uint_gt(w, MiB);
    ck_assert_uint_lt(w, e.size);
    verify_digest(e.data, w, want);
    ck_assert_mem_eq(d, want, 16);
    verify_stream_digest(hs, d); /* the stream is the caller's again and covers w bytes */
    ck_assert_mem_eq(d, want, 16);
    ck_assert(bytes_match(&e, 0, w));
    ck_assert_int_eq(ufetch_feed(s, hs, 0, 1, hs), -ESHUTDOWN);
    if (p.splice)
        ck_assert_uint_gt(ufetch_source_spliced(s), 0);
    s = ufetch_source_free(s);
    verify_stream_free(hs);
    uenv_done(&e);
}

START_TEST(test_stop_progress)
{
    stop_progress();
}
END_TEST

/* The job's bandwidth bucket holds 6 MiB to about 4 MiB/s. */
static void
rate(void)
{
    struct uenv e;
    struct ufetch_source_params p;
    struct ufetch_source *s = NULL;
    struct ufetch_result r;
    void *hs = verify_stream_new();
    struct timespec t0, t1;
    long ms;
    uint8_t d[16], want[16];

    uenv_init(&e, "uf-rate", NULL, 6 * MiB, 1);
    uenv_params(&e, &p, e.ngx.port, 2);
    p.rate_bps = 4 * MiB;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(ufetch_source_new(e.u, &p, &s), 0);
    ck_assert_int_eq(ufetch_feed(s, hs, 0, e.size - 1, hs), 0);
    ck_assert_uint_eq(wait_results(s, &r, 1, 20000), 1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert_int_eq(r.status, UFETCH_DONE);
    ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    ck_assert_msg(ms >= 1100 && ms < 4000, "6 MiB at 4 MiB/s took %ld ms", ms);
    ck_assert(bytes_match(&e, 0, e.size));
    verify_stream_digest(hs, d);
    verify_digest(e.data, e.size, want);
    ck_assert_mem_eq(d, want, 16);
    ck_assert_mem_eq(r.digest, want, 16);
    if (p.splice)
        ck_assert_uint_gt(ufetch_source_spliced(s), 4 * MiB);
    s = ufetch_source_free(s);
    verify_stream_free(hs);
    uenv_done(&e);
}

START_TEST(test_rate)
{
    rate();
}
END_TEST

/* Two sources paced by one shared bucket (the role's) and a fast one (a job's): together
 * 6 MiB at about 4 MiB/s, whatever the fast bucket allows. */
START_TEST(test_shared_rate)
{
    struct uenv e;
    struct ufetch_source_params p;
    struct ufetch_source *s[2] = {NULL, NULL};
    struct ufetch_result r[2];
    void *hs[2] = {verify_stream_new(), verify_stream_new()};
    struct ferry_rate *slow = ferry_rate_new(4 * MiB), *fast = ferry_rate_new(512 * MiB);
    struct timespec t0, t1;
    long ms;

    uenv_init(&e, "uf-srate", NULL, 6 * MiB, 2);
    uenv_params(&e, &p, e.ngx.port, 1);
    p.rates[0] = fast;
    p.rates[1] = slow;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(ufetch_source_new(e.u, &p, &s[i]), 0);
        ck_assert_int_eq(ufetch_feed(s[i], hs[i], (uint64_t)i * 3 * MiB,
                                     (uint64_t)(i + 1) * 3 * MiB - 1, hs[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        ck_assert_uint_eq(wait_results(s[i], &r[i], 1, 20000), 1);
        ck_assert_int_eq(r[i].status, UFETCH_DONE);
        ck_assert_uint_eq(r[i].written, 3 * MiB);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    ck_assert_msg(ms >= 1100 && ms < 4000, "2 x 3 MiB at 4 MiB/s took %ld ms", ms);
    ck_assert(bytes_match(&e, 0, e.size));
    for (int i = 0; i < 2; i++) {
        s[i] = ufetch_source_free(s[i]);
        verify_stream_free(hs[i]);
    }
    /* the sources dropped their references: ours are the last */
    ferry_rate_unref(slow);
    ferry_rate_unref(fast);
    uenv_done(&e);
}
END_TEST

/* Fetch [0, size) as 4 MiB ranges over 2 connections in the mode uf_splice says, into a
 * truncated e->fd; the digests of the ranges land in d. Returns the bytes spliced. */
static uint64_t
fetch_all(struct uenv *e, uint8_t d[][16], size_t n)
{
    struct ufetch_source_params p;
    struct ufetch_source *s = NULL;
    struct ufetch_result res[8];
    void *hs[8];
    uint64_t cs = 4 * MiB, spliced;

    ck_assert_uint_le(n, 8);
    ck_assert_int_eq(ftruncate(e->fd, 0), 0);
    ck_assert_int_eq(ftruncate(e->fd, (off_t)e->size), 0);
    uenv_params(e, &p, e->ngx.port, 2);
    ck_assert_int_eq(ufetch_source_new(e->u, &p, &s), 0);
    ck_assert(ufetch_source_splicing(s) == p.splice);
    for (size_t i = 0; i < n; i++) {
        uint64_t end = (i + 1) * cs < e->size ? (i + 1) * cs - 1 : e->size - 1;
        hs[i] = verify_stream_new();
        ck_assert_int_eq(ufetch_feed(s, hs[i], i * cs, end, hs[i]), 0);
    }
    ck_assert_uint_eq(wait_results(s, res, n, 30000), n);
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < n && res[k].tag != hs[i])
            k++;
        ck_assert_uint_lt(k, n);
        ck_assert_int_eq(res[k].status, UFETCH_DONE);
        verify_stream_digest(hs[i], d[i]);
        ck_assert_mem_eq(res[k].digest, d[i], 16);
        verify_stream_free(hs[i]);
    }
    spliced = ufetch_source_spliced(s);
    s = ufetch_source_free(s);
    ck_assert(bytes_match(e, 0, e->size));
    return spliced;
}

/* Splice on and off fetch the same bytes with the same digests (each the XXH3 of its
 * range's bytes); only "on" moves bytes by splice. */
START_TEST(test_splice_same)
{
    uint64_t size = 9 * MiB + 4321, cs = 4 * MiB;
    uint8_t d[2][3][16], want[16];
    struct uenv e;

    uenv_init(&e, "uf-splice", NULL, size, 2);
    uf_splice = 0;
    ck_assert_uint_eq(fetch_all(&e, d[0], 3), 0);
    uf_splice = 1;
    /* all but the few body bytes that come with each head */
    ck_assert_uint_gt(fetch_all(&e, d[1], 3), size - 3 * 64 * 1024);
    for (size_t i = 0; i < 3; i++) {
        uint64_t len = i < 2 ? cs : size - 2 * cs;
        verify_digest(e.data + i * cs, len, want);
        ck_assert_mem_eq(d[0][i], want, 16);
        ck_assert_mem_eq(d[1][i], want, 16);
    }
    uenv_done(&e);
}
END_TEST

/* "auto": a file on tmpfs (/dev/shm) is not worth splicing, one on a disk file system is;
 * either way the bytes arrive (forced splice works on tmpfs too). */
START_TEST(test_splice_auto)
{
    char shm[] = "/dev/shm/ferry-uf-XXXXXX";
    uint8_t d[3][16], want[16];
    struct statfs sf;
    struct uenv e;
    int fd, diskfd;

    uenv_init(&e, "uf-splice-auto", NULL, 5 * MiB + 77, 1);
    ck_assert_int_eq(fstatfs(e.fd, &sf), 0);
    if ((unsigned long)sf.f_type == EXT4_SUPER_MAGIC ||
        (unsigned long)sf.f_type == XFS_SUPER_MAGIC ||
        (unsigned long)sf.f_type == BTRFS_SUPER_MAGIC)
        ck_assert(ufetch_splice_pays(e.fd));
    fd = mkstemp(shm);
    if (fd < 0) {
        uenv_done(&e);
        return; /* no /dev/shm here: only the disk half */
    }
    ck_assert_int_eq(unlink(shm), 0);
    ck_assert(!ufetch_splice_pays(fd));
    ck_assert(!ufetch_splice_pays(-1));
    diskfd = e.fd;
    e.fd = fd;
    uf_splice = ufetch_splice_pays(fd);
    ck_assert_uint_eq(fetch_all(&e, d, 2), 0);
    verify_digest(e.data + 4 * MiB, e.size - 4 * MiB, want);
    ck_assert_mem_eq(d[1], want, 16);
    uf_splice = 1;
    ck_assert_uint_gt(fetch_all(&e, d, 2), 0);
    ck_assert_mem_eq(d[1], want, 16);
    e.fd = diskfd;
    close(fd);
    uenv_done(&e);
}
END_TEST

/* A file that refuses splice(2) (EINVAL; here O_APPEND, like a file system without
 * splice_write): the bytes already in the pipe are written the recv way, the source
 * recvs from then on, and the range is done with every byte and the right digest. One
 * range from 0 into an empty file, so O_APPEND's pwrite lands at the offset asked. */
START_TEST(test_splice_refused)
{
    struct uenv e;
    struct ufetch_source_params p;
    struct ufetch_source *s = NULL;
    struct ufetch_result r;
    void *hs = verify_stream_new();
    uint8_t d[16], want[16];
    int diskfd;

    uenv_init(&e, "uf-splice-refused", NULL, 3 * MiB + 5, 1);
    diskfd = e.fd;
    e.fd = open(e.out, O_RDWR | O_APPEND | O_TRUNC | O_CLOEXEC);
    ck_assert_int_ge(e.fd, 0);
    uf_splice = 1;
    uenv_params(&e, &p, e.ngx.port, 1);
    ck_assert_int_eq(ufetch_source_new(e.u, &p, &s), 0);
    ck_assert(ufetch_source_splicing(s));
    ck_assert_int_eq(ufetch_feed(s, hs, 0, e.size - 1, hs), 0);
    ck_assert_uint_eq(wait_results(s, &r, 1, 20000), 1);
    ck_assert_msg(r.status == UFETCH_DONE, "status %d err %d", r.status, r.err);
    ck_assert_uint_eq(r.written, e.size);
    ck_assert(!ufetch_source_splicing(s));
    ck_assert_uint_eq(ufetch_source_spliced(s), 0);
    s = ufetch_source_free(s);
    verify_digest(e.data, e.size, want);
    verify_stream_digest(hs, d);
    ck_assert_mem_eq(d, want, 16);
    ck_assert_mem_eq(r.digest, want, 16);
    ck_assert(bytes_match(&e, 0, e.size));
    verify_stream_free(hs);
    close(e.fd);
    e.fd = diskfd;
    uenv_done(&e);
}
END_TEST

/* Splice mode under a bandwidth limit, cut connections and a stop mid-range. */
START_TEST(test_splice_rate)
{
    uf_splice = 1;
    rate();
}
END_TEST

START_TEST(test_splice_faults)
{
    uf_splice = 1;
    faults();
}
END_TEST

START_TEST(test_splice_stop_progress)
{
    uf_splice = 1;
    stop_progress();
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("ufetch");
    SRunner *sr;
    int failed;

    signal(SIGPIPE, SIG_IGN);
    ct_add(s, "ranges", test_ranges);
    ct_add(s, "errors", test_errors);
    ct_add(s, "keepalive_closed", test_keepalive_closed);
    ct_add(s, "faults", test_faults);
    ct_add(s, "stop_progress", test_stop_progress);
    ct_add(s, "rate", test_rate);
    ct_add(s, "shared_rate", test_shared_rate);
    ct_add(s, "splice_same", test_splice_same);
    ct_add(s, "splice_auto", test_splice_auto);
    ct_add(s, "splice_refused", test_splice_refused);
    ct_add(s, "splice_rate", test_splice_rate);
    ct_add(s, "splice_faults", test_splice_faults);
    ct_add(s, "splice_stop_progress", test_splice_stop_progress);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
