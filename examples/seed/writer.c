/* SPDX-License-Identifier: MIT */
/*
 * examples/seed/writer.c - the writer half of the seed's shared-memory example, with shmipc.
 *
 * The seed shows the raw POSIX sequence:
 *     int fd = shm_open("/my_shm", O_CREAT | O_RDWR, 0666);   create or open a named object
 *     ftruncate(fd, size);                                     give it a size
 *     void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
 *     ... read and write p ...
 *     munmap(p, size);                                         drop THIS process's view only
 *     shm_unlink("/my_shm");                                   remove the name for everyone
 * Each step below says which of these shmipc does for us and what it adds.
 *
 * Usage: seed_writer [NAME [TIMEOUT_MS]]   (defaults: /my_shm, 10000)
 * Creates NAME, writes a message and a counter, waits until a reader acknowledges (or the timeout
 * passes), then closes and unlinks. Exit status 0 once acknowledged, 1 otherwise.
 */
#include "seed.h"

#include <shmipc/segment.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    const char *name = argc > 1 ? argv[1] : SEED_DEFAULT_NAME;
    int timeout_ms = argc > 2 ? atoi(argv[2]) : 10000;

    /*
     * Step 1 - shm_open + ftruncate + mmap in one call.
     *
     * shmipc_segment_create() differs from shm_open(name, O_CREAT | O_RDWR, 0666) on purpose:
     *  - it is exclusive (O_CREAT | O_EXCL): if /my_shm already exists (a stale one from a crashed run,
     *    or someone else's) we get -EEXIST instead of silently sharing memory with a stranger;
     *  - the mode is set exactly, default 0600 (only our user), not 0666 narrowed by whatever umask
     *    happens to be in force: shared memory readable by every user is rarely what one wants;
     *  - the memory is reserved now, so a full /dev/shm fails here with -ENOSPC instead of killing us
     *    with SIGBUS at the first write (ftruncate alone only sets a size);
     *  - it writes a small header in front of our data (magic, version, size, creator) that lets the
     *    reader check it maps a real, complete segment.
     * SHMIPC_SEG_DEFER_READY keeps the segment "not ready" until we publish it below, so a reader that
     * opens it early waits instead of reading a half-written message.
     */
    shmipc_segment_opts opts;
    shmipc_segment_opts_init(&opts);
    opts.flags = SHMIPC_SEG_DEFER_READY;
    shmipc_segment *seg = NULL;
    int err = shmipc_segment_create(name, sizeof(struct seed_msg), &opts, &seg);
    if (err < 0) {
        /* Errors are negative errno values; shmipc_strerror() turns them into text. */
        fprintf(stderr, "writer: cannot create %s: %s\n", name, shmipc_strerror(err));
        return 1;
    }

    /*
     * Step 2 - use the memory. shmipc_segment_data() is the "p" of the seed's mmap, already past the
     * header; it is zero-filled and aligned to a cache line. From here on there is no system call:
     * these are ordinary stores into memory that the reader's process maps too.
     */
    struct seed_msg *msg = shmipc_segment_data(seg);
    msg->counter = 42;
    snprintf(msg->text, sizeof msg->text, "Xin chao from the writer (pid %d)", (int)getpid());

    /* Publish: a release store of the header's ready word. A reader that sees the segment ready is
     * guaranteed to see the counter and text written above. */
    shmipc_segment_publish(seg);
    printf("writer: created %s, wrote message #%u, waiting for a reader\n", name, msg->counter);
    fflush(stdout);

    /*
     * Step 3 - wait (bounded) for the reader's acknowledgement. The reader stores 1 with release; our
     * acquire load pairs with it. Polling with a short sleep keeps the example small; shmipc's channels
     * and events sleep on a futex instead, so a waiting process uses no CPU and wakes at once.
     */
    int acked = 0;
    uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    while (!(acked = atomic_load_explicit(&msg->ack, memory_order_acquire) == 1) && now_ms() < deadline)
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    if (acked)
        printf("writer: reader acknowledged message #%u\n", msg->counter);
    else
        fprintf(stderr, "writer: no reader acknowledged within %d ms\n", timeout_ms);

    /*
     * Step 4 - munmap + close: shmipc_segment_close() drops this process's mapping and descriptor.
     * Like munmap in the seed, it does not free the memory: a reader that still has it mapped keeps
     * a valid view.
     */
    shmipc_segment_close(seg);

    /*
     * Step 5 - shm_unlink: remove the name, so nothing is left in /dev/shm. The memory itself is freed
     * by the kernel when the last process unmaps it. Forgetting this step leaks memory until reboot:
     * /dev/shm is RAM.
     */
    err = shmipc_segment_unlink(name);
    if (err < 0) {
        fprintf(stderr, "writer: cannot unlink %s: %s\n", name, shmipc_strerror(err));
        return 1;
    }
    printf("writer: closed and unlinked %s\n", name);
    return acked ? 0 : 1;
}
