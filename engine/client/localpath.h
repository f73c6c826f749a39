/*
 * engine/client/localpath.h - LocalFile resolution beneath a download root
 * (localpath.c): validation, the hidden temp file beside the target, the final rename.
 */
#ifndef FERRY_CLIENT_LOCALPATH_H
#define FERRY_CLIENT_LOCALPATH_H

#include <stddef.h>
#include <stdint.h>

#include "ferry/config.h"
#include "ferry/common.h"

/* Validate an absolute LocalFile inside a root (no ../, control chars, Windows forms) and
 * that its parent directory resolves beneath the root. */
int localpath_check(const struct ferry_config *cfg, const char *path, struct ferry_status *st);
/* Open the parent directory of `path` beneath its root (O_PATH-free, O_DIRECTORY), return
 * its fd and a pointer to the basename inside `path`. */
int localpath_open_dir(const struct ferry_config *cfg, const char *path, int *ret_dirfd,
                       const char **ret_name);
/* ".<name>.ferry-<jobid8>.part" into buf. */
int localpath_temp_name(const char *name, const char *job_id, char *buf, size_t len);
/* Remove the temp file of (job, path); 0 also when it did not exist. */
int localpath_remove_temp(const struct ferry_config *cfg, const char *job_id,
                          const char *path);
/* Complete: fsync the temp file, rename it onto LocalFile, fsync the directory. */
int localpath_commit(const struct ferry_config *cfg, const char *job_id, const char *path);
/* Complete cut short: 1 temp still there, 0 already renamed onto a LocalFile of `size` bytes
 * (matching expected_digest and the tree digest `tree` of `chunk_size` chunks when given;
 * directory fsync()ed), -EBADMSG a file of that size with other bytes (left untouched),
 * -ENOENT neither. */
int localpath_placed(const struct ferry_config *cfg, const char *job_id, const char *path,
                     uint64_t size, const char *expected_digest, const uint8_t *tree,
                     uint64_t chunk_size);

#endif
