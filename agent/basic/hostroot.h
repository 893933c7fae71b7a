/* The one path builder. Every file hostdevd reads or writes on the host is
 * named here, as an area under a root directory: "/" on a real host, a
 * fixture tree in tests. No other file spells out /sys, /proc, /etc or /boot. */
#pragma once

#include <stdbool.h>

typedef enum HostArea {
        AREA_SYS,   /* sysfs */
        AREA_PROC,  /* procfs */
        AREA_ETC,   /* the host's configuration: /etc */
        AREA_CONFIG, /* hostdevd's own: HOSTDEVD_CONFDIR, the build's sysconfdir/hostdevd */
        AREA_BOOT,  /* kernels, bootloader entries */
        AREA_DEV,   /* device nodes */
        AREA_RUN,   /* runtime state */
        AREA_LIB,   /* lib/, for lib/modules */
        AREA_STATE, /* hostdevd's default state directory: var/lib/hostdevd */
        AREA_ROOT,  /* the root itself */
        _AREA_MAX,
} HostArea;

typedef struct HostRoot HostRoot;

/* dir NULL or "/" means the real root. */
int hostroot_new(const char *dir, HostRoot **ret);
HostRoot *hostroot_free(HostRoot *r);
static inline void hostroot_freep(HostRoot **r) {
        hostroot_free(*r);
}

/* True when the root is the machine's own "/": only then may hostdevd act on
 * the host through anything that is not a file (tools, kernel interfaces). */
bool hostroot_is_host(const HostRoot *r);

/* The root directory as given ("" for the real root), without trailing slash. */
const char *hostroot_prefix(const HostRoot *r);

/* Returns a newly allocated "<root>/<area>/<sub>", sub formatted like printf;
 * NULL when out of memory. sub may be "" for the area itself. */
char *hostroot_path(const HostRoot *r, HostArea area, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Moves AREA_STATE to an absolute directory of its own (--state-dir), so
 * everything hostdevd keeps (maintenance, operations, bindings, the kernel
 * argument ledger, bootloader backups) lives together. */
int hostroot_set_state_dir(HostRoot *r, const char *dir);

/* Strips the root prefix from an absolute path that lies under it (as
 * realpath() returns), returning a pointer into path, or NULL. */
const char *hostroot_strip(const HostRoot *r, const char *path);
