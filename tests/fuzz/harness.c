/* SPDX-License-Identifier: MIT */
/* tests/fuzz/harness.c - helpers shared by the fuzz harnesses (see harness.h). */
#include "harness.h"
#include "service/service_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int write_all(int fd, const uint8_t *data, size_t size)
{
    if (ftruncate(fd, (off_t)size) < 0)
        return -1;
    size_t off = 0;
    while (off < size) {
        ssize_t n = pwrite(fd, data + off, size - off, (off_t)off);
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    return 0;
}

int fuzz_memfd(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -1;
    if (write_all(fd, data, size) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int fuzz_named(const char *name, const uint8_t *data, size_t size)
{
    int fd = shm_open(name, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int r = write_all(fd, data, size);
    close(fd);
    return r;
}

int fuzz_segment(const uint8_t *data, size_t size, uint32_t type, unsigned flags, shmipc_segment **out)
{
    int fd = fuzz_memfd(data, size);
    if (fd < 0)
        return -EIO;
    shmipc_segment_opts o = {.size = sizeof o, .type = type, .flags = flags, .ready_timeout_ms = -1};
    int err = shmipc_segment_from_fd(fd, &o, out);
    if (err)
        close(fd);
    return err;
}

bool fuzz_ready(const uint8_t *data, size_t size)
{
    uint32_t ready;
    if (size < SHMIPC_SEGMENT_HEADER_SIZE)
        return false;
    memcpy(&ready, data + offsetof(shmipc__seg_hdr, ready), sizeof ready);
    return ready == SHMIPC_SEG_READY;
}

const char *fuzz_name(char *buf, size_t cap, const char *tag)
{
    snprintf(buf, cap, "/shmipc-fuzz-%s-%d", tag, (int)getpid());
    return buf;
}

int fuzz_service_named(shmipc_pattern pattern, const uint8_t *data, size_t size, char *name, size_t cap)
{
    snprintf(name, cap, "fz%d", (int)getpid());
    char segname[SHMIPC_SERVICE_NAME_MAX + 32];
    if (shmipc__svc_segname(pattern, name, NULL, segname, sizeof segname))
        return -1;
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return -1;
    memcpy(copy, data, size);
    size_t off = SHMIPC_SEGMENT_HEADER_SIZE + offsetof(shmipc__svc_hdr, name);
    if (size >= off + sizeof((shmipc__svc_hdr *)0)->name &&
        !memcmp(copy + off, FUZZ_SEED_SERVICE, sizeof FUZZ_SEED_SERVICE))
        snprintf((char *)copy + off, sizeof((shmipc__svc_hdr *)0)->name, "%s", name);
    int r = fuzz_named(segname, copy, size);
    free(copy);
    return r;
}

void fuzz_service_drop(shmipc_pattern pattern, const char *name)
{
    shmipc_service_gc_report rep;
    shmipc_service_gc(pattern, name, 1, &rep);
    shmipc_service_gc(pattern, name, 0, &rep);
    char segname[SHMIPC_SERVICE_NAME_MAX + 32];
    if (shmipc__svc_segname(pattern, name, NULL, segname, sizeof segname) == 0)
        shmipc_segment_unlink(segname);
}
