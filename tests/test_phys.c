/* SPDX-License-Identifier: MIT */
/*
 * tests/test_phys.c - physical-memory windows, exercised on a regular file standing in for /dev/mem: an
 * unaligned address maps to the right bytes, each register width lands at the right file offset, and
 * every refusal (bounds, alignment, read-only, range past the file, bad arguments) gives its error.
 */
#include "helpers.h"

#include <shmipc/phys.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[] = "/tmp/shmipc-test-phys-XXXXXX";
static size_t page;
static size_t file_size;

static int setup(void **state)
{
    (void)state;
    page = (size_t)sysconf(_SC_PAGESIZE);
    file_size = page * 8;
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    unsigned char *buf = malloc(file_size);
    test_fill(buf, file_size, 99);
    ssize_t n = write(fd, buf, file_size);
    free(buf);
    close(fd);
    return n == (ssize_t)file_size ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return unlink(path);
}

static void file_bytes(uint64_t off, void *buf, size_t n)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, n, (off_t)off), (ssize_t)n);
    close(fd);
}

static void unaligned_window(void **state)
{
    (void)state;
    uint64_t addr = page * 3 + 0x123;
    size_t len = 2 * page; /* crosses page boundaries on both sides */
    shmipc_phys *ph = NULL;
    assert_int_equal(shmipc_phys_open(path, addr, len, 0, &ph), 0);
    assert_int_equal(shmipc_phys_len(ph), len);
    const volatile unsigned char *p = shmipc_phys_ptr(ph);
    assert_int_equal((uintptr_t)p % page, 0x123);
    unsigned char *want = malloc(len);
    file_bytes(addr, want, len);
    for (size_t i = 0; i < len; i++)
        if (p[i] != want[i])
            fail_msg("byte %zu of the window is %#x, the file has %#x", i, p[i], want[i]);
    free(want);
    assert_int_equal(shmipc_phys_close(ph), 0);
    assert_int_equal(shmipc_phys_close(NULL), 0);
    assert_null(shmipc_phys_ptr(NULL));
    assert_int_equal(shmipc_phys_len(NULL), 0);
}

/* First offset from addr whose physical address is a multiple of w. */
static size_t aligned_off(uint64_t addr, size_t w) { return (size_t)((w - addr % w) % w); }

static void register_widths(void **state)
{
    (void)state;
    uint64_t addr = page * 3 + 0x123;
    size_t len = 256;
    shmipc_phys *ph = NULL;
    assert_int_equal(shmipc_phys_open(path, addr, len, 0, &ph), 0);
    size_t o8 = 5, o16 = aligned_off(addr, 2) + 16, o32 = aligned_off(addr, 4) + 32,
           o64 = aligned_off(addr, 8) + 64;

    /* Reads return the file's bytes at addr + off (this is a little-endian machine). */
    uint8_t v8;
    uint16_t v16;
    uint32_t v32;
    uint64_t v64, f64 = 0;
    assert_int_equal(shmipc_phys_read8(ph, o8, &v8), 0);
    file_bytes(addr + o8, &f64, 1);
    assert_int_equal(v8, f64);
    assert_int_equal(shmipc_phys_read16(ph, o16, &v16), 0);
    f64 = 0;
    file_bytes(addr + o16, &f64, 2);
    assert_int_equal(v16, f64);
    assert_int_equal(shmipc_phys_read32(ph, o32, &v32), 0);
    f64 = 0;
    file_bytes(addr + o32, &f64, 4);
    assert_int_equal(v32, f64);
    assert_int_equal(shmipc_phys_read64(ph, o64, &v64), 0);
    file_bytes(addr + o64, &f64, 8);
    assert_int_equal(v64, f64);

    /* Writes land at exactly those file offsets, with exactly their width. */
    unsigned char before[16], after[16];
    file_bytes(addr + o64 - 4, before, 16);
    assert_int_equal(shmipc_phys_write64(ph, o64, UINT64_C(0x0123456789abcdef)), 0);
    file_bytes(addr + o64 - 4, after, 16);
    assert_memory_equal(after, before, 4);
    assert_memory_equal(after + 12, before + 12, 4);
    uint64_t got;
    memcpy(&got, after + 4, 8);
    assert_int_equal(got, UINT64_C(0x0123456789abcdef));

    assert_int_equal(shmipc_phys_write32(ph, o32, 0xdeadbeefu), 0);
    uint32_t g32;
    file_bytes(addr + o32, &g32, 4);
    assert_int_equal(g32, 0xdeadbeefu);
    assert_int_equal(shmipc_phys_write16(ph, o16, 0xbeefu), 0);
    uint16_t g16;
    file_bytes(addr + o16, &g16, 2);
    assert_int_equal(g16, 0xbeefu);
    file_bytes(addr + o8 - 1, before, 3);
    assert_int_equal(shmipc_phys_write8(ph, o8, 0x5a), 0);
    file_bytes(addr + o8 - 1, after, 3);
    assert_int_equal(after[1], 0x5a);
    assert_int_equal(after[0], before[0]);
    assert_int_equal(after[2], before[2]);
    /* And read back through the window. */
    assert_int_equal(shmipc_phys_read8(ph, o8, &v8), 0);
    assert_int_equal(v8, 0x5a);
    assert_int_equal(shmipc_phys_read64(ph, o64, &v64), 0);
    assert_int_equal(v64, UINT64_C(0x0123456789abcdef));

    /* The last byte / word of the window is in range; one past is not. */
    assert_int_equal(shmipc_phys_read8(ph, len - 1, &v8), 0);
    assert_int_equal(shmipc_phys_read8(ph, len, &v8), -ERANGE);
    size_t last64 = len - 8 - (addr + len - 8) % 8;
    assert_int_equal(shmipc_phys_read64(ph, last64, &v64), 0);
    assert_int_equal(shmipc_phys_read64(ph, last64 + 8, &v64), -ERANGE);
    assert_int_equal(shmipc_phys_write32(ph, len - 2, 1), -ERANGE);
    assert_int_equal(shmipc_phys_read16(ph, SIZE_MAX, &v16), -ERANGE);
    assert_int_equal(shmipc_phys_read64(ph, SIZE_MAX - 3, &v64), -ERANGE);

    /* Alignment is of the physical address, not of the offset. */
    assert_int_equal(shmipc_phys_read16(ph, o16 + 1, &v16), -EINVAL);
    assert_int_equal(shmipc_phys_read32(ph, o32 + 2, &v32), -EINVAL);
    assert_int_equal(shmipc_phys_read64(ph, o64 + 4, &v64), -EINVAL);
    assert_int_equal(shmipc_phys_write16(ph, o16 + 1, 0), -EINVAL);
    assert_int_equal(shmipc_phys_write32(ph, o32 + 1, 0), -EINVAL);
    assert_int_equal(shmipc_phys_write64(ph, o64 + 1, 0), -EINVAL);
    assert_int_equal(shmipc_phys_read32(ph, 0, &v32), -EINVAL); /* addr itself is odd */

    assert_int_equal(shmipc_phys_read32(ph, o32, NULL), -EINVAL);
    assert_int_equal(shmipc_phys_read32(NULL, 0, &v32), -EINVAL);
    assert_int_equal(shmipc_phys_write8(NULL, 0, 0), -EINVAL);
    shmipc_phys_close(ph);
}

static void read_only(void **state)
{
    (void)state;
    shmipc_phys *ph = NULL;
    assert_int_equal(shmipc_phys_open(path, page, 64, SHMIPC_PHYS_RDONLY, &ph), 0);
    uint32_t v;
    uint32_t f;
    assert_int_equal(shmipc_phys_read32(ph, 8, &v), 0);
    file_bytes(page + 8, &f, 4);
    assert_int_equal(v, f);
    assert_int_equal(shmipc_phys_write32(ph, 8, ~v), -EPERM);
    assert_int_equal(shmipc_phys_write8(ph, 0, 0), -EPERM);
    assert_int_equal(shmipc_phys_write64(ph, 8, 0), -EPERM);
    file_bytes(page + 8, &f, 4);
    assert_int_equal(v, f); /* unchanged */
    /* Range errors still come first. */
    assert_int_equal(shmipc_phys_write32(ph, 64, 0), -ERANGE);
    shmipc_phys_close(ph);
}

static void bad_maps(void **state)
{
    (void)state;
    shmipc_phys *ph = NULL;
    assert_int_equal(shmipc_phys_open(path, file_size - 10, 100, 0, &ph), -ENXIO);
    assert_int_equal(shmipc_phys_open(path, file_size, 1, 0, &ph), -ENXIO);
    assert_int_equal(shmipc_phys_open(path, UINT64_C(1) << 40, 64, 0, &ph), -ENXIO);
    assert_int_equal(shmipc_phys_open(path, 0, 0, 0, &ph), -EINVAL);
    assert_int_equal(shmipc_phys_open(path, UINT64_MAX - 5, 100, 0, &ph), -EINVAL);
    assert_int_equal(shmipc_phys_open(path, UINT64_MAX - 5, 1, 0, &ph), -EINVAL); /* past INT64_MAX */
    assert_int_equal(shmipc_phys_open(path, 0, SIZE_MAX, 0, &ph), -EINVAL);
    assert_int_equal(shmipc_phys_open(path, 0, 64, 1u << 7, &ph), -EINVAL);
    assert_int_equal(shmipc_phys_open(path, 0, 64, 0, NULL), -EINVAL);
    assert_int_equal(shmipc_phys_open("/nonexistent/shmipc-mem", 0, 64, 0, &ph), -ENOENT);
    assert_null(ph);
    /* The whole file, exactly, is fine. */
    assert_int_equal(shmipc_phys_open(path, 0, file_size, 0, &ph), 0);
    uint8_t v;
    assert_int_equal(shmipc_phys_read8(ph, file_size - 1, &v), 0);
    shmipc_phys_close(ph);
}

static void uncached(void **state)
{
    (void)state;
    shmipc_phys *ph = NULL;
    uint64_t addr = page * 5 + 0x40;
    assert_int_equal(shmipc_phys_open(path, addr, 64, SHMIPC_PHYS_UNCACHED, &ph), 0);
    assert_int_equal(shmipc_phys_write32(ph, 4, 0xa5a5f00du), 0);
    uint32_t v, f;
    assert_int_equal(shmipc_phys_read32(ph, 4, &v), 0);
    assert_int_equal(v, 0xa5a5f00du);
    file_bytes(addr + 4, &f, 4);
    assert_int_equal(f, 0xa5a5f00du);
    shmipc_phys_close(ph);
    assert_int_equal(shmipc_phys_open(path, addr, 64, SHMIPC_PHYS_UNCACHED | SHMIPC_PHYS_RDONLY, &ph), 0);
    assert_int_equal(shmipc_phys_read32(ph, 4, &v), 0);
    assert_int_equal(v, 0xa5a5f00du);
    shmipc_phys_close(ph);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unaligned_window),
        cmocka_unit_test(register_widths),
        cmocka_unit_test(read_only),
        cmocka_unit_test(bad_maps),
        cmocka_unit_test(uncached),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
