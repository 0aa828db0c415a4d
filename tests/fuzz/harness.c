/* SPDX-License-Identifier: MIT */
/* tests/fuzz/harness.c - helpers shared by the fuzz harnesses (see harness.h). */
#include "harness.h"

#include <fcntl.h>
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
