/*
 * localpath.c - LocalFile: an absolute path inside one of cfg->download_roots, resolved
 * beneath that root with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) so that neither
 * "..", nor a symlink, nor a magic link can lead outside. The data lives in a hidden temp
 * file ".<name>.ferry-<jobid8>.part" beside the target until Complete renames it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ferry/log.h"
#include "client/localpath.h"
#include "client/verify.h"

/* Room for ".<name>.ferry-XXXXXXXX.part" within NAME_MAX (255). */
#define LOCALPATH_MAX_NAME 220
#define LOCALPATH_MAX 4000

static int
localpath_openat2(int dirfd, const char *path, int flags)
{
    struct open_how how;
    long fd;

    memset(&how, 0, sizeof(how));
    how.flags = (uint64_t)(flags | O_CLOEXEC);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
    if (fd < 0)
        return -errno;
    return (int)fd;
}

/* Length of root without trailing slashes ("/" stays 1... but then matches everything). */
static size_t
localpath_root_len(const char *root)
{
    size_t n = strlen(root);

    while (n > 1 && root[n - 1] == '/')
        n--;
    return n;
}

/* The root (longest match) holding path; NULL when none. *ret_rel points after "root/". */
static const char *
localpath_find_root(const struct ferry_config *cfg, const char *path, const char **ret_rel)
{
    const char *best = NULL;
    size_t best_len = 0;

    for (size_t i = 0; i < cfg->download_roots.n; i++) {
        const char *root = cfg->download_roots.v[i];
        size_t n = localpath_root_len(root);

        if (root[0] != '/')
            continue;
        if (n == 1) { /* "/" */
            if (!best) {
                best = root;
                best_len = 0;
            }
            continue;
        }
        if (strncmp(path, root, n) == 0 && path[n] == '/' && n > best_len) {
            best = root;
            best_len = n;
        }
    }
    if (best) {
        const char *rel = path + best_len + 1;
        while (*rel == '/')
            rel++;
        *ret_rel = rel;
    }
    return best;
}

/* Syntax only: absolute POSIX path, no Windows forms, no control characters, no "." or ".."
 * components, a usable last component. */
static int
localpath_syntax(const char *path, struct ferry_status *st)
{
    const char *p, *base;
    size_t len;

    if (!path || !*path)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "LocalFile", "LocalFile is required");
    len = strlen(path);
    if (len > LOCALPATH_MAX)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "LocalFile",
                                "LocalFile is longer than %u bytes", LOCALPATH_MAX);
    for (p = path; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f)
            return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                    FERRY_E_INVALIDARG, "LocalFile",
                                    "LocalFile contains a control character");
        if (c == '\\')
            return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                    FERRY_E_INVALIDARG, "LocalFile",
                                    "LocalFile '%s' is a Windows path (backslash); use an "
                                    "absolute POSIX path",
                                    path);
    }
    if (len >= 2 && path[1] == ':')
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "LocalFile",
                                "LocalFile '%s' is a Windows drive path", path);
    if (path[0] != '/')
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "LocalFile",
                                "LocalFile '%s' is not an absolute path", path);
    if (path[len - 1] == '/')
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "LocalFile",
                                "LocalFile '%s' names a directory", path);
    for (p = path; *p;) {
        const char *end;
        size_t n;

        while (*p == '/')
            p++;
        end = strchr(p, '/');
        n = end ? (size_t)(end - p) : strlen(p);
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                    FERRY_E_INVALIDARG, "LocalFile",
                                    "LocalFile '%s' contains a '.' or '..' component", path);
        p += n;
    }
    base = strrchr(path, '/') + 1;
    if (strlen(base) > LOCALPATH_MAX_NAME)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "LocalFile",
                                "LocalFile's name is longer than %u bytes", LOCALPATH_MAX_NAME);
    return 0;
}

/* Open root and then the parent directory beneath it. Returns the dir fd or -errno;
 * -EXDEV / -ELOOP mean an escape was attempted. */
static int
localpath_dir_fd(const char *root, const char *rel)
{
    const char *slash = strrchr(rel, '/');
    char *dir = NULL;
    int rootfd, fd;

    rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return -errno;
    if (!slash) {
        fd = localpath_openat2(rootfd, ".", O_RDONLY | O_DIRECTORY);
    } else {
        dir = strndup(rel, (size_t)(slash - rel));
        if (!dir) {
            close(rootfd);
            return -ENOMEM;
        }
        fd = localpath_openat2(rootfd, dir, O_RDONLY | O_DIRECTORY);
    }
    free(dir);
    close(rootfd);
    return fd;
}

/*
 * CreateJob / AddFile check: syntax, a download root holding the path, the parent
 * directory resolving beneath the root, and the target not being a directory. Failures are
 * FERRY_STATUS_INVALID_PARAMETER with param "LocalFile".
 */
int
localpath_check(const struct ferry_config *cfg, const char *path, struct ferry_status *st)
{
    const char *root, *rel = NULL;
    struct stat sb;
    int fd, r;

    r = localpath_syntax(path, st);
    if (r < 0)
        return r;
    root = localpath_find_root(cfg, path, &rel);
    if (!root)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "LocalFile",
                                "LocalFile '%s' is not inside a download root", path);
    fd = localpath_dir_fd(root, rel);
    if (fd == -EXDEV || fd == -ELOOP)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "LocalFile",
                                "LocalFile '%s' resolves outside its download root '%s'", path,
                                root);
    if (fd < 0)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "LocalFile",
                                "LocalFile '%s': its directory cannot be opened beneath '%s' "
                                "(%s)",
                                path, root, strerror(-fd));
    if (fstatat(fd, strrchr(path, '/') + 1, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISDIR(sb.st_mode)) {
        close(fd);
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER,
                                FERRY_E_INVALIDARG, "LocalFile",
                                "LocalFile '%s' is an existing directory", path);
    }
    close(fd);
    return 0;
}

/* Open the parent directory of path beneath its root; *ret_name points into path. */
int
localpath_open_dir(const struct ferry_config *cfg, const char *path, int *ret_dirfd,
                   const char **ret_name)
{
    const char *root, *rel = NULL;
    int fd;

    if (localpath_syntax(path, NULL) < 0)
        return -EINVAL;
    root = localpath_find_root(cfg, path, &rel);
    if (!root)
        return -EACCES;
    fd = localpath_dir_fd(root, rel);
    if (fd < 0)
        return fd;
    *ret_dirfd = fd;
    *ret_name = strrchr(path, '/') + 1;
    return 0;
}

/* ".<name>.ferry-<first 8 hex of the job id>.part" */
int
localpath_temp_name(const char *name, const char *job_id, char *buf, size_t len)
{
    int n = snprintf(buf, len, ".%s.ferry-%.8s.part", name, job_id + 1);

    if (n < 0 || (size_t)n >= len)
        return -ENAMETOOLONG;
    return 0;
}

/* Cancel: remove the job's temp file for path (absent is fine). */
int
localpath_remove_temp(const struct ferry_config *cfg, const char *job_id, const char *path)
{
    char tmp[300];
    const char *name;
    int dirfd, r;

    r = localpath_open_dir(cfg, path, &dirfd, &name);
    if (r < 0)
        return r == -ENOENT ? 0 : r;
    r = localpath_temp_name(name, job_id, tmp, sizeof(tmp));
    if (r >= 0 && unlinkat(dirfd, tmp, 0) < 0 && errno != ENOENT)
        r = -errno;
    close(dirfd);
    return r < 0 ? r : 0;
}

/*
 * Complete one file: fsync the temp file, rename it onto LocalFile within the opened
 * directory (atomic: readers see the old file or the whole new one), fsync the directory.
 */
int
localpath_commit(const struct ferry_config *cfg, const char *job_id, const char *path)
{
    char tmp[300];
    const char *name;
    int dirfd = -1, fd = -1, r;

    r = localpath_open_dir(cfg, path, &dirfd, &name);
    if (r < 0)
        return r;
    r = localpath_temp_name(name, job_id, tmp, sizeof(tmp));
    if (r < 0)
        goto cleanup;
    fd = openat(dirfd, tmp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        r = -errno;
        goto cleanup;
    }
    if (fsync(fd) < 0) {
        r = -errno;
        goto cleanup;
    }
    if (renameat(dirfd, tmp, dirfd, name) < 0) {
        r = -errno;
        goto cleanup;
    }
    if (fsync(dirfd) < 0) {
        r = -errno;
        goto cleanup;
    }
    r = 0;
cleanup:
    if (fd >= 0)
        close(fd);
    close(dirfd);
    return r;
}

/*
 * Was the temp file of (job, path) already renamed onto LocalFile (a Complete cut short by a
 * crash)? 1: the temp file is still there (not renamed yet). 0: it is gone and LocalFile is a
 * regular file of `size` bytes matching `expected_digest` and the tree digest `tree` (of
 * `chunk_size` chunks, verify.h) when they are given — it counts as renamed, and the
 * directory is fsync()ed so the rename is durable. -EBADMSG: a file of that size is there
 * but its bytes are not the job's (placed while ferryd was down); it is only read.
 * -ENOENT: neither (the file is lost); other -errno on I/O failure.
 */
int
localpath_placed(const struct ferry_config *cfg, const char *job_id, const char *path,
                 uint64_t size, const char *expected_digest, const uint8_t *tree,
                 uint64_t chunk_size)
{
    uint8_t got[16];
    char tmp[300];
    const char *name;
    struct stat sb;
    int dirfd = -1, fd = -1, r;

    r = localpath_open_dir(cfg, path, &dirfd, &name);
    if (r < 0)
        return r;
    r = localpath_temp_name(name, job_id, tmp, sizeof(tmp));
    if (r < 0)
        goto cleanup;
    if (fstatat(dirfd, tmp, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
        r = 1;
        goto cleanup;
    }
    if (errno != ENOENT) {
        r = -errno;
        goto cleanup;
    }
    fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        r = errno == ELOOP ? -ENOENT : -errno;
        goto cleanup;
    }
    if (fstat(fd, &sb) < 0) {
        r = -errno;
        goto cleanup;
    }
    if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size != size) {
        r = -ENOENT;
        goto cleanup;
    }
    if (expected_digest) {
        r = verify_whole_file(fd, size, expected_digest);
        if (r < 0) {
            r = r == -EINVAL ? -ENOENT : r;
            goto cleanup;
        }
    }
    if (tree) {
        r = verify_tree_file(fd, size, chunk_size, got);
        if (r < 0)
            goto cleanup;
        if (memcmp(got, tree, 16) != 0) {
            r = -EBADMSG;
            goto cleanup;
        }
    }
    if (fsync(dirfd) < 0) {
        r = -errno;
        goto cleanup;
    }
    r = 0;
cleanup:
    if (fd >= 0)
        close(fd);
    close(dirfd);
    return r;
}
