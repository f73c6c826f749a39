/*
 * tests/engine/server/test_manifest.c - engine/server/manifest.c: chunk digests of a sparse
 * file with holes and zero runs, SHA-256 pieces, the cache files, the background thread.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <xxhash.h>

#include "ferry-test.h"
#include "manifest.h"

#define CH (1024u * 1024u)

static char *tmp;

static void
setup(void)
{
    tmp = ft_tmpdir_new("manifest");
}

static void
teardown(void)
{
    tmp = ft_tmpdir_free(tmp);
}

static void
fill_random(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

/* Layout (chunk = 1 MiB, size 4.5 MiB):
 *   chunk 0: random data
 *   chunk 1: hole
 *   chunk 2: zeros written as data
 *   chunk 3: hole with 100 random bytes in the middle
 *   chunk 4 (half): hole up to EOF (ftruncate) */
static char *
make_sparse(uint64_t *ret_size)
{
    char *path;
    uint8_t *buf = malloc(CH);
    int fd;

    ck_assert_ptr_nonnull(buf);
    ck_assert_int_ge(asprintf(&path, "%s/sparse.img", tmp), 0);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, 4 * CH + CH / 2), 0);
    fill_random(buf, CH, 1);
    ck_assert_int_eq(pwrite(fd, buf, CH, 0), CH);
    memset(buf, 0, CH);
    ck_assert_int_eq(pwrite(fd, buf, CH, 2 * CH), CH);
    fill_random(buf, 100, 7);
    ck_assert_int_eq(pwrite(fd, buf, 100, 3 * CH + 5000), 100);
    close(fd);
    free(buf);
    *ret_size = 4 * CH + CH / 2;
    return path;
}

static void
expect_chunk(int fd, const struct manifest *m, uint64_t i, bool zero)
{
    uint64_t start = i * m->chunk_size;
    uint64_t len = start + m->chunk_size <= m->id.size ? m->chunk_size : m->id.size - start;
    uint8_t *buf = malloc(len);
    XXH128_canonical_t canon;
    uint8_t sha[32];
    unsigned dlen;

    ck_assert_int_eq(pread(fd, buf, len, (off_t)start), (ssize_t)len);
    XXH128_canonicalFromHash(&canon, XXH3_128bits(buf, len));
    ck_assert_mem_eq(m->chunks[i].xxh, canon.digest, 16);
    ck_assert_msg(m->chunks[i].zero == zero, "chunk %llu zero flag %d", (unsigned long long)i,
                  m->chunks[i].zero);
    if (m->has_sha256) {
        ck_assert_int_eq(EVP_Digest(buf, len, sha, &dlen, EVP_sha256(), NULL), 1);
        ck_assert_mem_eq(m->chunks[i].sha256, sha, 32);
    }
    free(buf);
}

static struct manifest *
compute_path(const char *path, bool sha256)
{
    struct manifest_identity id;
    struct manifest *m = NULL;
    struct stat st;
    int fd = open(path, O_RDONLY);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fstat(fd, &st), 0);
    manifest_identity_from_stat(&st, &id);
    ck_assert_int_eq(manifest_compute(fd, &id, CH, sha256, NULL, &m), 0);
    close(fd);
    return m;
}

START_TEST(test_sparse_digests)
{
    uint64_t size;
    char *path = make_sparse(&size);
    struct manifest *m = compute_path(path, false);
    int fd = open(path, O_RDONLY);
    struct stat st;

    ck_assert_int_eq(fstat(fd, &st), 0);
    /* the file really is sparse (otherwise the hole branch is not exercised) */
    ck_assert_int_lt((long long)st.st_blocks * 512, (long long)size);
    ck_assert_uint_eq(m->id.size, size);
    ck_assert_uint_eq(m->nchunks, 5);
    ck_assert(!m->has_sha256);
    expect_chunk(fd, m, 0, false);
    expect_chunk(fd, m, 1, true);
    expect_chunk(fd, m, 2, true);
    expect_chunk(fd, m, 3, false);
    expect_chunk(fd, m, 4, true);
    /* chunks 1 and 2 (hole vs written zeros) have the same digest */
    ck_assert_mem_eq(m->chunks[1].xxh, m->chunks[2].xxh, 16);
    close(fd);
    manifest_unref(m);
    free(path);
}
END_TEST

START_TEST(test_sha256_pieces)
{
    uint64_t size;
    char *path = make_sparse(&size);
    struct manifest *m = compute_path(path, true);
    int fd = open(path, O_RDONLY);
    uint8_t *all = malloc(size), sha[32];
    unsigned dlen;

    ck_assert(m->has_sha256);
    for (uint64_t i = 0; i < m->nchunks; i++)
        expect_chunk(fd, m, i, i != 0 && i != 3);
    ck_assert_int_eq(pread(fd, all, size, 0), (ssize_t)size);
    ck_assert_int_eq(EVP_Digest(all, size, sha, &dlen, EVP_sha256(), NULL), 1);
    ck_assert_mem_eq(m->file_sha256, sha, 32);
    free(all);
    close(fd);
    manifest_unref(m);
    free(path);
}
END_TEST

/* Many full-size hole chunks: the digest computed once is right for each of them. */
START_TEST(test_many_holes)
{
    char *path;
    uint8_t *buf = malloc(CH);
    struct manifest *m;
    int fd;

    ck_assert_int_ge(asprintf(&path, "%s/holes.img", tmp), 0);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, 8 * CH), 0);
    fill_random(buf, CH, 5);
    ck_assert_int_eq(pwrite(fd, buf, CH, 0), CH);
    ck_assert_int_eq(pwrite(fd, buf, 10, 7 * CH + 100), 10);
    close(fd);
    for (int sha = 0; sha < 2; sha++) {
        m = compute_path(path, sha);
        fd = open(path, O_RDONLY);
        expect_chunk(fd, m, 0, false);
        for (uint64_t i = 1; i < 7; i++)
            expect_chunk(fd, m, i, true);
        expect_chunk(fd, m, 7, false);
        if (sha) {
            uint8_t *all = malloc(8 * CH), d[32];
            unsigned dlen;
            ck_assert_int_eq(pread(fd, all, 8 * CH, 0), (ssize_t)(8 * CH));
            ck_assert_int_eq(EVP_Digest(all, 8 * CH, d, &dlen, EVP_sha256(), NULL), 1);
            ck_assert_mem_eq(m->file_sha256, d, 32);
            free(all);
        }
        close(fd);
        manifest_unref(m);
    }
    free(buf);
    free(path);
}
END_TEST

START_TEST(test_empty_and_exact)
{
    char *path;
    struct manifest *m;
    uint8_t *buf = malloc(2 * CH);
    int fd;

    ck_assert_int_ge(asprintf(&path, "%s/empty", tmp), 0);
    ck_assert_int_eq(ft_write_file(path, "", 0), 0);
    m = compute_path(path, true);
    ck_assert_uint_eq(m->nchunks, 0);
    manifest_unref(m);
    /* exactly two chunks: no short last chunk */
    fill_random(buf, 2 * CH, 3);
    ck_assert_int_eq(ft_write_file(path, buf, 2 * CH), 0);
    m = compute_path(path, false);
    ck_assert_uint_eq(m->nchunks, 2);
    fd = open(path, O_RDONLY);
    expect_chunk(fd, m, 0, false);
    expect_chunk(fd, m, 1, false);
    close(fd);
    manifest_unref(m);
    free(buf);
    free(path);
}
END_TEST

START_TEST(test_etag)
{
    struct manifest_identity a = {.dev = 0x803, .ino = 0x1a2b, .size = 10, .mtime_ns = 255};
    struct manifest_identity b = a;
    char e[MANIFEST_ETAG_MAX];

    manifest_identity_etag(&a, e);
    ck_assert_str_eq(e, "\"803-1a2b-a-ff\"");
    ck_assert(manifest_identity_eq(&a, &b));
    b.mtime_ns++;
    ck_assert(!manifest_identity_eq(&a, &b));
}
END_TEST

START_TEST(test_cache_roundtrip)
{
    uint64_t size;
    char *path = make_sparse(&size), *dir, *bin;
    struct manifest *m = compute_path(path, true), *l = NULL;
    struct manifest_identity other;

    ck_assert_int_ge(asprintf(&dir, "%s/cache", tmp), 0);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    ck_assert_int_eq(manifest_cache_load(dir, &m->id, CH, true, &l), -ENOENT);
    ck_assert_int_eq(manifest_cache_save(dir, m), 0);
    ck_assert_int_eq(manifest_cache_load(dir, &m->id, CH, true, &l), 0);
    ck_assert_uint_eq(l->nchunks, m->nchunks);
    for (uint64_t i = 0; i < m->nchunks; i++) {
        ck_assert_mem_eq(l->chunks[i].xxh, m->chunks[i].xxh, 16);
        ck_assert_mem_eq(l->chunks[i].sha256, m->chunks[i].sha256, 32);
        ck_assert(l->chunks[i].zero == m->chunks[i].zero);
    }
    ck_assert_mem_eq(l->file_sha256, m->file_sha256, 32);
    l = manifest_unref(l);
    /* another identity, chunk size or digest set never reads this file */
    other = m->id;
    other.mtime_ns += 1;
    ck_assert_int_eq(manifest_cache_load(dir, &other, CH, true, &l), -ENOENT);
    ck_assert_int_eq(manifest_cache_load(dir, &m->id, CH / 2, true, &l), -ENOENT);
    ck_assert_int_eq(manifest_cache_load(dir, &m->id, CH, false, &l), -ENOENT);
    /* a truncated cache file is refused */
    ck_assert_int_ge(asprintf(&bin, "%s/%016llx-%016llx-%016llx-%016llx-%llx-1.bin", dir,
                              (unsigned long long)m->id.dev, (unsigned long long)m->id.ino,
                              (unsigned long long)m->id.size,
                              (unsigned long long)m->id.mtime_ns, (unsigned long long)CH), 0);
    ck_assert_int_eq(truncate(bin, 40), 0);
    ck_assert_int_eq(manifest_cache_load(dir, &m->id, CH, true, &l), -EBADMSG);
    ck_assert_int_eq(manifest_cache_remove(dir, &m->id, CH, true), 0);
    ck_assert_int_eq(access(bin, F_OK), -1);
    manifest_unref(m);
    free(bin);
    free(dir);
    free(path);
}
END_TEST

struct job {
    const char *path;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done, released, error;
    struct manifest *m;
};

static int
job_open(void *ud)
{
    struct job *j = ud;
    int fd = open(j->path, O_RDONLY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

static void
job_done(void *ud, struct manifest *m, int error)
{
    struct job *j = ud;

    pthread_mutex_lock(&j->lock);
    j->m = manifest_unref(j->m);
    j->m = manifest_ref(m);
    j->error = error;
    j->done++;
    pthread_mutex_unlock(&j->lock);
}

static void
job_release(void *ud)
{
    struct job *j = ud;

    pthread_mutex_lock(&j->lock);
    j->released++;
    pthread_cond_signal(&j->cond);
    pthread_mutex_unlock(&j->lock);
}

static void
job_wait(struct job *j, int n)
{
    pthread_mutex_lock(&j->lock);
    while (j->released < n)
        pthread_cond_wait(&j->cond, &j->lock);
    pthread_mutex_unlock(&j->lock);
}

START_TEST(test_worker)
{
    static const struct manifest_job_ops ops = {job_open, job_done, job_release};
    struct manifest_worker *w = NULL;
    struct job j = {0};
    uint64_t size;
    char *path = make_sparse(&size), *dir;
    struct manifest *direct = compute_path(path, false);

    ck_assert_int_ge(asprintf(&dir, "%s/manifests", tmp), 0);
    pthread_mutex_init(&j.lock, NULL);
    pthread_cond_init(&j.cond, NULL);
    j.path = path;
    ck_assert_int_eq(manifest_worker_new(dir, CH, false, &w), 0);
    ck_assert_int_eq(manifest_worker_submit(w, &ops, &j), 0);
    job_wait(&j, 1);
    ck_assert_int_eq(j.error, 0);
    ck_assert_ptr_nonnull(j.m);
    ck_assert_mem_eq(j.m->chunks[3].xxh, direct->chunks[3].xxh, 16);
    ck_assert_uint_eq(manifest_worker_computed(w), 1);
    /* second time: from the cache */
    ck_assert_int_eq(manifest_worker_submit(w, &ops, &j), 0);
    job_wait(&j, 2);
    ck_assert_int_eq(j.error, 0);
    ck_assert_uint_eq(manifest_worker_computed(w), 1);
    ck_assert_mem_eq(j.m->chunks[0].xxh, direct->chunks[0].xxh, 16);
    /* a file that cannot be opened reports its error */
    j.path = "/nonexistent/x";
    ck_assert_int_eq(manifest_worker_submit(w, &ops, &j), 0);
    job_wait(&j, 3);
    ck_assert_int_eq(j.error, -ENOENT);
    ck_assert_ptr_null(j.m);
    w = manifest_worker_free(w);
    ck_assert_int_eq(j.done, 3);
    manifest_unref(direct);
    free(dir);
    free(path);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("manifest");
    TCase *tc = tcase_create("manifest");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_sparse_digests);
    tcase_add_test(tc, test_sha256_pieces);
    tcase_add_test(tc, test_many_holes);
    tcase_add_test(tc, test_empty_and_exact);
    tcase_add_test(tc, test_etag);
    tcase_add_test(tc, test_cache_roundtrip);
    tcase_add_test(tc, test_worker);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
