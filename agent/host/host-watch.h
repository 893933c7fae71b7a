/* Following the kernel: uevents for PCI functions and VFIO nodes, opens
 * and closes of /dev/vfio nodes, and a periodic consistency pass, turned
 * into incremental refreshes of the host state on the sd-event loop. A
 * burst of events becomes one new snapshot. */
#pragma once

#include <stdint.h>

#include <systemd/sd-event.h>

#include "host-state.h"

typedef struct HostWatchConfig {
        const char *uevent_socket;   /* the test hook: kernel-format uevents on a datagram socket; NULL: none */
        unsigned coalesce_msec;      /* quiet time that ends a burst */
        unsigned max_delay_msec;     /* at most this long after a burst's first event */
        unsigned consistency_sec;    /* the consistency pass; 0: never */
} HostWatchConfig;

#define HOST_WATCH_COALESCE_MSEC 20
#define HOST_WATCH_MAX_DELAY_MSEC 200
#define HOST_WATCH_CONSISTENCY_SEC 180

typedef struct HostWatchStats {
        const char *source;          /* "udev", "kernel", "socket", "none" */
        bool vfio_inotify;           /* /dev/vfio watched */
        uint64_t events;             /* uevents taken */
        uint64_t events_ignored;     /* of another subsystem, or malformed */
        uint64_t overruns;           /* the socket overflowed (ENOBUFS) */
        uint64_t vfio_node_events;   /* opens, closes, nodes made or removed */
        uint64_t refreshes;          /* bursts handled */
        uint64_t snapshots;          /* of them, how many changed something */
        uint64_t consistency_passes;
        uint64_t consistency_fixed;  /* devices the passes found changed */
        uint64_t last_consistency_usec; /* CLOCK_REALTIME, 0 before the first */
        uint64_t last_refresh_usec;  /* CLOCK_MONOTONIC duration of the last refresh, in µs */
} HostWatchStats;

typedef struct HostWatch HostWatch;

/* Starts watching; what cannot be watched is logged and left out (the
 * consistency pass still runs). */
int host_watch_new(sd_event *event, HostState *state, const HostWatchConfig *cfg, HostWatch **ret);
HostWatch *host_watch_free(HostWatch *w);
static inline void host_watch_freep(HostWatch **w) {
        host_watch_free(*w);
}

const HostWatchStats *host_watch_stats(const HostWatch *w);

/* Runs the consistency pass now; returns the number of devices it fixed. */
int host_watch_check_now(HostWatch *w);
