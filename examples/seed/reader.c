/* SPDX-License-Identifier: MIT */
/*
 * examples/seed/reader.c - the reader half of the seed's shared-memory example, with shmipc.
 *
 * In the seed, the reader repeats shm_open("/my_shm", O_RDWR, 0666) and mmap, then reads. Here
 * shmipc_segment_open() does both and checks, before trusting a byte, that the object belongs to our
 * user, that its creator finished initialising it, and that its header agrees with its real size.
 *
 * Usage: seed_reader [NAME]   (default: /my_shm)
 * Opens NAME (waiting up to 5 s for the writer to create it), prints the message, acknowledges it
 * and closes. It does not unlink: the name belongs to the writer.
 */
#include "seed.h"

#include <shmipc/segment.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
    const char *name = argc > 1 ? argv[1] : SEED_DEFAULT_NAME;

    /*
     * Step 1 - shm_open (no O_CREAT) + mmap. Started before the writer, the name does not exist yet
     * (-ENOENT): retry for a while. Once it exists, open itself waits (ready_timeout_ms) until the
     * writer publishes it, so we never see a half-written message.
     */
    shmipc_segment_opts opts;
    shmipc_segment_opts_init(&opts);
    opts.ready_timeout_ms = 5000;
    shmipc_segment *seg = NULL;
    int err;
    for (int tries = 0; (err = shmipc_segment_open(name, &opts, &seg)) == -ENOENT && tries < 500; tries++)
        nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL); /* 10 ms */
    if (err < 0) {
        /* e.g. -EPERM: the name exists but another user owns it; -EBADMSG: not a shmipc segment. */
        fprintf(stderr, "reader: cannot open %s: %s\n", name, shmipc_strerror(err));
        return 1;
    }

    /* The header told open how big the segment is; make sure it holds what we expect to read. */
    if (shmipc_segment_data_size(seg) < sizeof(struct seed_msg)) {
        fprintf(stderr, "reader: %s is too small for a message\n", name);
        shmipc_segment_close(seg);
        return 1;
    }

    /*
     * Step 2 - read. The same physical memory as the writer's, at a possibly different virtual address
     * in this process: that is why shared structures hold no pointers. The text is copied out with a
     * bound, since another process could rewrite it while we read.
     */
    struct seed_msg *msg = shmipc_segment_data(seg);
    char text[sizeof msg->text];
    memcpy(text, msg->text, sizeof text);
    text[sizeof text - 1] = '\0';
    printf("reader: message #%u: %s\n", msg->counter, text);
    fflush(stdout);

    /* Step 3 - acknowledge: a release store, so the writer's acquire load sees it (and all we did). */
    atomic_store_explicit(&msg->ack, 1, memory_order_release);

    /* Step 4 - munmap + close, for this process only. The writer still has its mapping and will unlink
     * the name; unlinking here too would be harmless for it but would not be our call to make. */
    shmipc_segment_close(seg);
    return 0;
}
