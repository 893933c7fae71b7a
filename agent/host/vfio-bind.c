/* Binding groups to vfio-pci: see vfio-bind.h.
 *
 * The order of writes is libvirt's (virPCIDeviceBindToStub): driver_override
 * first, so that whatever probes the device next can only be vfio-pci; then
 * unbind from the current driver; then drivers_probe, which binds the driver
 * the override names. drivers_probe swallows probe errors (the kernel logs
 * them and leaves the device unbound), so every move is verified by reading
 * the driver link back. Releasing is the same dance towards the recorded
 * driver; a device that had none is left unbound (no probe). The record is
 * written before the first sysfs write, marked with the change under way
 * (pending=bind or pending=release), and the mark is cleared after the last:
 * if the agent dies half-way, the original drivers are still known, and the
 * next start finishes the change (vfio-reapply.c). */
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "sysfs-write.h"
#include "vfio-bind-internal.h"
#include "vfio-holders.h"

extern char **environ;


static const char *const outcome_names[_BIND_OUTCOME_MAX] = {
        [BIND_DONE] = "done", [BIND_UNCHANGED] = "unchanged",
        [BIND_REFUSED] = "refused", [BIND_FAILED] = "failed",
};

const char *bind_outcome_to_string(BindOutcome o) {
        return o >= 0 && o < _BIND_OUTCOME_MAX ? outcome_names[o] : NULL;
}

char *vfio_default_state_dir(const HostRoot *root) {
        return hostroot_path(root, AREA_STATE, "%s", "");
}

bool vfio_pci_loaded(const HostRoot *root) {
        _cleanup_free_ char *p = hostroot_path(root, AREA_SYS, "bus/pci/drivers/" VFIO_PCI);
        struct stat st;

        return p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* --- context ------------------------------------------------------------- */

void vfio_ctx_done(Ctx *c) {
        closep(&c->devices_fd);
        closep(&c->drivers_fd);
        closep(&c->bus_fd);
        binding_table_done(&c->table);
        free(c->boot_id);
}

static int open_area_dir(const HostRoot *root, const char *sub, int *ret) {
        _cleanup_free_ char *p = hostroot_path(root, AREA_SYS, "%s", sub);
        int fd;

        if (!p)
                return -ENOMEM;
        fd = sysfs_open_dir(AT_FDCWD, p);
        if (fd < 0)
                return fd;
        *ret = fd;
        return 0;
}

int vfio_ctx_open(Ctx *c, const HostRoot *root, const Inventory *inv, const char *state_dir) {
        _cleanup_free_ char *boot = hostroot_path(root, AREA_PROC, "sys/kernel/random/boot_id");
        int r;

        *c = (Ctx) { .root = root, .inv = inv, .state_dir = state_dir,
                     .devices_fd = -EBADF, .drivers_fd = -EBADF, .bus_fd = -EBADF };
        if (!boot)
                return -ENOMEM;
        if ((r = open_area_dir(root, "bus/pci/devices", &c->devices_fd)) < 0 ||
            (r = open_area_dir(root, "bus/pci/drivers", &c->drivers_fd)) < 0 ||
            (r = open_area_dir(root, "bus/pci", &c->bus_fd)) < 0)
                return r;
        r = read_one_line_file(boot, &c->boot_id);
        if (r == -ENOMEM)
                return r;
        return binding_table_load(state_dir, &c->table);
}

/* --- reading and writing one device -------------------------------------- */

/* The driver bound now (NULL: none). */
static int read_driver(const Ctx *c, const char *addr, char **ret) {
        _cleanup_free_ char *link = NULL;
        int r;

        if (asprintf(&link, "%s/driver", addr) < 0)
                return -ENOMEM;
        r = readlink_basename_at(c->devices_fd, link, ret);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        return r;
}

/* driver_override now (NULL: none; the kernel shows "(null)"). */
static int read_override(const Ctx *c, const char *addr, char **ret) {
        _cleanup_free_ char *attr = NULL, *v = NULL;
        int r;

        if (asprintf(&attr, "%s/driver_override", addr) < 0)
                return -ENOMEM;
        r = read_one_line_at(c->devices_fd, attr, &v);
        if (r == -ENOENT || (r >= 0 && (streq(v, "(null)") || !*v))) {
                *ret = NULL;
                return 0;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(v);
        return 0;
}

static int write_step(int dir_fd, const char *where, const char *attr, const char *value, char **error) {
        int r = sysfs_write_attr(dir_fd, attr, value);

        if (r < 0 && error && !*error &&
            asprintf(error, "writing '%s' to %s/%s failed: %s", streq(value, "\n") ? "\\n" : value, where, attr,
                     strerror(-r)) < 0)
                *error = NULL;
        return r;
}

/* "<what> <addr>: <errno text>" */
static int set_error(char **error, int r, const char *what, const char *addr) {
        if (error && !*error && asprintf(error, "%s %s: %s", what, addr, strerror(-r)) < 0)
                *error = NULL;
        return r;
}

/* Moves addr to driver want (NULL: none) with driver_override set to
 * override (NULL: cleared). On failure *error says which write failed. */
static int move_device(const Ctx *c, const char *addr, const char *override, const char *want, char **error) {
        _cleanup_close_ int dev_fd = -EBADF;
        _cleanup_free_ char *cur = NULL;
        int r;

        dev_fd = sysfs_open_dir(c->devices_fd, addr);
        if (dev_fd < 0)
                return set_error(error, dev_fd, "cannot open the sysfs directory of", addr);
        r = write_step(dev_fd, addr, "driver_override", override ?: "\n", error);
        if (r < 0)
                return r;
        r = read_driver(c, addr, &cur);
        if (r < 0)
                return set_error(error, r, "cannot read the driver of", addr);
        if (streq_ptr(cur, want))
                return 0;
        if (cur) {
                _cleanup_free_ char *where = NULL;
                _cleanup_close_ int drv_fd = sysfs_open_dir(c->drivers_fd, cur);

                if (drv_fd < 0)
                        return set_error(error, drv_fd, "cannot open the driver directory of", addr);
                if (asprintf(&where, "bus/pci/drivers/%s", cur) < 0)
                        return -ENOMEM;
                r = write_step(drv_fd, where, "unbind", addr, error);
                if (r < 0)
                        return r;
        }
        if (!want)
                return 0; /* it had no driver: leave it so */
        return write_step(c->bus_fd, "bus/pci", "drivers_probe", addr, error);
}

/* --- reports ------------------------------------------------------------- */

void bind_report_done(BindReport *r) {
        for (size_t i = 0; i < r->n_devices; i++) {
                free(r->devices[i].before);
                free(r->devices[i].after);
        }
        free(r->devices);
        reason_list_done(&r->reasons);
        free(r->error);
        free(r->rollback);
        *r = (BindReport) {};
}

int vfio_appendf(char **s, const char *fmt, ...) {
        _cleanup_free_ char *add = NULL;
        va_list ap;
        char *n;
        int k;

        va_start(ap, fmt);
        k = vasprintf(&add, fmt, ap);
        va_end(ap);
        if (k < 0 || asprintf(&n, "%s%s%s", strempty(*s), *s ? "; " : "", add) < 0)
                return -ENOMEM;
        free(*s);
        *s = n;
        return 0;
}

/* The members of the group with their drivers as sysfs shows them now. */
static int snapshot(const Ctx *c, const IommuGroup *g, BindReport *rep) {
        rep->devices = calloc(g->n_members, sizeof(BindDeviceResult));
        if (!rep->devices)
                return -ENOMEM;
        for (size_t i = 0; i < g->n_members; i++) {
                const PciDevice *d = &c->inv->devices[g->members[i]];
                BindDeviceResult *x = &rep->devices[rep->n_devices++];
                int r;

                memcpy(x->address, d->name, sizeof x->address);
                x->bridge = d->is_bridge;
                r = read_driver(c, d->name, &x->before);
                if (r < 0)
                        return r;
                if (x->before && !(x->after = strdup(x->before)))
                        return -ENOMEM;
        }
        return 0;
}

static int reread(const Ctx *c, BindReport *rep) {
        for (size_t i = 0; i < rep->n_devices; i++) {
                free(rep->devices[i].after);
                rep->devices[i].after = NULL;
                int r = read_driver(c, rep->devices[i].address, &rep->devices[i].after);
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool endpoints_on_vfio(const BindReport *rep, bool after) {
        for (size_t i = 0; i < rep->n_devices; i++)
                if (!rep->devices[i].bridge &&
                    !streq_ptr(after ? rep->devices[i].after : rep->devices[i].before, VFIO_PCI))
                        return false;
        return true;
}

/* --- refusals ------------------------------------------------------------ */

static int refusals(const Ctx *c, const PciDevice *d, ReasonList *l) {
        const IommuGroup *g = inventory_group(c->inv, d->iommu_group);
        int r = 0;

        if (!c->inv->iommu_active)
                r = reason_list_add(l, "no-iommu", REASON_BLOCKER, NULL,
                                    "no IOMMU is active on this host: the kernel made no IOMMU groups, "
                                    "so nothing isolates %s from the host's memory", d->name);
        else if (!g)
                r = reason_list_add(l, "no-iommu-group", REASON_BLOCKER, d->name,
                                    "%s is in no IOMMU group: the IOMMU does not isolate it", d->name);
        if (r >= 0 && d->is_bridge)
                r = reason_list_add(l, "bridge", REASON_BLOCKER, d->name,
                                    "%s is a PCI bridge: bridges are never unbound or passed through; "
                                    "name an endpoint of its group", d->name);
        for (size_t i = 0; r >= 0 && g && !g->assignable && i < g->reasons.n; i++) {
                const Reason *x = &g->reasons.items[i];
                if (x->severity == REASON_BLOCKER)
                        r = reason_list_add(l, x->code, x->severity, x->device, "IOMMU group %d %s", g->id,
                                            x->message);
        }
        return r;
}

static int check_holders(const Ctx *c, int group, ReasonList *l) {
        VfioHolder *h = NULL;
        size_t n = 0;
        int r;

        r = vfio_holders_scan(c->root, &h, &n);
        if (r < 0)
                return r;
        for (const VfioHolder *x = vfio_holders_find(h, n, group); r >= 0 && x && x < h + n && x->group == group; x++) {
                _cleanup_free_ char *who = vfio_holder_describe(x);
                r = who ? reason_list_add(l, "group-in-use", REASON_BLOCKER, NULL,
                                          "IOMMU group %d is open by %s", group, who)
                        : -ENOMEM;
        }
        vfio_holders_free(h, n);
        return r;
}

/* modprobe on the host itself; under a fixture root nothing is loaded. */
static int load_vfio_pci(const Ctx *c) {
        char *argv[] = { (char *) "modprobe", (char *) VFIO_PCI, NULL };
        pid_t pid;
        int status;

        if (vfio_pci_loaded(c->root))
                return 0;
        if (!hostroot_is_host(c->root))
                return -ENOENT;
        if (posix_spawnp(&pid, "modprobe", NULL, NULL, argv, environ) != 0)
                return -ENOENT;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return vfio_pci_loaded(c->root) ? 0 : -ENOENT;
}

/* --- the binding record -------------------------------------------------- */

static int record_member(const Ctx *c, const PciDevice *d, BindingMember *m) {
        int r;

        *m = (BindingMember) { .bridge = d->is_bridge, .vendor_id = d->vendor_id, .device_id = d->device_id };
        memcpy(m->address, d->name, sizeof m->address);
        r = read_driver(c, d->name, &m->driver);
        if (r < 0)
                return r;
        return read_override(c, d->name, &m->override);
}

static int new_record(Ctx *c, const PciDevice *req, const IommuGroup *g, bool persistent, Binding **ret) {
        Binding b = { .group = g->id, .persistent = persistent };
        struct timespec ts;
        int r;

        memcpy(b.requested, req->name, sizeof b.requested);
        clock_gettime(CLOCK_REALTIME, &ts);
        b.created_usec = (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
        b.members = calloc(g->n_members, sizeof(BindingMember));
        if (!b.members || (c->boot_id && !(b.boot_id = strdup(c->boot_id)))) {
                binding_done(&b);
                return -ENOMEM;
        }
        for (size_t i = 0; i < g->n_members; i++) {
                r = record_member(c, &c->inv->devices[g->members[i]], &b.members[b.n_members++]);
                if (r < 0) {
                        binding_done(&b);
                        return r;
                }
        }
        r = binding_table_add(&c->table, &b);
        if (r < 0) {
                binding_done(&b);
                return r;
        }
        *ret = &c->table.items[c->table.n - 1];
        return 0;
}

/* A record from an earlier boot: what the kernel bound this boot is what
 * the devices go back to (a kernel update may have changed the driver). */
static int refresh_record(const Ctx *c, Binding *b, const IommuGroup *g) {
        if (streq_ptr(b->boot_id, c->boot_id))
                return 0;
        for (size_t i = 0; i < b->n_members; i++) {
                BindingMember *m = &b->members[i];
                const PciDevice *d = inventory_find(c->inv, m->address);
                BindingMember fresh;
                int r;

                if (!d)
                        continue;
                r = record_member(c, d, &fresh);
                if (r < 0)
                        return r;
                if (streq_ptr(fresh.driver, VFIO_PCI)) { /* bound early (vfio-pci.ids): keep the record's */
                        free(fresh.driver);
                        free(fresh.override);
                        continue;
                }
                free(m->driver);
                free(m->override);
                *m = fresh;
        }
        b->group = g->id;
        free(b->boot_id);
        b->boot_id = c->boot_id ? strdup(c->boot_id) : NULL;
        return c->boot_id && !b->boot_id ? -ENOMEM : 0;
}

/* --- binding ------------------------------------------------------------- */

/* Puts the moved devices (indices into rep->devices, in the order they were
 * moved) back where the record says, newest first. */
static int rollback(const Ctx *c, const Binding *b, BindReport *rep, const size_t *moved, size_t n_moved) {
        for (size_t k = n_moved; k > 0; k--) {
                BindDeviceResult *x = &rep->devices[moved[k - 1]];
                const BindingMember *m = binding_member(b, x->address);
                _cleanup_free_ char *error = NULL, *now = NULL;
                int r;

                if (!m)
                        continue;
                r = move_device(c, x->address, m->override, m->driver, &error);
                if (r == -ENOMEM)
                        return r;
                if (r >= 0)
                        r = read_driver(c, x->address, &now);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        r = vfio_appendf(&rep->rollback, "%s not restored: %s", x->address, error ?: strerror(-r));
                else if (!streq_ptr(now, m->driver))
                        r = vfio_appendf(&rep->rollback, "%s is on %s, not back on %s", x->address, now ?: "no driver",
                                    m->driver ?: "no driver");
                else
                        r = vfio_appendf(&rep->rollback, "%s back on %s", x->address, m->driver ?: "no driver");
                if (r < 0)
                        return r;
        }
        return 0;
}

/* After the moves: every endpoint on vfio-pci, every member allowed in a
 * viable group (inventory.c's rule). */
static int verify_bound(const Ctx *c, BindReport *rep, char **error) {
        int r = reread(c, rep);

        if (r < 0)
                return r;
        for (size_t i = 0; i < rep->n_devices; i++) {
                const BindDeviceResult *x = &rep->devices[i];

                if (!x->bridge && !streq_ptr(x->after, VFIO_PCI))
                        return vfio_appendf(error, "%s is on %s after drivers_probe, not on vfio-pci", x->address,
                                       x->after ?: "no driver") < 0 ? -ENOMEM : -EIO;
                if (!pci_driver_keeps_group_viable(x->after, x->bridge))
                        return vfio_appendf(error, "group %d is not viable: %s is bound to %s", rep->group, x->address,
                                       x->after) < 0 ? -ENOMEM : -EIO;
        }
        return 0;
}

static int move_all(const Ctx *c, Binding *b, BindReport *rep) {
        _cleanup_free_ size_t *moved = calloc(rep->n_devices, sizeof(size_t));
        size_t n_moved = 0;
        int r = 0;

        if (!moved)
                return -ENOMEM;
        for (size_t i = 0; r >= 0 && i < rep->n_devices; i++) {
                const BindDeviceResult *x = &rep->devices[i];

                if (x->bridge || streq_ptr(x->before, VFIO_PCI))
                        continue;
                moved[n_moved++] = i; /* counted before the writes: a half-done move is undone too */
                r = move_device(c, x->address, VFIO_PCI, VFIO_PCI, &rep->error);
        }
        if (r == -ENOMEM)
                return r;
        if (r >= 0)
                r = verify_bound(c, rep, &rep->error);
        if (r == -ENOMEM)
                return r;
        if (r >= 0)
                return 0;
        rep->outcome = BIND_FAILED;
        r = rollback(c, b, rep, moved, n_moved);
        return r < 0 ? r : reread(c, rep);
}

/* Whether every endpoint is back on the driver the record has for it. */
static bool rolled_back(const Binding *b, const BindReport *rep) {
        for (size_t i = 0; i < rep->n_devices; i++) {
                const BindingMember *m = binding_member(b, rep->devices[i].address);
                if (m && !m->bridge && !streq_ptr(rep->devices[i].after, m->driver))
                        return false;
        }
        return true;
}

static int refuse(BindReport *rep) {
        rep->outcome = BIND_REFUSED;
        return 0;
}

/* The group is on vfio-pci already: record it (the originals are what is
 * there) and take the persistence asked for; nothing is written to sysfs. */
static int keep_bound(Ctx *c, const PciDevice *d, const IommuGroup *g, Binding *b, bool persistent,
                      BindReport *rep) {
        int r;

        if (!b && (r = new_record(c, d, g, persistent, &b)) < 0)
                return r;
        if ((r = refresh_record(c, b, g)) < 0)
                return r;
        b->persistent = persistent;
        b->pending = BINDING_PENDING_NONE; /* an interrupted bind that had moved every device */
        rep->outcome = BIND_UNCHANGED;
        rep->persistent = persistent;
        rep->recorded = true;
        return binding_table_save(c->state_dir, &c->table);
}

/* What only matters when something is to be written: nobody may hold the
 * group open, and vfio-pci must be there. 1 when refused. */
static int refused_now(Ctx *c, const IommuGroup *g, BindReport *rep) {
        int r = check_holders(c, g->id, &rep->reasons);

        if (r < 0)
                return r;
        if (reason_list_has_blocker(&rep->reasons))
                return 1;
        if (load_vfio_pci(c) >= 0)
                return 0;
        r = reason_list_add(&rep->reasons, "vfio-pci-unavailable", REASON_BLOCKER, NULL,
                            hostroot_is_host(c->root) ? "the vfio-pci driver is not registered and "
                                                        "'modprobe vfio-pci' did not load it"
                                                      : "the vfio-pci driver is not registered, and hostdevd "
                                                        "loads modules only on the host's own root");
        return r < 0 ? r : 1;
}

static int move_group(Ctx *c, const PciDevice *d, const IommuGroup *g, Binding *b, bool persistent,
                      BindReport *rep) {
        bool created = !b, old_persistent;
        int r;

        r = b ? refresh_record(c, b, g) : new_record(c, d, g, persistent, &b);
        if (r < 0)
                return r;
        old_persistent = b->persistent;
        b->persistent = persistent;
        b->pending = BINDING_PENDING_BIND;
        r = binding_table_save(c->state_dir, &c->table); /* the originals are on disk before any write */
        if (r < 0)
                return r;

        rep->outcome = BIND_DONE;
        r = move_all(c, b, rep);
        if (r < 0)
                return r;
        b->pending = BINDING_PENDING_NONE;
        if (rep->outcome == BIND_FAILED && rolled_back(b, rep)) {
                if (created) {
                        binding_table_remove(&c->table, b);
                        b = NULL;
                } else
                        b->persistent = old_persistent;
        }
        /* Otherwise done, or a rollback that left a device astray: the record
         * stays, so that DELETE can finish giving the group back. */
        rep->recorded = b;
        rep->persistent = b && b->persistent;
        return binding_table_save(c->state_dir, &c->table);
}

int vfio_bind_locked(Ctx *c, const PciDevice *d, bool persistent, BindReport *rep) {
        const IommuGroup *g = inventory_group(c->inv, d->iommu_group);
        Binding *b;
        int r;

        rep->group = g ? g->id : -1;
        r = refusals(c, d, &rep->reasons);
        if (r < 0)
                return r;
        if (reason_list_has_blocker(&rep->reasons))
                return refuse(rep);
        r = snapshot(c, g, rep);
        if (r < 0)
                return r;
        b = binding_table_find(&c->table, d->name);
        if (endpoints_on_vfio(rep, false))
                return keep_bound(c, d, g, b, persistent, rep);
        r = refused_now(c, g, rep);
        if (r != 0)
                return r < 0 ? r : refuse(rep);
        return move_group(c, d, g, b, persistent, rep);
}

/* --- releasing ----------------------------------------------------------- */

/* The record's members with their drivers now. */
static int snapshot_record(const Ctx *c, const Binding *b, BindReport *rep) {
        rep->devices = calloc(b->n_members, sizeof(BindDeviceResult));
        if (!rep->devices)
                return -ENOMEM;
        for (size_t i = 0; i < b->n_members; i++) {
                BindDeviceResult *x = &rep->devices[rep->n_devices++];
                int r;

                memcpy(x->address, b->members[i].address, sizeof x->address);
                x->bridge = b->members[i].bridge;
                r = read_driver(c, x->address, &x->before);
                if (r < 0)
                        return r;
                if (x->before && !(x->after = strdup(x->before)))
                        return -ENOMEM;
        }
        return 0;
}

static int restore_all(const Ctx *c, const Binding *b, BindReport *rep, bool *ret_changed) {
        bool changed = false;
        int r;

        for (size_t i = 0; i < rep->n_devices; i++) {
                const BindDeviceResult *x = &rep->devices[i];
                const BindingMember *m = &b->members[i];

                if (x->bridge || streq_ptr(x->before, m->driver))
                        continue;
                changed = true;
                r = move_device(c, x->address, m->override, m->driver, &rep->error);
                if (r == -ENOMEM)
                        return r; /* otherwise go on: give back what can be given back */
        }
        r = reread(c, rep);
        if (r < 0)
                return r;
        for (size_t i = 0; i < rep->n_devices; i++) {
                const BindDeviceResult *x = &rep->devices[i];
                const BindingMember *m = &b->members[i];

                if (x->bridge || streq_ptr(x->after, m->driver))
                        continue;
                r = reason_list_add(&rep->reasons, "driver-not-restored", REASON_WARNING, x->address,
                                    "%s is on %s after release, it was on %s before hostdevd bound it", x->address,
                                    x->after ?: "no driver", m->driver ?: "no driver");
                if (r < 0)
                        return r;
        }
        *ret_changed = changed;
        return 0;
}

int vfio_unbind_locked(Ctx *c, const PciDevice *d, BindReport *rep) {
        const IommuGroup *g = inventory_group(c->inv, d->iommu_group);
        Binding *b = binding_table_find(&c->table, d->name);
        bool changed;
        int r;

        rep->group = b ? b->group : g ? g->id : -1;
        if (!b) {
                if (g && (r = snapshot(c, g, rep)) < 0)
                        return r;
                for (size_t i = 0; i < rep->n_devices; i++)
                        if (streq_ptr(rep->devices[i].before, VFIO_PCI)) {
                                r = reason_list_add(&rep->reasons, "not-bound-by-hostdevd", REASON_BLOCKER,
                                                    rep->devices[i].address,
                                                    "%s is on vfio-pci, but hostdevd did not bind it: "
                                                    "its original driver is unknown", rep->devices[i].address);
                                return r < 0 ? r : refuse(rep);
                        }
                rep->outcome = BIND_UNCHANGED;
                return 0;
        }
        r = snapshot_record(c, b, rep);
        if (r < 0)
                return r;
        r = check_holders(c, g ? g->id : b->group, &rep->reasons);
        if (r < 0)
                return r;
        if (reason_list_has_blocker(&rep->reasons))
                return refuse(rep); /* unbinding vfio-pci from an open device blocks until it is closed */

        rep->persistent = b->persistent;
        rep->recorded = true;
        b->pending = BINDING_PENDING_RELEASE;
        r = binding_table_save(c->state_dir, &c->table); /* a crash from here on: the start finishes */
        if (r < 0)
                return r;
        r = restore_all(c, b, rep, &changed);
        if (r < 0)
                return r;
        if (rep->error) {
                rep->outcome = BIND_FAILED; /* the record stays: a retry finishes the job */
                b->pending = BINDING_PENDING_NONE;
                return binding_table_save(c->state_dir, &c->table);
        }
        rep->outcome = changed ? BIND_DONE : BIND_UNCHANGED;
        rep->recorded = false;
        rep->persistent = false;
        binding_table_remove(&c->table, b);
        return binding_table_save(c->state_dir, &c->table);
}

/* --- checking first ------------------------------------------------------ */

static int check_bind(const Ctx *c, const PciDevice *d, BindReport *rep) {
        const IommuGroup *g = inventory_group(c->inv, d->iommu_group);
        int r;

        rep->group = g ? g->id : -1;
        r = refusals(c, d, &rep->reasons);
        if (r < 0 || reason_list_has_blocker(&rep->reasons))
                return r < 0 ? r : refuse(rep);
        r = snapshot(c, g, rep);
        if (r < 0 || endpoints_on_vfio(rep, false))
                return r;
        r = check_holders(c, g->id, &rep->reasons);
        if (r < 0 || reason_list_has_blocker(&rep->reasons))
                return r < 0 ? r : refuse(rep);
        if (vfio_pci_loaded(c->root) || hostroot_is_host(c->root))
                return 0; /* on the host, the job loads it */
        r = reason_list_add(&rep->reasons, "vfio-pci-unavailable", REASON_BLOCKER, NULL,
                            "the vfio-pci driver is not registered, and hostdevd loads modules only on the "
                            "host's own root");
        return r < 0 ? r : refuse(rep);
}

static int check_release(const Ctx *c, const PciDevice *d, BindReport *rep) {
        const IommuGroup *g = inventory_group(c->inv, d->iommu_group);
        const Binding *b = binding_table_find(&c->table, d->name);
        int r;

        rep->group = b ? b->group : g ? g->id : -1;
        if (b) {
                r = check_holders(c, g ? g->id : b->group, &rep->reasons);
                return r < 0 || !reason_list_has_blocker(&rep->reasons) ? r : refuse(rep);
        }
        if (g && (r = snapshot(c, g, rep)) < 0)
                return r;
        for (size_t i = 0; i < rep->n_devices; i++)
                if (streq_ptr(rep->devices[i].before, VFIO_PCI)) {
                        r = reason_list_add(&rep->reasons, "not-bound-by-hostdevd", REASON_BLOCKER,
                                            rep->devices[i].address,
                                            "%s is on vfio-pci, but hostdevd did not bind it: its original "
                                            "driver is unknown", rep->devices[i].address);
                        return r < 0 ? r : refuse(rep);
                }
        return 0;
}

int vfio_check_group(const HostRoot *root, const Inventory *inv, const char *state_dir, const char *address,
                     bool bind, BindReport *ret) {
        _cleanup_(vfio_ctx_done) Ctx c = CTX_NULL;
        const PciDevice *d = inventory_find(inv, address);
        BindReport rep = { .group = -1 };
        int r;

        if (!d)
                return -ENOENT;
        r = vfio_ctx_open(&c, root, inv, state_dir);
        if (r >= 0)
                r = bind ? check_bind(&c, d, &rep) : check_release(&c, d, &rep);
        if (r < 0 || rep.outcome != BIND_REFUSED) {
                bind_report_done(&rep);
                return r < 0 ? r : 0;
        }
        *ret = rep;
        return 1;
}

/* --- the entry points ---------------------------------------------------- */

/* Binds (bind true) or releases the group of address, with the state open. */
static int bind_or_release(const HostRoot *root, const Inventory *inv, const char *state_dir, const char *address,
                           bool bind, bool persistent, BindReport *ret) {
        _cleanup_(vfio_ctx_done) Ctx c = CTX_NULL;
        const PciDevice *d = inventory_find(inv, address);
        BindReport rep = { .group = -1 };
        int r;

        if (!d)
                return -ENOENT;
        r = vfio_ctx_open(&c, root, inv, state_dir);
        if (r < 0)
                return r;
        r = bind ? vfio_bind_locked(&c, d, persistent, &rep) : vfio_unbind_locked(&c, d, &rep);
        if (r < 0) {
                bind_report_done(&rep);
                return r;
        }
        *ret = rep;
        return 0;
}

int vfio_bind_group(const HostRoot *root, const Inventory *inv, const char *state_dir, const char *address,
                    bool persistent, BindReport *ret) {
        return bind_or_release(root, inv, state_dir, address, true, persistent, ret);
}

int vfio_unbind_group(const HostRoot *root, const Inventory *inv, const char *state_dir, const char *address,
                      BindReport *ret) {
        return bind_or_release(root, inv, state_dir, address, false, false, ret);
}

