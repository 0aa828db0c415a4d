/* SPDX-License-Identifier: MIT */
/*
 * segment/segment_internal.h - the segment header as laid out in shared memory and the handle, shared by
 * the files of the segment layer and by the layers built on segments.
 */
#ifndef SHMIPC_SEGMENT_INTERNAL_H
#define SHMIPC_SEGMENT_INTERNAL_H

#include "common/internal.h"
#include <shmipc/segment.h>

#define SHMIPC_SEG_MAGIC   UINT64_C(0x31434950494d4853) /* the bytes "SHMIPIC1" (little-endian) */
#define SHMIPC_SEG_VERSION 1u
#define SHMIPC_SEG_READY   UINT32_C(0x59444552)          /* "REDY": unlikely in garbage, unlike 1 */

/*
 * The header at offset 0 of every segment (128 bytes, two cache lines). All fields but ready, size and
 * generation are written once by the creator before it publishes ready (release); readers load ready with
 * acquire before reading them. size and generation change on grow (see grow in map.c).
 */
typedef struct shmipc__seg_hdr {
    uint64_t magic;                /*  0: SHMIPC_SEG_MAGIC */
    uint32_t version;              /*  8: SHMIPC_SEG_VERSION */
    uint32_t header_size;          /* 12: SHMIPC_SEGMENT_HEADER_SIZE */
    _Atomic uint64_t size;         /* 16: total bytes incl. header; grower stores with release */
    uint32_t type;                 /* 24: SHMIPC_TYPE_* tag */
    uint32_t backing;              /* 28: shmipc_backing of the creator */
    int32_t creator_pid;           /* 32 */
    uint32_t reserved0;            /* 36: zero */
    uint64_t creator_start;        /* 40: creator's start time (ticks since boot) */
    uint64_t created_ns;           /* 48: CLOCK_REALTIME at creation */
    _Atomic uint32_t ready;        /* 56: SHMIPC_SEG_READY once initialised (release); futex word */
    _Atomic uint32_t generation;   /* 60: bumped (release) after each grow */
    uint8_t reserved[64];          /* 64..127: zero, for future use */
} shmipc__seg_hdr;

SHMIPC_STATIC_ASSERT(sizeof(shmipc__seg_hdr) == SHMIPC_SEGMENT_HEADER_SIZE, "segment header is 128 bytes");
SHMIPC_STATIC_ASSERT(offsetof(shmipc__seg_hdr, ready) == 56, "ready word offset");

struct shmipc_segment {
    int fd;
    shmipc_backing backing;
    unsigned flags;      /* opts flags in force */
    bool published;      /* create side: ready already stored */
    void *base;          /* mapping start (the header) */
    size_t map_size;     /* bytes mapped */
    uint32_t generation; /* generation this mapping reflects */
    char name[SHMIPC_NAME_MAX + 1];
};

/* Create a segment on a fresh, exclusively created descriptor (takes ownership of fd on success and on
 * failure: on failure it is closed). */
SHMIPC_INTERNAL int shmipc__seg_create_fd(int fd, shmipc_backing backing, const char *name, size_t size,
                                          const shmipc_segment_opts *opts, shmipc_segment **out);
/* Reserve the bytes [off, off+len) of fd's object (already at least that large), so that touching them
 * later can never SIGBUS for want of room: posix_fallocate, or where the file system has no fallocate
 * (musl makes no emulation) one byte written per page. The range must be unused (fresh zeros). Returns 0
 * or -errno (-ENOSPC when the file system is full). */
SHMIPC_INTERNAL int shmipc__seg_reserve(int fd, uint64_t off, uint64_t len);
/* Map an existing segment from fd after all checks (fd closed on failure only if close_on_fail). */
SHMIPC_INTERNAL int shmipc__seg_attach_fd(int fd, shmipc_backing backing, const char *name,
                                          const shmipc_segment_opts *opts, bool close_on_fail,
                                          shmipc_segment **out);
/* Map total bytes of fd with prot and wrap them in a new handle (fd not consumed on failure).
 * Returns 0 or -errno. */
SHMIPC_INTERNAL int shmipc__seg_map_handle(int fd, shmipc_backing backing, const char *name, unsigned flags,
                                           int prot, size_t total, shmipc_segment **out);
/* Fill info from an open descriptor and (if mapped) header; used by stat and info_get. */
SHMIPC_INTERNAL int shmipc__seg_describe(int fd, const shmipc__seg_hdr *hdr, shmipc_segment_info *info);

/* Named objects (segment/names.c): resolved in POSIX shm or in the chosen directory (shmipc_segment_set_dir). name
 * is a checked segment name ("/x"). Return a descriptor / 0, or a negative errno. */
#include <dirent.h>
#include <sys/stat.h>
SHMIPC_INTERNAL int shmipc__name_open(const char *name, int flags, mode_t mode);
SHMIPC_INTERNAL int shmipc__name_unlink(const char *name);
SHMIPC_INTERNAL int shmipc__name_stat(const char *name, struct stat *st); /* does not follow links */
SHMIPC_INTERNAL int shmipc__name_opendir(DIR **out);

static inline shmipc__seg_hdr *shmipc__seg_hdr_of(const shmipc_segment *s) { return (shmipc__seg_hdr *)s->base; }

#endif
