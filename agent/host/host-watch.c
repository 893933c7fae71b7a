/* Host watch: see host-watch.h.
 *
 * Sources. Where udevd runs (run/udev/control exists), sd_device_monitor on
 * the udev group: events after udev has processed them, as the rest of the
 * host sees them. Where none runs (an initramfs, a minimal guest), the
 * kernel's own netlink group, parsed by uevent.c; libsystemd offers no
 * public way to listen there. Both only on the real root: with a fixture
 * root the kernel's events are about other devices. The test hook takes the
 * kernel's bytes on a datagram socket and goes through the same parser and
 * the same handler as netlink messages.
 *
 * Holders. Which process has /dev/vfio/N open is not a uevent: an inotify
 * watch on dev/vfio (and dev/vfio/devices, the iommufd nodes) reports every
 * open and close (IN_OPEN, IN_CLOSE) and nodes made and removed, and the
 * holders are read again from procfs after the burst. inotify over a poll:
 * a poll bounds the staleness by its period and costs a procfs walk each
 * time; inotify costs nothing while nothing happens. The consistency pass
 * reads holders again too, so a missed watch is repaired within a period.
 *
 * Coalescing. An event marks its device dirty (or the holders) and arms a
 * timer: coalesce_msec after the last event, at most max_delay_msec after
 * the first, the dirty set becomes one refresh and at most one snapshot.
 * The sources run at a higher priority than the timer, so a queued burst
 * is read to the end first. ENOBUFS means events were lost: the
 * consistency pass runs at once. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <systemd/sd-device.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "basic/strv.h"
#include "basic/time-util.h"
#include "host-watch.h"
#include "inventory-check.h"
#include "uevent.h"

#define NETLINK_RCVBUF (16 * 1024 * 1024)
#define DIRTY_MAX 65536 /* beyond, the burst is handled by the consistency pass */

struct HostWatch {
        sd_event *event;
        HostState *state;
        HostWatchConfig cfg;
        HostWatchStats stats;

        sd_device_monitor *monitor;
        sd_event_source *netlink, *hook, *inotify, *flush, *check;
        int netlink_fd, hook_fd, inotify_fd;
        int wd_dev, wd_vfio, wd_vfio_devices;
        char *vfio_dir;

        char **dirty;            /* addresses named since the last refresh */
        size_t n_dirty;
        bool holders_dirty, overflow;
        uint64_t burst_start;    /* CLOCK_MONOTONIC of the burst's first event, 0 when none */
};

static int arm_flush(HostWatch *w) {
        uint64_t now = now_monotonic_usec(), at;

        if (w->burst_start == 0)
                w->burst_start = now;
        at = now + (uint64_t) w->cfg.coalesce_msec * 1000;
        if (at > w->burst_start + (uint64_t) w->cfg.max_delay_msec * 1000)
                at = w->burst_start + (uint64_t) w->cfg.max_delay_msec * 1000;
        if (sd_event_source_set_time(w->flush, at) < 0)
                return -EIO;
        return sd_event_source_set_enabled(w->flush, SD_EVENT_ONESHOT);
}

static int mark_dirty(HostWatch *w, const char *addr) {
        if (strv_contains(w->dirty, addr))
                return 0;
        if (w->n_dirty >= DIRTY_MAX) {
                w->overflow = true;
                return 0;
        }
        if (strv_extend(&w->dirty, addr) < 0)
                return -ENOMEM;
        w->n_dirty++;
        return 0;
}

/* One uevent, whatever carried it. */
static void handle_uevent(HostWatch *w, const char *action, const char *subsystem, const char *sysname) {
        PciAddr a;

        if (streq(subsystem, "pci") && pci_addr_parse(sysname, &a) >= 0) {
                char canonical[PCI_ADDR_STRLEN];

                pci_addr_format(&a, canonical);
                if (mark_dirty(w, canonical) < 0)
                        w->overflow = true; /* out of memory: the full pass will do */
        } else if (streq(subsystem, "vfio") || streq(subsystem, "vfio-dev"))
                w->holders_dirty = true; /* a group's node came or went */
        else {
                w->stats.events_ignored++;
                return;
        }
        w->stats.events++;
        log_debug("uevent %s %s %s", action, subsystem, sysname);
        if (arm_flush(w) < 0)
                log_warning("Cannot arm the inventory refresh timer.");
}

static void handle_message(HostWatch *w, char *buf, size_t n) {
        Uevent u;

        if (uevent_parse(buf, n, &u) < 0) {
                w->stats.events_ignored++;
                return;
        }
        handle_uevent(w, u.action, u.subsystem, u.sysname);
}

static int schedule_check_now(HostWatch *w) {
        if (!w->check)
                return 0;
        if (sd_event_source_set_time(w->check, now_monotonic_usec()) < 0)
                return -EIO;
        return sd_event_source_set_enabled(w->check, SD_EVENT_ONESHOT);
}

static int on_socket(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        HostWatch *w = userdata;
        bool netlink = s == w->netlink;
        char buf[UEVENT_BUFFER_SIZE];

        for (unsigned i = 0; i < 1024; i++) { /* then let the loop breathe */
                int n = uevent_receive(fd, netlink, buf, sizeof buf);

                if (n == -EAGAIN)
                        break;
                if (n == -ENOBUFS) {
                        w->stats.overruns++;
                        log_warning("The uevent socket overflowed: events were lost; checking every device.");
                        (void) schedule_check_now(w);
                        continue;
                }
                if (n == -EPERM) {
                        w->stats.events_ignored++;
                        continue;
                }
                if (n < 0) {
                        log_debug_errno(n, "Receiving a uevent failed: %m");
                        break;
                }
                handle_message(w, buf, (size_t) n);
        }
        return 0;
}

static int on_device(sd_device_monitor *m, sd_device *d, void *userdata) {
        HostWatch *w = userdata;
        const char *subsystem = NULL, *sysname = NULL;
        sd_device_action_t action;

        if (sd_device_get_subsystem(d, &subsystem) < 0 || sd_device_get_sysname(d, &sysname) < 0 ||
            sd_device_get_action(d, &action) < 0) {
                w->stats.events_ignored++;
                return 0;
        }
        handle_uevent(w, "udev", subsystem, sysname);
        return 0;
}

static void add_vfio_watches(HostWatch *w) {
        _cleanup_free_ char *devices = NULL;
        const uint32_t mask = IN_OPEN | IN_CLOSE | IN_CREATE | IN_DELETE | IN_MOVE | IN_DELETE_SELF;

        if (w->wd_vfio < 0)
                w->wd_vfio = inotify_add_watch(w->inotify_fd, w->vfio_dir, mask | IN_ONLYDIR);
        if (w->wd_vfio >= 0 && w->wd_vfio_devices < 0 && asprintf(&devices, "%sdevices", w->vfio_dir) >= 0)
                w->wd_vfio_devices = inotify_add_watch(w->inotify_fd, devices, mask | IN_ONLYDIR);
        w->stats.vfio_inotify = w->wd_vfio >= 0;
}

static int on_inotify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        HostWatch *w = userdata;
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        bool rewatch = false;
        ssize_t n;

        while ((n = read(fd, buf, sizeof buf)) > 0)
                for (char *p = buf; p < buf + n;) {
                        const struct inotify_event *e = (const struct inotify_event *) p;

                        if (e->mask & IN_IGNORED) {
                                if (e->wd == w->wd_vfio)
                                        w->wd_vfio = -1;
                                if (e->wd == w->wd_vfio_devices)
                                        w->wd_vfio_devices = -1;
                        }
                        if (e->wd == w->wd_dev || (e->mask & (IN_CREATE | IN_IGNORED)))
                                rewatch = true; /* dev/vfio or dev/vfio/devices may have come */
                        if (e->wd != w->wd_dev || (e->len && streq(e->name, "vfio"))) {
                                w->holders_dirty = true;
                                w->stats.vfio_node_events++;
                        }
                        p += sizeof(struct inotify_event) + e->len;
                }
        if (rewatch)
                add_vfio_watches(w);
        if (w->holders_dirty && arm_flush(w) < 0)
                log_warning("Cannot arm the inventory refresh timer.");
        return 0;
}

static int refresh(HostWatch *w, char **addrs, bool holders, const char *cause, size_t *ret_changed) {
        _cleanup_(inventory_diff_done) InventoryDiff diff = {};
        _cleanup_free_ char *error = NULL;
        uint64_t t0 = now_monotonic_usec();
        int r;

        r = host_state_refresh(w->state, addrs, holders, cause, &diff, &error);
        w->stats.last_refresh_usec = now_monotonic_usec() - t0;
        w->stats.refreshes++;
        if (r < 0)
                return log_warning_errno(r, "Refreshing the inventory (%s) failed: %s", cause,
                                         error ?: strerror(-r));
        if (r > 0)
                w->stats.snapshots++;
        log_debug("Inventory refresh (%s): %zu addresses, %zu devices and %zu groups changed, %" PRIu64 " µs.",
                  cause, strv_length(addrs), diff.n_devices, diff.n_groups, w->stats.last_refresh_usec);
        if (ret_changed)
                *ret_changed = diff.n_devices;
        return 0;
}

static int on_flush(sd_event_source *s, uint64_t usec, void *userdata) {
        HostWatch *w = userdata;
        _cleanup_strv_free_ char **dirty = TAKE_PTR(w->dirty);
        bool holders = w->holders_dirty, overflow = w->overflow;

        w->n_dirty = 0;
        w->holders_dirty = w->overflow = false;
        w->burst_start = 0;
        if (overflow)
                return schedule_check_now(w);
        (void) refresh(w, dirty, holders, dirty ? "uevent" : "vfio-holders", NULL);
        return 0;
}

int host_watch_check_now(HostWatch *w) {
        _cleanup_strv_free_ char **stale = NULL;
        size_t changed = 0;
        int r;

        r = inventory_check(w->state->inventory, w->state->root, &stale);
        if (r < 0)
                return log_warning_errno(r, "The inventory consistency check failed: %m");
        add_vfio_watches(w);
        r = refresh(w, stale, true, "consistency", &changed);
        w->stats.consistency_passes++;
        w->stats.consistency_fixed += changed;
        w->stats.last_consistency_usec = now_realtime_usec();
        if (changed > 0)
                log_notice("Consistency pass: %zu devices had changed without an event reaching the agent.", changed);
        return r < 0 ? r : (int) changed;
}

static int on_check(sd_event_source *s, uint64_t usec, void *userdata) {
        HostWatch *w = userdata;

        (void) host_watch_check_now(w);
        if (w->cfg.consistency_sec == 0)
                return 0;
        if (sd_event_source_set_time(s, now_monotonic_usec() + (uint64_t) w->cfg.consistency_sec * 1000000) < 0)
                return 0;
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

/* The uevent sources: sd_device_monitor or the kernel's group on the real
 * root, the hook socket when configured. */
static int watch_uevents(HostWatch *w) {
        _cleanup_free_ char *control = hostroot_path(w->state->root, AREA_RUN, "udev/control");
        int r;

        if (!control)
                return -ENOMEM;
        w->stats.source = "none";
        if (hostroot_is_host(w->state->root) && access(control, F_OK) >= 0) {
                r = sd_device_monitor_new(&w->monitor);
                if (r >= 0)
                        (void) sd_device_monitor_set_receive_buffer_size(w->monitor, NETLINK_RCVBUF);
                if (r >= 0)
                        r = sd_device_monitor_filter_add_match_subsystem_devtype(w->monitor, "pci", NULL);
                if (r >= 0)
                        r = sd_device_monitor_filter_add_match_subsystem_devtype(w->monitor, "vfio", NULL);
                if (r >= 0)
                        r = sd_device_monitor_attach_event(w->monitor, w->event);
                if (r >= 0)
                        r = sd_device_monitor_start(w->monitor, on_device, w);
                if (r < 0)
                        log_warning_errno(r, "Cannot listen to udev's events: %m; the consistency pass alone "
                                          "follows the host.");
                else
                        w->stats.source = "udev";
        } else if (hostroot_is_host(w->state->root)) {
                r = uevent_netlink_open(NETLINK_RCVBUF, &w->netlink_fd);
                if (r >= 0)
                        r = sd_event_add_io(w->event, &w->netlink, w->netlink_fd, EPOLLIN, on_socket, w);
                if (r < 0)
                        log_warning_errno(r, "Cannot listen to the kernel's uevents: %m; the consistency pass "
                                          "alone follows the host.");
                else
                        w->stats.source = "kernel";
        }
        if (w->cfg.uevent_socket) {
                r = uevent_socket_open(w->cfg.uevent_socket, &w->hook_fd);
                if (r < 0)
                        return log_error_errno(r, "Cannot listen on the uevent socket %s: %m", w->cfg.uevent_socket);
                r = sd_event_add_io(w->event, &w->hook, w->hook_fd, EPOLLIN, on_socket, w);
                if (r < 0)
                        return r;
                if (streq(w->stats.source, "none"))
                        w->stats.source = "socket";
        }
        return 0;
}

static int watch_vfio_nodes(HostWatch *w) {
        _cleanup_free_ char *dev = hostroot_path(w->state->root, AREA_DEV, "%s", "");
        int r;

        w->vfio_dir = hostroot_path(w->state->root, AREA_DEV, "vfio/");
        if (!dev || !w->vfio_dir)
                return -ENOMEM;
        w->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (w->inotify_fd < 0)
                return log_warning_errno(errno, "Cannot watch VFIO nodes: %m; holders follow the consistency pass.");
        w->wd_dev = inotify_add_watch(w->inotify_fd, dev, IN_CREATE | IN_ONLYDIR);
        add_vfio_watches(w);
        r = sd_event_add_io(w->event, &w->inotify, w->inotify_fd, EPOLLIN, on_inotify, w);
        return r < 0 ? r : 0;
}

static int add_timers(HostWatch *w) {
        int r;

        r = sd_event_add_time(w->event, &w->flush, CLOCK_MONOTONIC, UINT64_MAX, 1000, on_flush, w);
        if (r >= 0)
                r = sd_event_source_set_enabled(w->flush, SD_EVENT_OFF);
        /* sources first: a queued burst is read to its end before it is handled */
        if (r >= 0)
                r = sd_event_source_set_priority(w->flush, SD_EVENT_PRIORITY_IDLE);
        if (r >= 0 && w->cfg.consistency_sec > 0)
                r = sd_event_add_time(w->event, &w->check, CLOCK_MONOTONIC,
                                      now_monotonic_usec() + (uint64_t) w->cfg.consistency_sec * 1000000,
                                      1000000, on_check, w);
        if (r >= 0 && w->check)
                r = sd_event_source_set_priority(w->check, SD_EVENT_PRIORITY_IDLE);
        return r;
}

int host_watch_new(sd_event *event, HostState *state, const HostWatchConfig *cfg, HostWatch **ret) {
        _cleanup_(host_watch_freep) HostWatch *w = calloc(1, sizeof(HostWatch));
        int r;

        if (!w)
                return -ENOMEM;
        *w = (HostWatch) { .event = sd_event_ref(event), .state = state, .cfg = *cfg, .netlink_fd = -EBADF,
                           .hook_fd = -EBADF, .inotify_fd = -EBADF, .wd_dev = -1, .wd_vfio = -1,
                           .wd_vfio_devices = -1 };
        if (w->cfg.coalesce_msec == 0)
                w->cfg.coalesce_msec = 1;
        if (w->cfg.max_delay_msec < w->cfg.coalesce_msec)
                w->cfg.max_delay_msec = w->cfg.coalesce_msec;
        r = add_timers(w);
        if (r < 0)
                return r;
        r = watch_uevents(w);
        if (r < 0)
                return r;
        r = watch_vfio_nodes(w);
        if (r < 0 && r != -ENOENT && w->inotify_fd >= 0)
                return r;
        *ret = TAKE_PTR(w);
        return 0;
}

HostWatch *host_watch_free(HostWatch *w) {
        if (!w)
                return NULL;
        sd_event_source_disable_unref(w->netlink);
        sd_event_source_disable_unref(w->hook);
        sd_event_source_disable_unref(w->inotify);
        sd_event_source_disable_unref(w->flush);
        sd_event_source_disable_unref(w->check);
        sd_device_monitor_unref(w->monitor);
        if (w->cfg.uevent_socket && w->hook_fd >= 0)
                (void) unlink(w->cfg.uevent_socket);
        closep(&w->netlink_fd);
        closep(&w->hook_fd);
        closep(&w->inotify_fd);
        strv_free(w->dirty);
        free(w->vfio_dir);
        sd_event_unref(w->event);
        free(w);
        return NULL;
}

const HostWatchStats *host_watch_stats(const HostWatch *w) {
        return &w->stats;
}
