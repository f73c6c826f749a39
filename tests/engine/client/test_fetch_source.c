/*
 * tests/engine/client/test_fetch_source.c - the per-chunk source rule of
 * engine/client/fetch_source.c (xfer_source_choose, docs/internals/relay.md "Fetching from
 * several sources"), without a network and without a clock: hand-built transfers, peers'
 * chunk lists, requests in flight and times; the asserts say which chunk goes to which
 * source. The real peers are tests/engine/server/test_server_role.c (test_peer_source) and
 * tests/integration/netns_relay.sh.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "client/fetcher-internal.h"
#include "client/job.h"

#define NCHUNKS 8
#define ORIGIN 0
#define PEER 1
#define PEER2 2

struct fx {
    struct job job;
    struct jfile file;
    struct chunk chunks[NCHUNKS];
    struct mirror mirrors[3];
    uint8_t have[3][NCHUNKS];
    struct req reqs[4];
    struct req *reqv[4];
    struct xfer x;
};

/* An origin and npeers peers (none listing anything), every chunk missing, nothing in
 * flight; each peer progressed at t = 1000 ms. */
static void
fx_init(struct fx *f, size_t npeers)
{
    memset(f, 0, sizeof(*f));
    f->file.nchunks = NCHUNKS;
    f->file.chunk_size = 4u << 20;
    f->file.chunks = f->chunks;
    f->job.files = &f->file;
    f->job.nfiles = 1;
    f->x.job = &f->job;
    f->x.mirrors = f->mirrors;
    f->x.nmirrors = 1 + npeers;
    f->x.conns = 4;
    f->x.reqs = f->reqv;
    f->mirrors[ORIGIN].ok = true;
    for (size_t i = 1; i <= npeers; i++) {
        f->mirrors[i].peer = true;
        f->mirrors[i].have = f->have[i];
        f->mirrors[i].progress_ms = 1000;
        f->mirrors[i].progressed = true;
    }
}

/* Peer mi lists chunks [a, b]. */
static void
fx_have(struct fx *f, size_t mi, uint64_t a, uint64_t b)
{
    for (uint64_t i = a; i <= b; i++)
        f->have[mi][i] = 1;
    f->mirrors[mi].nhave = b - a + 1;
}

/* A range of chunk ci in flight to source mi. */
static void
fx_inflight(struct fx *f, uint64_t ci, size_t mi)
{
    struct req *q = &f->reqs[f->x.nreqs];

    q->kind = REQ_RANGE;
    q->mirror = mi;
    q->chunk = ci;
    q->start = ci * f->file.chunk_size;
    q->end = q->start + f->file.chunk_size - 1;
    q->pos = q->start; /* no byte in yet */
    f->reqv[f->x.nreqs++] = q;
    f->chunks[ci].state = CHUNK_INFLIGHT;
}

static size_t
choose(struct fx *f, uint64_t ci, int64_t now, uint64_t *chunk)
{
    *chunk = UINT64_MAX;
    return xfer_source_choose(&f->x, ci, now, chunk);
}

/* A peer is read in ascending order, one range at a time: asked for chunk 4, it is given
 * the lowest chunk it lists that is missing (2); with that in flight it takes nothing
 * more, and chunks it does not list wait for it. */
START_TEST(test_peer_ascending_window)
{
    struct fx f;
    uint64_t c;

    fx_init(&f, 1);
    fx_have(&f, PEER, 0, 5);
    f.chunks[0].state = CHUNK_DONE;
    f.chunks[1].state = CHUNK_VERIFIED;
    ck_assert_uint_eq(choose(&f, 4, 1100, &c), PEER);
    ck_assert_uint_eq(c, 2);
    ck_assert_uint_eq(choose(&f, 2, 1100, &c), PEER);
    ck_assert_uint_eq(c, 2);
    f.chunks[2].state = CHUNK_PARTIAL; /* a partial chunk is still missing */
    ck_assert_uint_eq(choose(&f, 5, 1100, &c), PEER);
    ck_assert_uint_eq(c, 2);
    fx_inflight(&f, 2, PEER);
    ck_assert_uint_eq(choose(&f, 3, 1100, &c), XFER_SOURCE_WAIT);
    ck_assert_uint_eq(choose(&f, 5, 1100, &c), XFER_SOURCE_WAIT);
    ck_assert_uint_eq(choose(&f, 7, 1100, &c), XFER_SOURCE_WAIT);
    /* however far the range is, no second one */
    f.reqs[0].pos = f.reqs[0].end;
    ck_assert_uint_eq(choose(&f, 5, 1100, &c), XFER_SOURCE_WAIT);
    /* the origin's ranges do not count against the peer's window */
    f.x.nreqs = 0;
    f.chunks[2].state = CHUNK_DONE;
    fx_inflight(&f, 6, ORIGIN);
    ck_assert_uint_eq(choose(&f, 5, 1100, &c), PEER);
    ck_assert_uint_eq(c, 3);
}
END_TEST

/* The stall clock counts from the peer's last progress: 2,999 ms after it the chunks the
 * peer lacks still wait, at 3,000 ms they go to the origin; progress later closes it
 * again. */
START_TEST(test_stall_from_last_progress)
{
    struct fx f;
    uint64_t c;

    fx_init(&f, 1);
    fx_have(&f, PEER, 0, 1);
    f.chunks[0].state = CHUNK_DONE;
    f.chunks[1].state = CHUNK_DONE;
    f.mirrors[PEER].progress_ms = 50000; /* long after the transfer started */
    ck_assert_uint_eq(choose(&f, 2, 52999, &c), XFER_SOURCE_WAIT);
    ck_assert_uint_eq(choose(&f, 2, 53000, &c), XFER_SOURCE_ORIGIN);
    ck_assert_uint_eq(c, 2);
    /* a chunk it lists still goes to it, stalled or not, while its window has room */
    fx_have(&f, PEER, 0, 3);
    ck_assert_uint_eq(choose(&f, 3, 53000, &c), PEER);
    ck_assert_uint_eq(c, 2);
    f.mirrors[PEER].progress_ms = 53000;
    ck_assert_uint_eq(choose(&f, 7, 55000, &c), XFER_SOURCE_WAIT);
}
END_TEST

/* A peer that has not progressed since the transfer started (a deep relay waiting for its
 * own first chunk) is waited for FETCH_PEER_START_MS (30 s), not 3 s. */
START_TEST(test_stall_before_first_progress)
{
    struct fx f;
    uint64_t c;

    fx_init(&f, 1);
    f.mirrors[PEER].progress_ms = 0; /* the transfer's start */
    f.mirrors[PEER].progressed = false;
    ck_assert_uint_eq(choose(&f, 0, 3000, &c), XFER_SOURCE_WAIT);
    ck_assert_uint_eq(choose(&f, 0, 29999, &c), XFER_SOURCE_WAIT);
    ck_assert_uint_eq(choose(&f, 0, 30000, &c), XFER_SOURCE_ORIGIN);
    ck_assert_uint_eq(c, 0);
}
END_TEST

/* No live peer: the origin at once. A dropped peer is never chosen, even for a chunk it
 * lists. */
START_TEST(test_dropped_or_no_peer)
{
    struct fx f;
    uint64_t c;

    fx_init(&f, 0);
    ck_assert_uint_eq(choose(&f, 5, 0, &c), XFER_SOURCE_ORIGIN);
    ck_assert_uint_eq(c, 5);
    fx_init(&f, 1);
    fx_have(&f, PEER, 0, 7);
    f.mirrors[PEER].dropped = true;
    ck_assert_uint_eq(choose(&f, 3, 1001, &c), XFER_SOURCE_ORIGIN);
    ck_assert_uint_eq(c, 3);
}
END_TEST

/* After a "not yet" the peer gets no range until retry_ms; the chunk waits while the peer
 * is not stalled. */
START_TEST(test_not_yet_backoff)
{
    struct fx f;
    uint64_t c;

    fx_init(&f, 1);
    fx_have(&f, PEER, 0, 7);
    f.mirrors[PEER].retry_ms = 1025;
    ck_assert_uint_eq(choose(&f, 0, 1010, &c), XFER_SOURCE_WAIT);
    ck_assert_uint_eq(choose(&f, 0, 1025, &c), PEER);
    ck_assert_uint_eq(c, 0);
}
END_TEST

/* Two peers: each takes its own lowest missing chunk, one range each. */
START_TEST(test_two_peers)
{
    struct fx f;
    uint64_t c;

    fx_init(&f, 2);
    fx_have(&f, PEER, 0, 3);
    fx_have(&f, PEER2, 0, 7);
    ck_assert_uint_eq(choose(&f, 3, 1100, &c), PEER);
    ck_assert_uint_eq(c, 0);
    fx_inflight(&f, 0, PEER);
    ck_assert_uint_eq(choose(&f, 2, 1100, &c), PEER2);
    ck_assert_uint_eq(c, 1);
    fx_inflight(&f, 1, PEER2);
    ck_assert_uint_eq(choose(&f, 6, 1100, &c), XFER_SOURCE_WAIT);
    /* one stalled peer does not open the origin while the other progresses */
    f.mirrors[PEER].progress_ms = 0;
    ck_assert_uint_eq(choose(&f, 6, 3500, &c), XFER_SOURCE_WAIT);
    f.mirrors[PEER2].dropped = true;
    ck_assert_uint_eq(choose(&f, 6, 3500, &c), XFER_SOURCE_ORIGIN);
    ck_assert_uint_eq(c, 6);
}
END_TEST

static Suite *
fetch_source_suite(void)
{
    Suite *s = suite_create("fetch_source");
    TCase *tc = tcase_create("rule");

    tcase_add_test(tc, test_peer_ascending_window);
    tcase_add_test(tc, test_stall_from_last_progress);
    tcase_add_test(tc, test_stall_before_first_progress);
    tcase_add_test(tc, test_dropped_or_no_peer);
    tcase_add_test(tc, test_not_yet_backoff);
    tcase_add_test(tc, test_two_peers);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(fetch_source_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
