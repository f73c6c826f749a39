/*
 * bench/raw_fetch.c - the "raw loop" ceiling of the client section: what this machine does
 * with no library, no hashing and no sync.
 *
 *   raw_fetch http://HOST:PORT/PATH OUTFILE
 *
 * One connection, one "GET PATH HTTP/1.1" (Connection: close), the response head read and
 * skipped (the status must be 200 and a Content-Length present), then recv() into one
 * 1 MiB buffer and pwrite() of it at its offset until Content-Length bytes are in. No
 * fsync: the job lifecycle's durability is what ferry adds on top. Prints
 *
 *   wall_s=W bytes=B
 *
 * Exit 0 when every byte arrived. A bench tool, not a test (built on demand:
 * ninja -C build bench/raw_fetch). Numeric IPv4 hosts only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RAW_BUF (1u << 20)

static double
raw_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Parse "http://A.B.C.D:PORT/PATH" into addr and path. */
static int
raw_parse_url(const char *url, struct sockaddr_in *addr, const char **ret_path)
{
    char host[64];
    const char *h, *colon, *slash;
    long port = 80;

    if (strncmp(url, "http://", 7) != 0)
        return -EINVAL;
    h = url + 7;
    slash = strchr(h, '/');
    if (!slash)
        return -EINVAL;
    colon = memchr(h, ':', (size_t)(slash - h));
    if ((size_t)((colon ? colon : slash) - h) >= sizeof(host))
        return -EINVAL;
    snprintf(host, sizeof(host), "%.*s", (int)((colon ? colon : slash) - h), h);
    if (colon)
        port = strtol(colon + 1, NULL, 10);
    memset(addr, 0, sizeof(*addr));
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr->sin_addr) != 1)
        return -EINVAL;
    *ret_path = slash;
    return 0;
}

int
main(int argc, char **argv)
{
    struct sockaddr_in addr;
    const char *path;
    char req[2048], *buf, *eoh, *cl;
    size_t have = 0, body;
    unsigned long long len, off = 0;
    double t0;
    int s, fd;

    if (argc != 3 || raw_parse_url(argv[1], &addr, &path) < 0) {
        fprintf(stderr, "usage: %s http://A.B.C.D:PORT/PATH OUTFILE\n", argv[0]);
        return 2;
    }
    buf = malloc(RAW_BUF);
    if (!buf)
        return 1;
    t0 = raw_now();
    fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || s < 0 || connect(s, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        perror("raw_fetch: open/connect");
        return 1;
    }
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path,
             inet_ntoa(addr.sin_addr));
    if (send(s, req, strlen(req), 0) != (ssize_t)strlen(req)) {
        perror("raw_fetch: send");
        return 1;
    }
    for (;;) {
        ssize_t n = recv(s, buf + have, RAW_BUF - 1 - have, 0);
        if (n <= 0) {
            fprintf(stderr, "raw_fetch: connection ended in the head\n");
            return 1;
        }
        have += (size_t)n;
        buf[have] = '\0';
        eoh = strstr(buf, "\r\n\r\n");
        if (eoh)
            break;
    }
    cl = strcasestr(buf, "\r\nContent-Length:");
    if (strncmp(buf, "HTTP/1.1 200", 12) != 0 || !cl || cl > eoh) {
        fprintf(stderr, "raw_fetch: not a 200 with a Content-Length\n");
        return 1;
    }
    len = strtoull(cl + 17, NULL, 10);
    body = have - (size_t)(eoh + 4 - buf);
    memmove(buf, eoh + 4, body);
    have = body;
    while (off < len) {
        while (have < RAW_BUF && off + have < len) {
            ssize_t n = recv(s, buf + have, RAW_BUF - have, 0);
            if (n <= 0) {
                fprintf(stderr, "raw_fetch: connection ended after %llu bytes\n", off + have);
                return 1;
            }
            have += (size_t)n;
        }
        if (pwrite(fd, buf, have, (off_t)off) != (ssize_t)have) {
            perror("raw_fetch: pwrite");
            return 1;
        }
        off += have;
        have = 0;
    }
    printf("wall_s=%.3f bytes=%llu\n", raw_now() - t0, off);
    close(s);
    close(fd);
    free(buf);
    return 0;
}
