/*
 * engine/core/authlimit-internal.h - the address keys of the failed-login limiter
 * (authlimit.c), shared with the refusal tarpit (authtarpit.c) so that both key an
 * address prefix the same way.
 */
#ifndef FERRY_AUTHLIMIT_INTERNAL_H
#define FERRY_AUTHLIMIT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Room for any key: a user name (65 bytes) or a family byte and an IPv6 address. */
#define AUTHLIMIT_KEY_MAX 66

uint64_t authlimit_hash(uint64_t hash_key, const unsigned char *key, size_t keylen);
uint64_t authlimit_hash_key(const void *salt);
bool authlimit_keys(const struct sockaddr *sa, unsigned char *addr, size_t *addr_len,
                    unsigned char *prefix, size_t *prefix_len);

#endif
