/*
 * engine/server/upload_sweep.h - the upload session timeout (--upload-session-timeout, the
 * IIS BITS server extension's BITSSessionTimeout): sessions of the upload directories that
 * received nothing for that long are removed (docs/internals/server.md "Uploads"). Run by
 * the open-file sweeper's thread (filesweep.c); needs no lock, since a session is only its
 * files (upload.h).
 */
#ifndef FERRY_UPLOAD_SWEEP_H
#define FERRY_UPLOAD_SWEEP_H

#include <stdint.h>
#include <time.h>

/*
 * Remove the sessions of one upload directory (dirfd, borrowed) whose newest file
 * (.meta, .meta.new, .part, .reply, .reply-tmp; every Fragment touches the meta file) is
 * older than timeout_s at wall-clock time now; mtimes are on disk, so sessions left by an
 * earlier ferryd expire by age too. Each removal is logged. Returns the number of
 * sessions removed, or -errno when the directory cannot be read.
 */
int upload_sweep_dir(int dirfd, uint64_t timeout_s, time_t now);
/* upload_sweep_dir on every directory of the upload root (rootfd, borrowed): one per URL
 * group that took uploads. Returns the sessions removed (errors are logged). */
int upload_sweep_root(int rootfd, uint64_t timeout_s, time_t now);
/* How often the sweep runs for a timeout: a quarter of it, between 2 s and 60 s. */
unsigned upload_sweep_period(uint64_t timeout_s);

#endif
