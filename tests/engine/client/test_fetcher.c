/*
 * tests/engine/client/test_fetcher.c - engine/client/fetcher.c against a real nginx:
 * parallel ranges (N = 1, 4, 8) byte-exact, multi-file jobs, HTTP errors, the remote
 * changing mid-transfer, nginx going away and coming back, whole-file digests.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client-test.h"
#include "ferry-test.h"
#include "client/client.h"
#include "client/fetcher.h"
#include "client/job.h"
#include "client/jobs_role.h"
#include "client/verify.h"

struct env {
    char *tmp;
    char state[512], root[512], www[512], ngxdir[512];
    struct ferry_config *cfg;
    struct ct_nginx ngx;
    struct ferry_jobs *jobs;
};

static void
env_init(struct env *e, const char *tag, const char *nginx_extra)
{
    memset(e, 0, sizeof(*e));
    e->tmp = ft_tmpdir_new(tag);
    ck_assert_ptr_nonnull(e->tmp);
    snprintf(e->state, sizeof(e->state), "%s/state", e->tmp);
    snprintf(e->root, sizeof(e->root), "%s/dl", e->tmp);
    snprintf(e->www, sizeof(e->www), "%s/www", e->tmp);
    snprintf(e->ngxdir, sizeof(e->ngxdir), "%s/nginx", e->tmp);
    mkdir(e->root, 0755);
    mkdir(e->www, 0755);
    e->cfg = ct_config_new(e->state, e->root);
    ck_assert_int_eq(ct_nginx_start(&e->ngx, e->ngxdir, e->www, nginx_extra), 0);
}

static void
env_jobs(struct env *e)
{
    ck_assert_int_eq(jobs_new(e->cfg, &e->jobs), 0);
}

static void
env_done(struct env *e)
{
    e->jobs = jobs_free(e->jobs);
    ct_nginx_done(&e->ngx);
    ct_config_free(e->cfg);
    e->tmp = ft_tmpdir_free(e->tmp);
}

static void
set_connections(struct ferry_jobs *jobs, const char *id, unsigned n)
{
    struct ferry_job_props p = {.mask = FERRY_JOBPROP_CONNECTIONS, .connections = n};
    struct ferry_status st;

    ck_assert_int_eq(ferry_jobs_set_props(jobs, id, &p, &st), 0);
}

static void
complete_ok(struct ferry_jobs *jobs, const char *id)
{
    struct ferry_status st;
    int r = ferry_jobs_set_state(jobs, id, FERRY_JOB_ACTION_COMPLETE, &st);

    ck_assert_msg(r == 0, "complete failed: %s", st.text);
    ck_assert_int_eq(ct_job_state(jobs, id), FERRY_JOB_ACKNOWLEDGED);
}

/* 256 MiB random file fetched with 1, 4 and 8 connections: byte-exact, nothing at
 * LocalFile before Complete, no temp file after. */
/* The fetch path a plain http:// source takes: io_uring unless the tests run with
 * FERRY_FETCH_PATH=curl (the "-curl" registrations). */
static const char *
default_path(void)
{
    const char *v = getenv("FERRY_FETCH_PATH");

    return v && strcmp(v, "curl") == 0 ? "libcurl" : "io_uring";
}

/* The job's FetchPath must be `want`. */
static void
assert_path(struct ferry_jobs *jobs, const char *id, const char *want)
{
    struct ferry_job_info *info = NULL;

    ck_assert_int_eq(ferry_jobs_get(jobs, id, &info, NULL), 0);
    ck_assert_str_eq(info->fetch_path, want);
    ferry_job_info_free(info);
}

START_TEST(test_parallel_ranges)
{
    static const unsigned ns[] = {1, 4, 8};
    struct env e;
    char src[600];
    uint64_t size = 256ull << 20;

    if (getenv("FERRY_LONG_TESTS") && strcmp(getenv("FERRY_LONG_TESTS"), "1") == 0)
        size = 1ull << 30;
    env_init(&e, "fetch-par", NULL);
    snprintf(src, sizeof(src), "%s/big.bin", e.www);
    ck_assert_int_eq(ct_random_file(src, size, 1), 0);
    env_jobs(&e);
    for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
        char id[FERRY_GUID_STRLEN], url[256], local[600], tmpf[700];
        struct ferry_job_info *info = NULL;
        struct stat sb;
        struct timespec t0, t1;
        uint64_t before = ct_nginx_bytes_sent(&e.ngx);

        snprintf(url, sizeof(url), "%s/big.bin", e.ngx.url);
        snprintf(local, sizeof(local), "%s/big-%u.bin", e.root, ns[k]);
        ct_create(e.jobs, url, local, true, id);
        snprintf(tmpf, sizeof(tmpf), "%s/.big-%u.bin.ferry-%.8s.part", e.root, ns[k], id + 1);
        set_connections(e.jobs, id, ns[k]);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id, FERRY_JOB_ACTION_RESUME, NULL), 0);
        ck_assert_int_eq(ct_wait_state(e.jobs, id, FERRY_JOB_TRANSFERRED, 120000),
                         FERRY_JOB_TRANSFERRED);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ck_assert_int_ne(stat(local, &sb), 0);      /* not there before Complete */
        ck_assert_int_eq(stat(tmpf, &sb), 0);        /* the hidden temp file is */
        ck_assert_int_eq(ferry_jobs_get(e.jobs, id, &info, NULL), 0);
        ck_assert_uint_eq(info->bytes_total, size);
        ck_assert_uint_eq(info->bytes_transferred, size);
        ck_assert_uint_eq(info->files_transferred, 1);
        ck_assert_uint_eq(info->bytes_refetched, 0);
        ck_assert_uint_eq(info->connections_per_file, ns[k]);
        ck_assert_uint_ne(info->completion_time, 0);
        ck_assert_str_eq(info->fetch_path, default_path());
        fprintf(stderr, "N=%u: %llu bytes in %.2f s: %.0f MB/s (resume to TRANSFERRED)\n",
                ns[k], (unsigned long long)info->bytes_transferred,
                (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
                (double)size / 1e6 /
                    ((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9));
        ferry_job_info_free(info);
        complete_ok(e.jobs, id);
        ck_assert_int_ne(stat(tmpf, &sb), 0);
        ck_assert_int_eq(stat(local, &sb), 0);
        ck_assert_uint_eq((uint64_t)sb.st_size, size);
        ck_assert(ct_files_equal(src, local));
        /* nginx sent the file once (plus headers) */
        ck_assert_uint_ge(ct_nginx_bytes_sent(&e.ngx) - before, size);
        ck_assert_uint_le(ct_nginx_bytes_sent(&e.ngx) - before, size + (1u << 20));
        unlink(local);
    }
    env_done(&e);
}
END_TEST

static int
count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* Three files (one empty) in one job, fetched in order; all exact after Complete. */
START_TEST(test_multi_file)
{
    static const uint64_t sizes[] = {9u << 20, 3u << 20 | 12345, 0};
    struct env e;
    char id[FERRY_GUID_STRLEN];
    struct ferry_job_info *info = NULL;
    struct ferry_status st;

    int fds0;

    env_init(&e, "fetch-multi", NULL);
    env_jobs(&e);
    fds0 = count_fds();
    for (size_t i = 0; i < 3; i++) {
        char src[600], url[256], local[600];
        snprintf(src, sizeof(src), "%s/f%zu.bin", e.www, i);
        ck_assert_int_eq(ct_random_file(src, sizes[i], 10 + i), 0);
        snprintf(url, sizeof(url), "%s/f%zu.bin", e.ngx.url, i);
        snprintf(local, sizeof(local), "%s/f%zu.bin", e.root, i);
        if (i == 0)
            ct_create(e.jobs, url, local, true, id);
        else
            ck_assert_int_eq(ferry_jobs_add_file(e.jobs, id, url, local, &st), 0);
    }
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id, FERRY_JOB_ACTION_RESUME, &st), 0);
    ck_assert_int_eq(ct_wait_state(e.jobs, id, FERRY_JOB_TRANSFERRED, 60000),
                     FERRY_JOB_TRANSFERRED);
    ck_assert_int_eq(ferry_jobs_get(e.jobs, id, &info, NULL), 0);
    ck_assert_uint_eq(info->files_total, 3);
    ck_assert_uint_eq(info->files_transferred, 3);
    ck_assert_uint_eq(info->bytes_total, sizes[0] + sizes[1]);
    ck_assert_uint_eq(info->bytes_transferred, sizes[0] + sizes[1]);
    for (size_t i = 0; i < 3; i++)
        ck_assert(info->files[i].completed);
    ferry_job_info_free(info);
    complete_ok(e.jobs, id);
    for (size_t i = 0; i < 3; i++) {
        char src[600], local[600];
        snprintf(src, sizeof(src), "%s/f%zu.bin", e.www, i);
        snprintf(local, sizeof(local), "%s/f%zu.bin", e.root, i);
        ck_assert_msg(ct_files_equal(src, local), "file %zu differs", i);
    }
    /* idle: temp files closed and keep-alive connections dropped */
    ct_sleep_ms(FETCHER_IDLE_CLOSE_MS + 800);
    ck_assert_int_le(count_fds(), fds0);
    env_done(&e);
}
END_TEST

/* 404 -> ERROR with 0x80190194, context REMOTE_FILE, the failing URL; fatal, no retry. */
START_TEST(test_http_404)
{
    struct env e;
    char id[FERRY_GUID_STRLEN], url[256], local[600];
    struct ferry_job_error err;
    struct ferry_status st;

    env_init(&e, "fetch-404", NULL);
    env_jobs(&e);
    snprintf(url, sizeof(url), "%s/missing.bin", e.ngx.url);
    snprintf(local, sizeof(local), "%s/missing.bin", e.root);
    ct_create(e.jobs, url, local, false, id);
    ck_assert_int_eq(ct_wait_state(e.jobs, id, FERRY_JOB_ERROR, 10000), FERRY_JOB_ERROR);
    ck_assert_int_eq(ferry_jobs_get_error(e.jobs, id, &err, &st), 0);
    ck_assert_uint_eq(err.code, 0x80190194u);
    ck_assert_int_eq(err.context, FERRY_ERRCTX_REMOTE_FILE);
    ck_assert_str_eq(err.file, url);
    ck_assert_ptr_nonnull(strstr(err.text, "404"));
    ferry_job_error_done(&err);
    /* cancel works from ERROR and leaves nothing behind */
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id, FERRY_JOB_ACTION_CANCEL, &st), 0);
    ck_assert_int_eq(access(local, F_OK), -1);
    env_done(&e);
}
END_TEST

/* The source is replaced (same size, new content and mtime) mid-transfer: the file
 * restarts from zero and the result is exactly the NEW source. */
START_TEST(test_remote_changed)
{
    struct env e;
    char id[FERRY_GUID_STRLEN], url[256], local[600], src[600], src2[600];
    struct ferry_job_info *info = NULL;
    uint64_t size = 48u << 20;
    struct timespec ts[2];

    env_init(&e, "fetch-changed", "limit_rate 6m;");
    snprintf(src, sizeof(src), "%s/img.bin", e.www);
    snprintf(src2, sizeof(src2), "%s/img.new", e.www);
    ck_assert_int_eq(ct_random_file(src, size, 3), 0);
    ck_assert_int_eq(ct_random_file(src2, size, 4), 0);
    env_jobs(&e);
    snprintf(url, sizeof(url), "%s/img.bin", e.ngx.url);
    snprintf(local, sizeof(local), "%s/img.bin", e.root);
    ct_create(e.jobs, url, local, false, id);
    ck_assert_uint_ge(ct_wait_bytes(e.jobs, id, size / 4, 30000), size / 4);
    /* new content, same size, an mtime nginx will see as different */
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[0].tv_sec += 100;
    ts[1] = ts[0];
    ck_assert_int_eq(utimensat(AT_FDCWD, src2, ts, 0), 0);
    ck_assert_int_eq(rename(src2, src), 0);
    ck_assert_int_eq(ct_wait_state(e.jobs, id, FERRY_JOB_TRANSFERRED, 60000),
                     FERRY_JOB_TRANSFERRED);
    ck_assert_int_eq(ferry_jobs_get(e.jobs, id, &info, NULL), 0);
    ck_assert_uint_ge(info->bytes_refetched, size / 4);
    ferry_job_info_free(info);
    complete_ok(e.jobs, id);
    ck_assert(ct_files_equal(src, local));
    env_done(&e);
}
END_TEST

/* nginx dies mid-transfer -> TRANSIENT_ERROR; back after the retry delay -> finishes. */
START_TEST(test_server_restart)
{
    struct env e;
    char id[FERRY_GUID_STRLEN], url[256], local[600], src[600];
    struct ferry_job_props p = {.mask = FERRY_JOBPROP_MIN_RETRY_DELAY,
                                .minimum_retry_delay = 1};
    struct ferry_job_info *info = NULL;
    struct ferry_job_error err;
    uint64_t size = 32u << 20;

    env_init(&e, "fetch-restart", "limit_rate 4m;");
    snprintf(src, sizeof(src), "%s/a.bin", e.www);
    ck_assert_int_eq(ct_random_file(src, size, 5), 0);
    e.cfg->stall_timeout = 5;
    env_jobs(&e);
    snprintf(url, sizeof(url), "%s/a.bin", e.ngx.url);
    snprintf(local, sizeof(local), "%s/a.bin", e.root);
    ct_create(e.jobs, url, local, true, id);
    ck_assert_int_eq(ferry_jobs_set_props(e.jobs, id, &p, NULL), 0);
    ck_assert_int_eq(ferry_jobs_get(e.jobs, id, &info, NULL), 0);
    ck_assert_uint_eq(info->minimum_retry_delay, 5); /* raised to the floor */
    ferry_job_info_free(info);
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id, FERRY_JOB_ACTION_RESUME, NULL), 0);
    ck_assert_uint_ge(ct_wait_bytes(e.jobs, id, size / 3, 30000), size / 3);
    ct_nginx_stop(&e.ngx);
    ck_assert_int_eq(ct_wait_state(e.jobs, id, FERRY_JOB_TRANSIENT_ERROR, 10000),
                     FERRY_JOB_TRANSIENT_ERROR);
    ck_assert_int_eq(ferry_jobs_get_error(e.jobs, id, &err, NULL), 0);
    ck_assert_int_eq(err.context, FERRY_ERRCTX_GENERAL_TRANSPORT);
    ferry_job_error_done(&err);
    ck_assert_int_eq(ct_nginx_restart(&e.ngx), 0);
    ck_assert_int_eq(ct_wait_state(e.jobs, id, FERRY_JOB_TRANSFERRED, 60000),
                     FERRY_JOB_TRANSFERRED);
    ck_assert_int_eq(ferry_jobs_get(e.jobs, id, &info, NULL), 0);
    ck_assert_uint_ge(info->transient_error_count, 1);
    ck_assert_uint_ge(info->retries, 1);
    ferry_job_info_free(info);
    complete_ok(e.jobs, id);
    ck_assert(ct_files_equal(src, local));
    env_done(&e);
}
END_TEST

/* ExpectedDigest: a wrong one ends in ERROR / FERRY_E_CHECKSUM_MISMATCH, a right one
 * passes. */
START_TEST(test_expected_digest)
{
    struct env e;
    char id[FERRY_GUID_STRLEN], id2[FERRY_GUID_STRLEN], url[256], local[600], local2[600];
    char src[600], spec[80], hex[33];
    uint8_t d[16];
    struct ferry_job_error err;
    struct ferry_status st;

    env_init(&e, "fetch-digest", NULL);
    snprintf(src, sizeof(src), "%s/d.bin", e.www);
    ck_assert_int_eq(ct_random_file(src, 5u << 20, 6), 0);
    ck_assert_int_eq(ct_file_digest(src, d), 0);
    env_jobs(&e);
    snprintf(url, sizeof(url), "%s/d.bin", e.ngx.url);
    snprintf(local, sizeof(local), "%s/d1.bin", e.root);
    snprintf(local2, sizeof(local2), "%s/d2.bin", e.root);
    ct_create(e.jobs, url, local, true, id);
    ck_assert_int_eq(ferry_jobs_set_option(e.jobs, id, "ExpectedDigest",
                                           "xxh128:00000000000000000000000000000000", &st),
                     0);
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id, FERRY_JOB_ACTION_RESUME, NULL), 0);
    ck_assert_int_eq(ct_wait_state(e.jobs, id, FERRY_JOB_ERROR, 20000), FERRY_JOB_ERROR);
    ck_assert_int_eq(ferry_jobs_get_error(e.jobs, id, &err, NULL), 0);
    ck_assert_uint_eq(err.code, FERRY_E_CHECKSUM_MISMATCH);
    ferry_job_error_done(&err);

    ct_create(e.jobs, url, local2, true, id2);
    ferry_hex_encode(d, 16, hex);
    snprintf(spec, sizeof(spec), "xxh128:%s", hex);
    ck_assert_int_eq(ferry_jobs_set_option(e.jobs, id2, "ExpectedDigest", spec, &st), 0);
    ck_assert_int_eq(ferry_jobs_set_option(e.jobs, id2, "ExpectedDigest", "md5:abc", &st),
                     -EINVAL);
    ck_assert_str_eq(st.param, "Value");
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id2, FERRY_JOB_ACTION_RESUME, NULL), 0);
    ck_assert_int_eq(ct_wait_state(e.jobs, id2, FERRY_JOB_TRANSFERRED, 20000),
                     FERRY_JOB_TRANSFERRED);
    complete_ok(e.jobs, id2);
    ck_assert(ct_files_equal(src, local2));
    env_done(&e);
}
END_TEST

/* Write a sparse source: chunks listed in `zero` are holes, the rest random. */
static void
make_sparse(const char *path, uint64_t size, uint64_t piece, const bool *zero, uint64_t seed)
{
    uint64_t n = (size + piece - 1) / piece;
    char *buf = malloc(piece);
    uint64_t s = seed;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len = i + 1 == n ? size - i * piece : piece;
        if (zero[i])
            continue;
        for (uint64_t k = 0; k < len; k++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            buf[k] = (char)(s >> 56);
        }
        ck_assert_int_eq(pwrite(fd, buf, len, (off_t)(i * piece)), (ssize_t)len);
    }
    close(fd);
    free(buf);
}

/* The server's Metalink form (docs/internals/manifest.md on the server side). */
static void
make_meta4(const char *src, const char *out, const char *name, uint64_t piece,
           const bool *zero, bool mark_zero, int corrupt)
{
    struct stat sb;
    int fd = open(src, O_RDONLY);
    FILE *f = fopen(out, "w");
    char *buf = malloc(piece);
    uint64_t n;

    ck_assert_int_ge(fd, 0);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fstat(fd, &sb), 0);
    n = ((uint64_t)sb.st_size + piece - 1) / piece;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<metalink xmlns=\"urn:ietf:params:xml:ns:metalink\" "
               "xmlns:ferry=\"urn:ferry:manifest:1\">\n  <generator>test</generator>\n"
               "  <file name=\"%s\">\n    <size>%llu</size>\n"
               "    <pieces type=\"sha-256\" length=\"%llu\"><hash>00</hash></pieces>\n"
               "    <pieces type=\"xxh3-128\" length=\"%llu\">\n",
            name, (unsigned long long)sb.st_size, (unsigned long long)piece,
            (unsigned long long)piece);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len = i + 1 == n ? (uint64_t)sb.st_size - i * piece : piece;
        uint8_t d[16];
        char hex[33];
        ck_assert_int_eq(pread(fd, buf, len, (off_t)(i * piece)), (ssize_t)len);
        verify_digest(buf, len, d);
        if ((int)i == corrupt)
            d[3] ^= 1;
        ferry_hex_encode(d, 16, hex);
        fprintf(f, "      <hash%s>%s</hash>\n",
                mark_zero && zero[i] ? " ferry:zero=\"true\"" : "", hex);
    }
    fprintf(f, "    </pieces>\n    <url priority=\"1\">http://x/%s</url>\n  </file>\n"
               "</metalink>\n", name);
    fclose(f);
    close(fd);
    free(buf);
}

#define SPARSE_LOC                                                                            \
    "location = /sparse.bin { add_header Link '</sparse.bin.meta4>; rel=describedby; "        \
    "type=\"application/metalink4+xml\"'; }\n"                                               \
    "    location = /plain.bin { add_header Link '<plain.bin.meta4>; rel=describedby; "      \
    "type=\"application/metalink4+xml\"'; }\n"                                               \
    "    location = /bad.bin { add_header Link '</bad.bin.meta4>; rel=describedby; "          \
    "type=\"application/metalink4+xml\"'; }"

/* With a manifest: its chunk size is used, zero chunks are never fetched and stay holes
 * (marked by ferry:zero or recognised by their digest), the result is exact. */
START_TEST(test_manifest_sparse)
{
    struct env e;
    char id[FERRY_GUID_STRLEN], url[256], local[600], src[600], meta[600];
    uint64_t size = 64u << 20, piece = 1u << 20, nonzero = 0;
    bool zero[64];
    struct ferry_job_info *info = NULL;
    struct stat sb;
    unsigned nreq;

    for (int i = 0; i < 64; i++) {
        zero[i] = (i >= 3 && i <= 10) || (i >= 20 && i <= 40) || i == 63;
        if (!zero[i])
            nonzero += piece;
    }
    env_init(&e, "fetch-manifest", SPARSE_LOC);
    snprintf(src, sizeof(src), "%s/sparse.bin", e.www);
    snprintf(meta, sizeof(meta), "%s/sparse.bin.meta4", e.www);
    make_sparse(src, size, piece, zero, 42);
    /* chunks 3..10 marked with ferry:zero, the others only by their digest */
    {
        bool marked[64];
        for (int i = 0; i < 64; i++)
            marked[i] = zero[i] && i <= 10;
        make_meta4(src, meta, "sparse.bin", piece, marked, true, -1);
    }
    env_jobs(&e);
    snprintf(url, sizeof(url), "%s/sparse.bin", e.ngx.url);
    snprintf(local, sizeof(local), "%s/sparse.bin", e.root);
    ct_create(e.jobs, url, local, false, id);
    ck_assert_int_eq(ct_wait_state(e.jobs, id, FERRY_JOB_TRANSFERRED, 60000),
                     FERRY_JOB_TRANSFERRED);
    ck_assert_int_eq(ferry_jobs_get(e.jobs, id, &info, NULL), 0);
    ck_assert_uint_eq(info->bytes_transferred, size);
    ferry_job_info_free(info);
    complete_ok(e.jobs, id);
    ck_assert(ct_files_equal(src, local));
    ck_assert_int_eq(stat(local, &sb), 0);
    ck_assert_uint_eq((uint64_t)sb.st_size, size);
    /* holes: allocated blocks cover the non-zero chunks only (+ slack) */
    ck_assert_uint_le((uint64_t)sb.st_blocks * 512, nonzero + (1u << 20));
    /* one 1 MiB range per non-zero chunk, none for zero chunks */
    nreq = ct_nginx_count(&e.ngx, "GET /sparse.bin ");
    ck_assert_uint_eq(nreq, nonzero / piece);
    ck_assert_uint_eq(ct_nginx_count(&e.ngx, "GET /sparse.bin.meta4"), 1);
    ck_assert_uint_le(ct_nginx_bytes_sent(&e.ngx), nonzero + (1u << 20));
    env_done(&e);
}
END_TEST

/* A manifest digest that the server's bytes never match: the chunk is fetched again a
 * bounded number of times, then ERROR with FERRY_E_CHECKSUM_MISMATCH. A relative Link
 * target and no zero chunks work too. */
START_TEST(test_manifest_mismatch)
{
    struct env e;
    char id[FERRY_GUID_STRLEN], id2[FERRY_GUID_STRLEN], url[256], local[600], src[600];
    char meta[600];
    bool zero[17] = {0};
    struct ferry_job_error err;
    struct ferry_jobs_stats stats;

    env_init(&e, "fetch-manifest-bad", SPARSE_LOC);
    snprintf(src, sizeof(src), "%s/bad.bin", e.www);
    snprintf(meta, sizeof(meta), "%s/bad.bin.meta4", e.www);
    make_sparse(src, 16u << 20, 1u << 20, zero, 43);
    make_meta4(src, meta, "bad.bin", 1u << 20, zero, false, 5);
    snprintf(src, sizeof(src), "%s/plain.bin", e.www);
    snprintf(meta, sizeof(meta), "%s/plain.bin.meta4", e.www);
    make_sparse(src, (16u << 20) + 777, 1u << 20, zero, 44);
    make_meta4(src, meta, "plain.bin", 1u << 20, zero, false, -1);
    env_jobs(&e);
    snprintf(url, sizeof(url), "%s/bad.bin", e.ngx.url);
    snprintf(local, sizeof(local), "%s/bad.bin", e.root);
    ct_create(e.jobs, url, local, false, id);
    ck_assert_int_eq(ct_wait_state(e.jobs, id, FERRY_JOB_ERROR, 30000), FERRY_JOB_ERROR);
    ck_assert_int_eq(ferry_jobs_get_error(e.jobs, id, &err, NULL), 0);
    ck_assert_uint_eq(err.code, FERRY_E_CHECKSUM_MISMATCH);
    ck_assert_int_eq(err.context, FERRY_ERRCTX_REMOTE_FILE);
    ferry_job_error_done(&err);
    ferry_jobs_stats(e.jobs, &stats);
    ck_assert_uint_eq(stats.chunk_verify_failures, 3);
    ck_assert_uint_ge(stats.bytes_refetched, 3u << 20);
    /* chunk 5 fetched three times; the job may fail before every other chunk was asked
     * for, and aborted in-flight ranges may add lines */
    ct_sleep_ms(300);
    ck_assert_uint_eq(ct_nginx_count(&e.ngx, "\"bytes=5242880-"), 3);
    ck_assert_uint_le(ct_nginx_count(&e.ngx, "GET /bad.bin "), 22);

    snprintf(url, sizeof(url), "%s/plain.bin", e.ngx.url);
    snprintf(local, sizeof(local), "%s/plain.bin", e.root);
    ct_create(e.jobs, url, local, false, id2);
    ck_assert_int_eq(ct_wait_state(e.jobs, id2, FERRY_JOB_TRANSFERRED, 30000),
                     FERRY_JOB_TRANSFERRED);
    complete_ok(e.jobs, id2);
    ck_assert(ct_files_equal(src, local));
    ck_assert_uint_eq(ct_nginx_count(&e.ngx, "GET /plain.bin.meta4"), 1);
    ck_assert_uint_eq(ct_nginx_count(&e.ngx, "GET /plain.bin "), 17);
    env_done(&e);
}
END_TEST

#define AUTH_LOC                                                                              \
    "location /secret/ { auth_basic \"ferry\"; auth_basic_user_file %s/htpasswd; }\n"        \
    "    location /hdr/ { if ($http_x_ferry_test != \"yes\") { return 403; } }\n"           \
    "    location /via/ { if ($http_x_ferry_test != \"yes\") { return 403; } }"

/* Server credentials (Basic): 401 without them (fatal 0x80190191), fetched with them;
 * the credentials never show in the job snapshot. */
START_TEST(test_credentials)
{
    struct env e;
    char id[FERRY_GUID_STRLEN], id2[FERRY_GUID_STRLEN], url[256], local[600], src[600];
    char extra[1024], dir[600], hp[700];
    struct ferry_job_error err;
    struct ferry_status st;
    char *tmp = ft_tmpdir_new("fetch-auth-www");

    snprintf(extra, sizeof(extra), AUTH_LOC, tmp);
    snprintf(hp, sizeof(hp), "%s/htpasswd", tmp);
    ck_assert_int_eq(ft_write_file(hp, "alice:{PLAIN}s3cr3t\n", 20), 0);
    env_init(&e, "fetch-auth", extra);
    snprintf(dir, sizeof(dir), "%s/secret", e.www);
    mkdir(dir, 0755);
    snprintf(src, sizeof(src), "%s/secret/x.bin", e.www);
    ck_assert_int_eq(ct_random_file(src, 6u << 20, 21), 0);
    env_jobs(&e);
    snprintf(url, sizeof(url), "%s/secret/x.bin", e.ngx.url);
    snprintf(local, sizeof(local), "%s/x1.bin", e.root);
    ct_create(e.jobs, url, local, false, id);
    ck_assert_int_eq(ct_wait_state(e.jobs, id, FERRY_JOB_ERROR, 10000), FERRY_JOB_ERROR);
    ck_assert_int_eq(ferry_jobs_get_error(e.jobs, id, &err, NULL), 0);
    ck_assert_uint_eq(err.code, 0x80190191u);
    ferry_job_error_done(&err);

    snprintf(local, sizeof(local), "%s/x2.bin", e.root);
    ct_create(e.jobs, url, local, true, id2);
    ck_assert_int_eq(ferry_jobs_set_credentials(e.jobs, id2, 0, 0, "alice", "s3cr3t", &st), 0);
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id2, FERRY_JOB_ACTION_RESUME, &st), 0);
    ck_assert_int_eq(ct_wait_state(e.jobs, id2, FERRY_JOB_TRANSFERRED, 20000),
                     FERRY_JOB_TRANSFERRED);
    assert_path(e.jobs, id2, "libcurl"); /* credentials: libcurl's auth schemes */
    complete_ok(e.jobs, id2);
    ck_assert(ct_files_equal(src, local));

    /* user:password@ in the URL is credentials too: libcurl sends it */
    snprintf(url, sizeof(url), "http://alice:s3cr3t@127.0.0.1:%d/secret/x.bin", e.ngx.port);
    snprintf(local, sizeof(local), "%s/x3.bin", e.root);
    ct_create(e.jobs, url, local, false, id2);
    ck_assert_int_eq(ct_wait_state(e.jobs, id2, FERRY_JOB_TRANSFERRED, 20000),
                     FERRY_JOB_TRANSFERRED);
    assert_path(e.jobs, id2, "libcurl");
    complete_ok(e.jobs, id2);
    ck_assert(ct_files_equal(src, local));
    env_done(&e);
    ft_tmpdir_free(tmp);
}
END_TEST

/* A mirror shares the ranges; a custom header reaches every request (the server refuses
 * requests without it). */
START_TEST(test_mirror_and_header)
{
    struct env e;
    char id[FERRY_GUID_STRLEN], url[256], murl[256], local[600], src[600], dir[600];
    char src2[600], extra[1024];
    struct ferry_status st;

    snprintf(extra, sizeof(extra), AUTH_LOC, "/nonexistent");
    env_init(&e, "fetch-mirror", extra);
    snprintf(dir, sizeof(dir), "%s/hdr", e.www);
    mkdir(dir, 0755);
    snprintf(dir, sizeof(dir), "%s/via", e.www);
    mkdir(dir, 0755);
    snprintf(src, sizeof(src), "%s/hdr/m.bin", e.www);
    snprintf(src2, sizeof(src2), "%s/via/m.bin", e.www);
    ck_assert_int_eq(ct_random_file(src, 32u << 20, 22), 0);
    ck_assert_int_eq(link(src, src2), 0); /* same inode: same ETag on both paths */
    env_jobs(&e);
    snprintf(url, sizeof(url), "%s/hdr/m.bin", e.ngx.url);
    snprintf(murl, sizeof(murl), "%s/via/m.bin", e.ngx.url);
    snprintf(local, sizeof(local), "%s/m.bin", e.root);
    ct_create(e.jobs, url, local, true, id);
    ck_assert_int_eq(ferry_jobs_set_option(e.jobs, id, "Mirror", murl, &st), 0);
    ck_assert_int_eq(ferry_jobs_set_option(e.jobs, id, "CustomHeader", "X-Ferry-Test: yes",
                                           &st),
                     0);
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id, FERRY_JOB_ACTION_RESUME, &st), 0);
    ck_assert_int_eq(ct_wait_state(e.jobs, id, FERRY_JOB_TRANSFERRED, 20000),
                     FERRY_JOB_TRANSFERRED);
    assert_path(e.jobs, id, default_path()); /* the custom header goes with io_uring too */
    complete_ok(e.jobs, id);
    ck_assert(ct_files_equal(src, local));
    ck_assert_uint_ge(ct_nginx_count(&e.ngx, "GET /hdr/m.bin"), 2);
    ck_assert_uint_ge(ct_nginx_count(&e.ngx, "GET /via/m.bin"), 2);
    ck_assert_uint_eq(ct_nginx_count(&e.ngx, " 403 "), 0);
    env_done(&e);
}
END_TEST

/* ProxyUsage 2 (override): every request goes through the proxy (a second nginx server
 * acting as a forward proxy); the bypass list is honoured when it names the host. */
START_TEST(test_proxy)
{
    struct env e;
    char id[FERRY_GUID_STRLEN], url[256], local[600], src[600], proxy[64], extra[512];
    struct ferry_status st;
    int pport = ct_free_port();

    ck_assert_int_gt(pport, 0);
    /* closes the origin server {} and opens the proxy's (the helper closes it) */
    snprintf(extra, sizeof(extra),
             "}\n  server {\n    listen 127.0.0.1:%d;\n"
             "    location / { proxy_pass http://$http_host; }",
             pport);
    env_init(&e, "fetch-proxy", extra);
    snprintf(src, sizeof(src), "%s/p.bin", e.www);
    ck_assert_int_eq(ct_random_file(src, 12u << 20, 23), 0);
    env_jobs(&e);
    snprintf(url, sizeof(url), "%s/p.bin", e.ngx.url);
    snprintf(local, sizeof(local), "%s/p.bin", e.root);
    snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", pport);
    ct_create(e.jobs, url, local, true, id);
    ck_assert_int_eq(ferry_jobs_set_proxy(e.jobs, id, 2, proxy, "otherhost", &st), 0);
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id, FERRY_JOB_ACTION_RESUME, &st), 0);
    ck_assert_int_eq(ct_wait_state(e.jobs, id, FERRY_JOB_TRANSFERRED, 20000),
                     FERRY_JOB_TRANSFERRED);
    assert_path(e.jobs, id, "libcurl");
    complete_ok(e.jobs, id);
    ck_assert(ct_files_equal(src, local));
    /* the proxy logs absolute-form request lines: probe + 3 ranges */
    ck_assert_uint_ge(ct_nginx_count(&e.ngx, "GET http://127.0.0.1"), 3);
    ck_assert_uint_ge(ct_nginx_count(&e.ngx, "HEAD http://127.0.0.1"), 1);
    env_done(&e);
}
END_TEST

/* A redirected RemoteUrl is libcurl's (it follows redirects; the io_uring path does not),
 * on both paths; the bytes arrive whole. */
START_TEST(test_redirect_libcurl)
{
    struct env e;
    char id[FERRY_GUID_STRLEN], url[256], local[600], src[600];

    env_init(&e, "fetch-redir", "location = /old.bin { return 302 /new.bin; }");
    snprintf(src, sizeof(src), "%s/new.bin", e.www);
    ck_assert_int_eq(ct_random_file(src, 9u << 20, 24), 0);
    env_jobs(&e);
    snprintf(url, sizeof(url), "%s/old.bin", e.ngx.url);
    snprintf(local, sizeof(local), "%s/r.bin", e.root);
    ct_create(e.jobs, url, local, false, id);
    ck_assert_int_eq(ct_wait_state(e.jobs, id, FERRY_JOB_TRANSFERRED, 20000),
                     FERRY_JOB_TRANSFERRED);
    assert_path(e.jobs, id, "libcurl");
    complete_ok(e.jobs, id);
    ck_assert(ct_files_equal(src, local));
    ck_assert_uint_ge(ct_nginx_count(&e.ngx, "GET /old.bin"), 3); /* every range asks again */
    env_done(&e);
}
END_TEST


/* A 206 of the same version carrying another byte range (a broken proxy): transient
 * BG_E_INVALID_SERVER_RESPONSE with progress kept, not a restart; then it finishes. On the
 * io_uring path the refused answer moves the source to libcurl first (FetchPath); up to two
 * ranges are queued on io_uring (depth 2 x 1 connection), so three bad answers make sure one
 * reaches libcurl whatever the timing. */
START_TEST(test_bad_content_range)
{
    struct env e;
    char id[FERRY_GUID_STRLEN], url[256], local[600], src[600];
    struct ferry_job_info *info = NULL;
    struct ferry_job_error err;
    int pport = 0;
    pid_t px;

    env_init(&e, "fetch-badrange", NULL);
    snprintf(src, sizeof(src), "%s/r.bin", e.www);
    ck_assert_int_eq(ct_random_file(src, 24u << 20, 31), 0);
    px = ct_faultproxy_start(e.ngx.port, e.tmp, "bad-content-range shift=4096 skip=3 times=3", &pport);
    e.cfg->retry_delay_min = 1;
    e.cfg->connections_per_file = 1;
    env_jobs(&e);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/r.bin", pport);
    snprintf(local, sizeof(local), "%s/r.bin", e.root);
    ct_create(e.jobs, url, local, true, id);
    {
        struct ferry_job_props p = {.mask = FERRY_JOBPROP_MIN_RETRY_DELAY,
                                    .minimum_retry_delay = 1};
        ck_assert_int_eq(ferry_jobs_set_props(e.jobs, id, &p, NULL), 0);
    }
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id, FERRY_JOB_ACTION_RESUME, NULL), 0);
    ck_assert_int_eq(ct_wait_state(e.jobs, id, FERRY_JOB_TRANSIENT_ERROR, 20000),
                     FERRY_JOB_TRANSIENT_ERROR);
    ck_assert_int_eq(ferry_jobs_get_error(e.jobs, id, &err, NULL), 0);
    ck_assert_uint_eq(err.code, FERRY_BG_E_INVALID_SERVER_RESPONSE);
    ck_assert_int_eq(err.context, FERRY_ERRCTX_REMOTE_FILE);
    ferry_job_error_done(&err);
    ck_assert_uint_ge(ct_job_bytes(e.jobs, id), 8u << 20); /* the good chunks stay */
    ck_assert_int_eq(ct_wait_state(e.jobs, id, FERRY_JOB_TRANSFERRED, 30000),
                     FERRY_JOB_TRANSFERRED);
    ck_assert_int_eq(ferry_jobs_get(e.jobs, id, &info, NULL), 0);
    ck_assert_uint_eq(info->bytes_refetched, 0);
    ck_assert_uint_ge(info->transient_error_count, 1);
    /* io_uring refuses the other range and hands the source to libcurl, which reports it */
    ck_assert_str_eq(info->fetch_path, "libcurl");
    ferry_job_info_free(info);
    complete_ok(e.jobs, id);
    ck_assert(ct_files_equal(src, local));
    kill(px, SIGKILL);
    waitpid(px, NULL, 0);
    env_done(&e);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("fetcher");
    SRunner *sr;
    int failed;

    ct_add(s, "parallel", test_parallel_ranges);
    ct_add(s, "multi", test_multi_file);
    ct_add(s, "404", test_http_404);
    ct_add(s, "changed", test_remote_changed);
    ct_add(s, "restart", test_server_restart);
    ct_add(s, "digest", test_expected_digest);
    ct_add(s, "manifest", test_manifest_sparse);
    ct_add(s, "manifest-bad", test_manifest_mismatch);
    ct_add(s, "credentials", test_credentials);
    ct_add(s, "mirror", test_mirror_and_header);
    ct_add(s, "proxy", test_proxy);
    ct_add(s, "bad-range", test_bad_content_range);
    ct_add(s, "redirect", test_redirect_libcurl);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
