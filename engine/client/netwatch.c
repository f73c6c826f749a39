/*
 * netwatch.c - network awareness (netwatch.h). An rtnetlink socket subscribed to link,
 * IPv4/IPv6 address and route changes only says "something changed"; the verdict is
 * taken again from getifaddrs() each time: up when an interface that is not loopback is
 * IFF_UP and IFF_RUNNING and holds an IPv4 or IPv6 address. The thread sleeps in poll() on
 * that socket and an eventfd that netwatch_free() signals.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ferry/log.h"
#include "client/netwatch.h"

struct netwatch {
    int nl_fd, stop_fd;
    pthread_t thread;
    atomic_bool up;
    void (*wake)(void *ud);
    void *ud;
};

/* The verdict (netwatch.c header). */
static bool
netwatch_probe(void)
{
    struct ifaddrs *ifa = NULL;
    bool up = false;

    if (getifaddrs(&ifa) < 0)
        return true; /* cannot tell: do not hold jobs back */
    for (struct ifaddrs *i = ifa; i && !up; i = i->ifa_next) {
        if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP) ||
            !(i->ifa_flags & IFF_RUNNING))
            continue;
        up = i->ifa_addr->sa_family == AF_INET || i->ifa_addr->sa_family == AF_INET6;
    }
    freeifaddrs(ifa);
    return up;
}

static void *
netwatch_main(void *arg)
{
    struct netwatch *nw = arg;
    char buf[8192];

    ferry_log_set_thread_name("netwatch");
    for (;;) {
        struct pollfd p[2] = {{nw->nl_fd, POLLIN, 0}, {nw->stop_fd, POLLIN, 0}};
        bool up;

        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            break;
        /* drain what is queued; ENOBUFS (events lost) is fine: we probe anyway */
        while (recv(nw->nl_fd, buf, sizeof(buf), MSG_DONTWAIT) > 0 || errno == ENOBUFS)
            ;
        up = netwatch_probe();
        if (atomic_exchange(&nw->up, up) != up) {
            ferry_log_info("network %s", up ? "up: transfers resume"
                                            : "down: transfers wait for it");
            nw->wake(nw->ud);
        }
    }
    return NULL;
}

/* Start watching (netwatch.h). */
int
netwatch_new(void (*wake)(void *ud), void *ud, struct netwatch **ret)
{
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK,
                             .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR |
                                          RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE |
                                          RTMGRP_IPV6_ROUTE};
    struct netwatch *nw = calloc(1, sizeof(*nw));
    int r;

    if (!nw)
        return -ENOMEM;
    nw->wake = wake;
    nw->ud = ud;
    nw->stop_fd = -1;
    nw->nl_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
    if (nw->nl_fd < 0 || bind(nw->nl_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        r = -errno;
        goto error;
    }
    nw->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (nw->stop_fd < 0) {
        r = -errno;
        goto error;
    }
    atomic_store(&nw->up, netwatch_probe());
    r = -pthread_create(&nw->thread, NULL, netwatch_main, nw);
    if (r < 0)
        goto error;
    *ret = nw;
    return 0;
error:
    if (nw->nl_fd >= 0)
        close(nw->nl_fd);
    if (nw->stop_fd >= 0)
        close(nw->stop_fd);
    free(nw);
    return r;
}

/* Stop and free (netwatch.h). */
struct netwatch *
netwatch_free(struct netwatch *nw)
{
    uint64_t one = 1;

    if (!nw)
        return NULL;
    if (write(nw->stop_fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
        pthread_cancel(nw->thread); /* cannot be signalled: poll() is a cancellation point */
    pthread_join(nw->thread, NULL);
    close(nw->nl_fd);
    close(nw->stop_fd);
    free(nw);
    return NULL;
}

bool
netwatch_up(const struct netwatch *nw)
{
    return !nw || atomic_load(&((struct netwatch *)nw)->up);
}

/* A loopback host in url (netwatch.h). */
bool
netwatch_url_local(const char *url)
{
    const char *h = url ? strstr(url, "://") : NULL;
    char host[256];
    size_t n = 0;

    if (!h)
        return false;
    h += 3;
    if (strchr(h, '@') && (!strchr(h, '/') || strchr(h, '@') < strchr(h, '/')))
        h = strchr(h, '@') + 1;
    if (*h == '[') {
        h++;
        while (*h && *h != ']' && n + 1 < sizeof(host))
            host[n++] = *h++;
    } else {
        while (*h && *h != ':' && *h != '/' && *h != '?' && *h != '#' && n + 1 < sizeof(host))
            host[n++] = *h++;
    }
    host[n] = '\0';
    return strcasecmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
           strcmp(host, "::1") == 0;
}
