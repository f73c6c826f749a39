/*
 * verify.c - chunk and file digests: XXH3-128 per chunk (streamed as bytes are written,
 * canonical big-endian form as xxhsum -H2 prints it), re-hashing from disk on resume, and
 * the optional whole-file "ExpectedDigest" (sha256:HEX via OpenSSL, xxh128:HEX).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <xxhash.h>
#if defined(__x86_64__) && __has_include(<xxh_x86dispatch.h>)
/* libxxhash's runtime dispatch (AVX2/AVX-512 when the CPU has them; same digests): the
 * plain entry points are built for SSE2 only and hashing at line rate costs twice as much */
#include <xxh_x86dispatch.h>
#endif

#include "client/verify.h"

#define VERIFY_READ_BUF (1u << 20)

static void
verify_canonical(XXH128_hash_t h, uint8_t ret[16])
{
    XXH128_canonical_t c;

    XXH128_canonicalFromHash(&c, h);
    memcpy(ret, c.digest, 16);
}

/* XXH3-128 of a buffer, canonical form. */
void
verify_digest(const void *data, size_t len, uint8_t ret[16])
{
    verify_canonical(XXH3_128bits(data, len), ret);
}

/*
 * Bench hook (verify.h): FERRY_BENCH_NO_HASH=1 makes chunk streams hash nothing, so
 * bench/fetch_one --no-hash can measure what hashing costs. Read once, at the first stream;
 * the daemon never sets it, and chunk digests are meaningless while it is on.
 */
static bool verify_skip_hash;
static pthread_once_t verify_skip_once = PTHREAD_ONCE_INIT;

static void
verify_skip_read(void)
{
    const char *v = getenv("FERRY_BENCH_NO_HASH");

    verify_skip_hash = v && strcmp(v, "1") == 0;
}

/* A fresh streaming state; NULL on OOM. */
void *
verify_stream_new(void)
{
    XXH3_state_t *s = XXH3_createState();

    pthread_once(&verify_skip_once, verify_skip_read);
    if (s)
        XXH3_128bits_reset(s);
    return s;
}

/* NULL-safe; returns NULL. */
void *
verify_stream_free(void *s)
{
    if (s)
        XXH3_freeState(s);
    return NULL;
}

/* Start the stream over (a chunk fetched from its first byte). */
void
verify_stream_reset(void *s)
{
    XXH3_128bits_reset(s);
}

/* Feed bytes as they are written. */
void
verify_stream_update(void *s, const void *data, size_t len)
{
    if (verify_skip_hash)
        return;
    XXH3_128bits_update(s, data, len);
}

/* The canonical XXH3-128 of what was fed. */
void
verify_stream_digest(void *s, uint8_t ret[16])
{
    verify_canonical(XXH3_128bits_digest(s), ret);
}

/* Feed bytes [off, off+len) of fd into s. -EIO on a short file. */
int
verify_stream_from_file(void *s, int fd, uint64_t off, uint64_t len)
{
    uint8_t *buf = malloc(VERIFY_READ_BUF);
    int r = 0;

    if (!buf)
        return -ENOMEM;
    while (len > 0) {
        size_t want = len < VERIFY_READ_BUF ? (size_t)len : VERIFY_READ_BUF;
        ssize_t n = pread(fd, buf, want, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            break;
        }
        if (n == 0) {
            r = -EIO;
            break;
        }
        XXH3_128bits_update(s, buf, (size_t)n);
        off += (uint64_t)n;
        len -= (uint64_t)n;
    }
    free(buf);
    return r;
}

/* XXH3-128 of bytes [off, off+len) of fd. */
static int
verify_file_range(int fd, uint64_t off, uint64_t len, uint8_t ret[16])
{
    void *s = verify_stream_new();
    int r;

    if (!s)
        return -ENOMEM;
    r = verify_stream_from_file(s, fd, off, len);
    if (r >= 0)
        verify_stream_digest(s, ret);
    verify_stream_free(s);
    return r;
}

/*
 * Re-hash check of one chunk on resume: after a restart, a crash or power loss can leave
 * bytes that differ from what was recorded (torn writes, tampering). Runs on the jobs-sync
 * thread; a chunk that fails is fetched again.
 */
bool
verify_chunk_ok(int fd, uint64_t off, uint64_t len, const uint8_t digest[16])
{
    uint8_t d[16];

    if (verify_file_range(fd, off, len, d) < 0)
        return false;
    return memcmp(d, digest, 16) == 0;
}

static int
verify_hex_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Exactly 2*outlen hex digits into out. -EINVAL otherwise. */
int
verify_hex_decode(const char *hex, uint8_t *out, size_t outlen)
{
    if (strlen(hex) != outlen * 2)
        return -EINVAL;
    for (size_t i = 0; i < outlen; i++) {
        int hi = verify_hex_nibble(hex[2 * i]), lo = verify_hex_nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -EINVAL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* "sha256:64hex" or "xxh128:32hex"; the algorithm and digest length in *ret_*. */
static int
verify_spec_parse(const char *spec, bool *ret_sha, uint8_t *digest)
{
    if (strncasecmp(spec, "sha256:", 7) == 0) {
        *ret_sha = true;
        return verify_hex_decode(spec + 7, digest, 32);
    }
    if (strncasecmp(spec, "xxh128:", 7) == 0) {
        *ret_sha = false;
        return verify_hex_decode(spec + 7, digest, 16);
    }
    return -EINVAL;
}

/* 0 when spec is "sha256:<64 hex>" or "xxh128:<32 hex>", -EINVAL otherwise. */
int
verify_digest_spec_check(const char *spec)
{
    uint8_t d[32];
    bool sha;

    return verify_spec_parse(spec, &sha, d);
}

/* Whole-file digest check before TRANSFERRED. */
int
verify_whole_file(int fd, uint64_t size, const char *spec)
{
    uint8_t want[32], got[32];
    uint8_t *buf = NULL;
    EVP_MD_CTX *md = NULL;
    XXH3_state_t *xs = NULL;
    uint64_t off = 0;
    bool sha;
    int r;

    r = verify_spec_parse(spec, &sha, want);
    if (r < 0)
        return r;
    buf = malloc(VERIFY_READ_BUF);
    if (!buf)
        return -ENOMEM;
    if (sha) {
        md = EVP_MD_CTX_new();
        if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
            r = -ENOMEM;
            goto cleanup;
        }
    } else {
        xs = verify_stream_new();
        if (!xs) {
            r = -ENOMEM;
            goto cleanup;
        }
    }
    while (off < size) {
        size_t want_n = size - off < VERIFY_READ_BUF ? (size_t)(size - off) : VERIFY_READ_BUF;
        ssize_t n = pread(fd, buf, want_n, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = n < 0 ? -errno : -EIO;
            goto cleanup;
        }
        if (sha)
            EVP_DigestUpdate(md, buf, (size_t)n);
        else
            XXH3_128bits_update(xs, buf, (size_t)n);
        off += (uint64_t)n;
    }
    if (sha) {
        unsigned int l = 0;
        EVP_DigestFinal_ex(md, got, &l);
        r = memcmp(got, want, 32) == 0 ? 0 : -EBADMSG;
    } else {
        verify_stream_digest(xs, got);
        r = memcmp(got, want, 16) == 0 ? 0 : -EBADMSG;
    }
cleanup:
    EVP_MD_CTX_free(md);
    verify_stream_free(xs);
    free(buf);
    return r;
}

/* XXH3-128 of len zero bytes (a zero chunk's digest), by streaming a zero page; the last
 * answer is cached per length and thread. 0, or -ENOMEM with ret untouched. */
int
verify_zero_digest(uint64_t len, uint8_t ret[16])
{
    static __thread uint64_t cached_len = UINT64_MAX;
    static __thread uint8_t cached[16];
    static const uint8_t zeros[65536];

    if (cached_len != len) {
        XXH3_state_t *s = XXH3_createState();
        uint64_t left = len;

        if (!s)
            return -ENOMEM;
        XXH3_128bits_reset(s);
        while (left > 0) {
            size_t n = left < sizeof(zeros) ? (size_t)left : sizeof(zeros);
            XXH3_128bits_update(s, zeros, n);
            left -= n;
        }
        verify_canonical(XXH3_128bits_digest(s), cached);
        XXH3_freeState(s);
        cached_len = len;
    }
    memcpy(ret, cached, 16);
    return 0;
}

/* Is d the XXH3-128 of len zero bytes? (Zero chunks in a manifest, whatever else marks
 * them.) */
bool
verify_is_zero_digest(const uint8_t d[16], uint64_t len)
{
    uint8_t z[16];

    return verify_zero_digest(len, z) == 0 && memcmp(d, z, 16) == 0;
}

/*
 * The tree digest of a file: XXH3-128 over the canonical XXH3-128 digests of its chunks
 * (chunk_size bytes each, the last one shorter), in order. A whole-file XXH3 cannot be
 * streamed from chunks that arrive out of order, the chunk digests can: the fetcher has
 * them all when a file completes, so recording the tree costs no read of the file.
 */
void
verify_tree_init(void *s)
{
    XXH3_128bits_reset(s);
}

/* Add the next chunk's digest to a tree (a stream from verify_stream_new). */
void
verify_tree_add(void *s, const uint8_t chunk_digest[16])
{
    XXH3_128bits_update(s, chunk_digest, 16);
}

/*
 * The tree digest of the first `size` bytes of fd read in chunk_size chunks (recovery: is
 * the file at LocalFile the one the job fetched?). 0 with ret filled, -EINVAL for a zero
 * chunk_size with data, -EIO when the file is shorter, -ENOMEM, -errno of pread.
 */
int
verify_tree_file(int fd, uint64_t size, uint64_t chunk_size, uint8_t ret[16])
{
    void *tree = NULL, *chunk = NULL;
    uint64_t off = 0;
    int r = 0;

    if (size > 0 && chunk_size == 0)
        return -EINVAL;
    tree = verify_stream_new();
    chunk = verify_stream_new();
    if (!tree || !chunk) {
        r = -ENOMEM;
        goto cleanup;
    }
    while (off < size) {
        uint64_t len = size - off < chunk_size ? size - off : chunk_size;
        uint8_t d[16];

        XXH3_128bits_reset(chunk);
        r = verify_stream_from_file(chunk, fd, off, len);
        if (r < 0)
            goto cleanup;
        verify_stream_digest(chunk, d);
        verify_tree_add(tree, d);
        off += len;
    }
    verify_stream_digest(tree, ret);
cleanup:
    verify_stream_free(chunk);
    verify_stream_free(tree);
    return r;
}
