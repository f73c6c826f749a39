/*
 * engine/client/verify.h - chunk and whole-file digests (verify.c): XXH3-128
 * per chunk, streaming while bytes arrive, and the ExpectedDigest spec (sha256 / xxh128).
 *
 * Bench hook: FERRY_BENCH_NO_HASH=1 in the environment (read once, at the first stream)
 * makes the chunk streams hash nothing, so bench/fetch_one --no-hash can measure what
 * hashing costs. Chunk digests are meaningless then; the daemon never sets it.
 */
#ifndef FERRY_CLIENT_VERIFY_H
#define FERRY_CLIENT_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void verify_digest(const void *data, size_t len, uint8_t ret[16]);
/* Streaming state (opaque XXH3 state). */
void *verify_stream_new(void);
void *verify_stream_free(void *s);
void verify_stream_reset(void *s);
void verify_stream_update(void *s, const void *data, size_t len);
void verify_stream_digest(void *s, uint8_t ret[16]);
/* Seed a stream with bytes [off, off+len) of fd (resuming a partial chunk). */
int verify_stream_from_file(void *s, int fd, uint64_t off, uint64_t len);
/* Do bytes [off, off+len) of fd hash to digest? (false also on short or failed reads) */
bool verify_chunk_ok(int fd, uint64_t off, uint64_t len, const uint8_t digest[16]);
/* Whole-file check of "sha256:HEX" / "xxh128:HEX". 0 match, -EBADMSG mismatch, -EINVAL
 * malformed spec, -errno I/O. */
int verify_whole_file(int fd, uint64_t size, const char *spec);
int verify_digest_spec_check(const char *spec);
/* Is `d` the digest of `len` zero bytes? verify_zero_digest: that digest. */
bool verify_is_zero_digest(const uint8_t d[16], uint64_t len);
int verify_zero_digest(uint64_t len, uint8_t ret[16]);
/* Tree digest of a file: XXH3-128 over its chunks' XXH3-128 digests in order (a stream
 * from verify_stream_new, verify_tree_init, one verify_tree_add per chunk, then
 * verify_stream_digest), and the same read from a file (recovery). */
void verify_tree_init(void *s);
void verify_tree_add(void *s, const uint8_t chunk_digest[16]);
int verify_tree_file(int fd, uint64_t size, uint64_t chunk_size, uint8_t ret[16]);
int verify_hex_decode(const char *hex, uint8_t *out, size_t outlen);

#endif
