/*
 * upload_sweep.c - expiring upload sessions (upload_sweep.h). A session's activity is the
 * newest mtime among its hidden files: fragments write the part file, and upload_handle
 * touches the meta file on every Fragment of a session (a zero-length one that only
 * asks the received range keeps it alive too). The directory is read once; the names are
 * sorted by session so each session's files are judged together.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry/log.h"
#include "upload.h"
#include "upload_sweep.h"

struct upload_sweep_ent {
    char hex[33];
    time_t mtime;
};

static int
upload_sweep_cmp(const void *a, const void *b)
{
    return strcmp(((const struct upload_sweep_ent *)a)->hex,
                  ((const struct upload_sweep_ent *)b)->hex);
}

int
upload_sweep_dir(int dirfd, uint64_t timeout_s, time_t now)
{
    struct upload_sweep_ent *v = NULL, *nv;
    size_t n = 0, cap = 0;
    struct dirent *de;
    DIR *d;
    int fd, removed = 0;

    fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    d = fdopendir(fd);
    if (!d) {
        int r = -errno;
        close(fd);
        return r;
    }
    while ((de = readdir(d))) {
        struct upload_sweep_ent e;
        struct stat st;

        if (!upload_session_file(de->d_name, e.hex, NULL) ||
            fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        /* rounded up: truncating would expire a session up to a second early */
        e.mtime = st.st_mtim.tv_sec + (st.st_mtim.tv_nsec > 0);
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            nv = realloc(v, cap * sizeof(*v));
            if (!nv)
                break; /* the rest waits for the next sweep */
            v = nv;
        }
        v[n++] = e;
    }
    closedir(d);
    qsort(v, n, sizeof(*v), upload_sweep_cmp);
    for (size_t i = 0; i < n;) {
        size_t k = i;
        time_t newest = v[i].mtime;

        for (; k < n && strcmp(v[k].hex, v[i].hex) == 0; k++)
            if (v[k].mtime > newest)
                newest = v[k].mtime;
        if (now >= newest && (uint64_t)(now - newest) >= timeout_s) {
            ferry_log_info("upload session %s: nothing received for %llu s "
                           "(upload-session-timeout %llu s); removed", v[i].hex,
                           (unsigned long long)(now - newest), (unsigned long long)timeout_s);
            upload_session_remove(dirfd, v[i].hex);
            removed++;
        }
        i = k;
    }
    free(v);
    return removed;
}

int
upload_sweep_root(int rootfd, uint64_t timeout_s, time_t now)
{
    struct dirent *de;
    DIR *d;
    int fd, removed = 0;

    fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    d = fdopendir(fd);
    if (!d) {
        close(fd);
        return 0;
    }
    while ((de = readdir(d))) {
        int dfd, r;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
            continue;
        dfd = openat(rootfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (dfd < 0)
            continue;
        r = upload_sweep_dir(dfd, timeout_s, now);
        close(dfd);
        if (r < 0)
            ferry_log_warn("upload directory '%s' could not be swept: %s", de->d_name,
                           strerror(-r));
        else
            removed += r;
    }
    closedir(d);
    return removed;
}

unsigned
upload_sweep_period(uint64_t timeout_s)
{
    uint64_t p = timeout_s / 4;

    return p < 2 ? 2 : p > 60 ? 60 : (unsigned)p;
}
