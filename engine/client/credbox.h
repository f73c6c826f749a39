/*
 * engine/client/credbox.h - job credentials encrypted at rest (credbox.c): AES-256-GCM
 * with a key kept outside jobs.db, in STATE/credentials.key (32 random bytes, 0600, made
 * at first use). A sealed value is "gcm1:" + hex(nonce 12 | ciphertext | tag 16), with the
 * job id as additional data, so a value moved to another job's row does not open.
 */
#ifndef FERRY_CLIENT_CREDBOX_H
#define FERRY_CLIENT_CREDBOX_H

#include <stdbool.h>

#define CREDBOX_PREFIX "gcm1:"

struct credbox;

/* Load STATE/credentials.key, creating it when absent. 0, -errno (logged). */
int credbox_open(const char *state_dir, struct credbox **ret);
/* Wipes the key; NULL-safe; returns NULL. */
struct credbox *credbox_free(struct credbox *b);
/* Seal plain for job_id into a malloc()ed string. 0, -ENOMEM, -EIO. */
int credbox_seal(const struct credbox *b, const char *job_id, const char *plain,
                 char **ret_sealed);
/* Open a sealed value (malloc()ed plain text; the caller wipes it). A value without the
 * prefix is one an older ferryd stored in plain text: returned as it is. -EBADMSG when it
 * does not open (another key, another job, damaged), -ENOMEM. */
int credbox_unseal(const struct credbox *b, const char *job_id, const char *text,
                   char **ret_plain);
/* Is text sealed? */
bool credbox_is_sealed(const char *text);

#endif
