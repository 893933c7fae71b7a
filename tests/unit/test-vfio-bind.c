/* Binding groups to vfio-pci against generated trees, with the kernel double
 * (tests/mock/pcimock.so) preloaded: the whole group moves, bridges stay,
 * refusals write nothing, failures roll back, releasing restores the
 * recorded drivers, and persistent bindings come back after a "reboot"
 * unless the device or its group drifted. */
#include <stdlib.h>
#include <string.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "fixture.h"
#include "host/sysfs-write.h"
#include "host/vfio-bind.h"
#include "tap.h"

typedef struct Tree {
        char *dir;
        HostRoot *root;
        Inventory *inv;
        char *state;
} Tree;

static void rescan(Tree *t) {
        _cleanup_free_ char *error = NULL;

        inventory_unref(t->inv);
        t->inv = NULL;
        if (inventory_scan(t->root, NULL, &t->inv, &error) < 0)
                abort();
}

static bool tree_open(const char *topology, Tree *t) {
        *t = (Tree) {};
        if (fixture_new(topology, &t->dir) < 0)
                return false;
        if (hostroot_new(t->dir, &t->root) < 0 || !(t->state = vfio_default_state_dir(t->root)))
                abort();
        setenv("PCIMOCK_ROOT", t->dir, 1);
        rescan(t);
        return true;
}

static void tree_close(Tree *t) {
        inventory_unref(t->inv);
        hostroot_free(t->root);
        free(t->state);
        fixture_free(t->dir);
        unsetenv("PCIMOCK_ROOT");
}

static char *driver_of(const Tree *t, const char *addr) {
        _cleanup_free_ char *p = NULL;
        char *d = NULL;

        if (asprintf(&p, "%s/sys/bus/pci/devices/%s/driver", t->dir, addr) < 0)
                abort();
        return readlink_basename(p, &d) < 0 ? NULL : d;
}

static char *file_text(const Tree *t, const char *rel) {
        _cleanup_free_ char *p = NULL;
        char *s = NULL;

        if (asprintf(&p, "%s/%s", t->dir, rel) < 0)
                abort();
        return read_full_file(p, 1 << 20, &s, NULL) < 0 ? strdup("") : s;
}

static bool driver_is(const Tree *t, const char *addr, const char *want) {
        _cleanup_free_ char *d = driver_of(t, addr);
        return streq_ptr(d, want);
}

static size_t log_lines(const Tree *t) {
        _cleanup_free_ char *s = file_text(t, "meta/pcimock.log");
        size_t n = 0;

        for (const char *p = s; p && *p; p++)
                n += *p == '\n';
        return n;
}

static BindReport bind(Tree *t, const char *addr, bool persistent) {
        BindReport r = {};
        if (vfio_bind_group(t->root, t->inv, t->state, addr, persistent, &r) < 0)
                abort();
        rescan(t);
        return r;
}

static BindReport release(Tree *t, const char *addr) {
        BindReport r = {};
        if (vfio_unbind_group(t->root, t->inv, t->state, addr, &r) < 0)
                abort();
        rescan(t);
        return r;
}

static bool has_reason(const BindReport *r, const char *code) {
        for (size_t i = 0; i < r->reasons.n; i++)
                if (streq(r->reasons.items[i].code, code))
                        return true;
        return false;
}

static void test_gpu_group(Tree *t) {
        _cleanup_free_ char *state = NULL, *log = NULL, *ovr = NULL;
        BindReport r;
        size_t n;

        r = bind(t, "0000:01:00.0", false);
        is_str(bind_outcome_to_string(r.outcome), "done", "GPU: bound (%s)", strempty(r.error));
        ok(driver_is(t, "0000:01:00.0", "vfio-pci"), "GPU on vfio-pci");
        ok(driver_is(t, "0000:01:00.1", "vfio-pci"), "its audio too: the whole group");
        ok(driver_is(t, "0000:00:01.0", "pcieport"), "the root port above is untouched");
        ok(r.recorded && !r.persistent, "recorded, not persistent");
        is_int(r.n_devices, 2, "two members reported");
        is_str(r.n_devices ? r.devices[0].before : NULL, "nouveau", "before: nouveau");
        is_str(r.n_devices ? r.devices[0].after : NULL, "vfio-pci", "after: vfio-pci");
        bind_report_done(&r);
        state = file_text(t, "var/lib/hostdevd/vfio-bindings");
        ok(strstr(state, "member 0000:01:00.0 endpoint ids=10de:1eb8 driver=nouveau override=-"),
           "state remembers the GPU's driver");
        ok(strstr(state, "member 0000:01:00.1 endpoint ids=10de:10f8 driver=snd_hda_intel"), "and the audio's");
        log = file_text(t, "meta/pcimock.log");
        ok(strstr(log, "driver_override 0000:01:00.0 vfio-pci -> ok\nunbind nouveau 0000:01:00.0 -> ok\n"
                       "drivers_probe bus 0000:01:00.0 -> ok\n"),
           "override, unbind, drivers_probe, in that order");
        ok(!strstr(log, "new_id"), "never new_id");
        ovr = file_text(t, "sys/bus/pci/devices/0000:01:00.0/driver_override");
        is_str(ovr, "vfio-pci\n", "driver_override stays vfio-pci while bound");

        n = log_lines(t);
        r = bind(t, "0000:01:00.1", false);
        is_str(bind_outcome_to_string(r.outcome), "unchanged", "binding a bound group again: unchanged");
        is_int(log_lines(t), n, "and nothing written to sysfs");
        bind_report_done(&r);
        r = bind(t, "0000:01:00.0", true);
        ok(r.outcome == BIND_UNCHANGED && r.persistent, "made persistent without touching sysfs");
        bind_report_done(&r);

        r = release(t, "0000:01:00.1");
        is_str(bind_outcome_to_string(r.outcome), "done", "released through the other member");
        ok(driver_is(t, "0000:01:00.0", "nouveau"), "GPU back on nouveau");
        ok(driver_is(t, "0000:01:00.1", "snd_hda_intel"), "audio back on snd_hda_intel");
        is_int(r.reasons.n, 0, "no warning");
        bind_report_done(&r);
        free(ovr);
        ovr = file_text(t, "sys/bus/pci/devices/0000:01:00.0/driver_override");
        is_str(ovr, "(null)\n", "driver_override cleared");
        free(state);
        state = file_text(t, "var/lib/hostdevd/vfio-bindings");
        ok(!strstr(state, "binding "), "binding forgotten");
        n = log_lines(t);
        r = release(t, "0000:01:00.0");
        ok(r.outcome == BIND_UNCHANGED && log_lines(t) == n, "releasing again: unchanged, nothing written");
        bind_report_done(&r);
}

static void test_bridge_group(Tree *t) {
        _cleanup_free_ char *log = NULL;
        BindReport r;

        r = bind(t, "0000:04:00.0", false);
        ok(r.outcome == BIND_REFUSED && has_reason(&r, "bridge"), "the bridge itself: refused");
        bind_report_done(&r);
        r = bind(t, "0000:05:00.0", false);
        is_str(bind_outcome_to_string(r.outcome), "done", "bridge group: bound (%s)", strempty(r.error));
        ok(driver_is(t, "0000:05:00.0", "vfio-pci") && driver_is(t, "0000:05:01.0", "vfio-pci"),
           "both endpoints on vfio-pci");
        ok(driver_is(t, "0000:04:00.0", NULL), "the bridge keeps no driver");
        bind_report_done(&r);
        log = file_text(t, "meta/pcimock.log");
        ok(!strstr(log, "0000:04:00.0"), "nothing ever written about the bridge");
        r = release(t, "0000:05:01.0");
        is_str(bind_outcome_to_string(r.outcome), "done", "bridge group released");
        ok(driver_is(t, "0000:05:00.0", "8139too"), "NIC back on 8139too");
        ok(driver_is(t, "0000:05:01.0", NULL), "sound card left without a driver, as it was");
        bind_report_done(&r);
}

static void test_refusals(Tree *t) {
        size_t n = log_lines(t);
        BindReport r;

        r = bind(t, "0000:02:00.0", true);
        ok(r.outcome == BIND_REFUSED && has_reason(&r, "host-uses-device"), "root disk: refused");
        ok(r.reasons.n > 0 && strstr(r.reasons.items[0].message, "/"), "the reason names the mount (%s)",
           r.reasons.n ? r.reasons.items[0].message : "");
        bind_report_done(&r);
        r = bind(t, "0000:00:1f.3", false);
        ok(r.outcome == BIND_REFUSED && has_reason(&r, "platform-device"), "group with the LPC bridge: refused");
        bind_report_done(&r);
        is_int(log_lines(t), n, "refusals write nothing");
        ok(driver_is(t, "0000:02:00.0", "nvme"), "root disk still on nvme");

        fixture_put(t->dir, "proc/4242/comm", "qemu-system-x86\n", NULL);
        fixture_put(t->dir, "proc/4242/fd/17", NULL, "/dev/vfio/9");
        r = bind(t, "0000:01:00.0", false);
        ok(r.outcome == BIND_REFUSED && has_reason(&r, "group-in-use"), "group held open: refused");
        ok(r.reasons.n && strstr(r.reasons.items[0].message, "4242"), "names the process");
        bind_report_done(&r);
        fixture_put(t->dir, "proc/4242/fd/17", NULL, "/dev/null");
}

static void test_rollback(Tree *t) {
        _cleanup_free_ char *state = NULL, *ovr = NULL;
        BindReport r;

        fixture_put(t->dir, "meta/pcimock-faults", "probe-fails 0000:01:00.1 vfio-pci\n", NULL);
        r = bind(t, "0000:01:00.0", true);
        is_str(bind_outcome_to_string(r.outcome), "failed", "failing probe: failed");
        ok(r.error && strstr(r.error, "0000:01:00.1 is on no driver"), "says which device (%s)", strempty(r.error));
        ok(r.rollback && strstr(r.rollback, "0000:01:00.0 back on nouveau"), "rollback (%s)", strempty(r.rollback));
        ok(driver_is(t, "0000:01:00.0", "nouveau") && driver_is(t, "0000:01:00.1", "snd_hda_intel"),
           "both back on their drivers");
        ok(!r.recorded, "no record left");
        bind_report_done(&r);
        state = file_text(t, "var/lib/hostdevd/vfio-bindings");
        ok(!strstr(state, "binding "), "state file without the binding");

        fixture_put(t->dir, "meta/pcimock-faults", "write-fails unbind 0000:01:00.1 EIO\n", NULL);
        r = bind(t, "0000:01:00.0", false);
        is_str(bind_outcome_to_string(r.outcome), "failed", "failing unbind: failed");
        is_str(r.error, "writing '0000:01:00.1' to bus/pci/drivers/snd_hda_intel/unbind failed: Input/output error",
               "the failed write, exactly");
        ok(driver_is(t, "0000:01:00.0", "nouveau") && driver_is(t, "0000:01:00.1", "snd_hda_intel"),
           "rolled back");
        ovr = file_text(t, "sys/bus/pci/devices/0000:01:00.1/driver_override");
        is_str(ovr, "(null)\n", "the half-done device's override cleared");
        bind_report_done(&r);
        fixture_put(t->dir, "meta/pcimock-faults", "", NULL);
}

/* What a reboot does to the fixture: a new boot id, every device on the
 * driver the kernel picks without override. */
static void reboot(Tree *t, const char *boot_id) {
        _cleanup_free_ char *bus = NULL;
        _cleanup_close_ int bus_fd = -EBADF, drv_fd = -EBADF;

        fixture_put(t->dir, "proc/sys/kernel/random/boot_id", boot_id, NULL);
        if (asprintf(&bus, "%s/sys/bus/pci", t->dir) < 0 || (bus_fd = sysfs_open_dir(AT_FDCWD, bus)) < 0 ||
            (drv_fd = sysfs_open_dir(bus_fd, "drivers/vfio-pci")) < 0)
                abort();
        for (size_t i = 0; i < t->inv->n_devices; i++) {
                const PciDevice *d = &t->inv->devices[i];
                _cleanup_free_ char *ovr = NULL;
                _cleanup_close_ int dev_fd = -EBADF;

                if (!streq_ptr(d->driver, "vfio-pci"))
                        continue;
                if (asprintf(&ovr, "devices/%s", d->name) < 0 || (dev_fd = sysfs_open_dir(bus_fd, ovr)) < 0)
                        abort();
                (void) sysfs_write_attr(dev_fd, "driver_override", "\n");
                (void) sysfs_write_attr(drv_fd, "unbind", d->name);
                (void) sysfs_write_attr(bus_fd, "drivers_probe", d->name);
        }
        rescan(t);
}

static ReapplyResult *find_result(ReapplyResult *res, size_t n, const char *addr) {
        for (size_t i = 0; i < n; i++)
                if (streq(res[i].requested, addr))
                        return &res[i];
        return NULL;
}

static void replace_in_state(Tree *t, const char *from, const char *to) {
        _cleanup_free_ char *s = file_text(t, "var/lib/hostdevd/vfio-bindings"), *out = NULL;
        char *at = strstr(s, from);

        if (!at)
                abort();
        *at = 0;
        if (asprintf(&out, "%s%s%s", s, to, at + strlen(from)) < 0)
                abort();
        fixture_put(t->dir, "var/lib/hostdevd/vfio-bindings", out, NULL);
}

static void reapply(Tree *t, ReapplyResult **res, size_t *n) {
        if (vfio_bind_reapply(t->root, t->inv, t->state, res, n) < 0)
                abort();
        rescan(t);
}

static void test_persistence(Tree *t) {
        ReapplyResult *res = NULL, *x;
        size_t n = 0;
        BindReport r;

        fixture_put(t->dir, "proc/sys/kernel/random/boot_id", "boot-1\n", NULL);
        r = bind(t, "0000:01:00.0", true);
        ok(r.outcome == BIND_DONE && r.persistent, "persistent binding");
        bind_report_done(&r);
        r = bind(t, "0000:05:00.0", false);
        ok(r.outcome == BIND_DONE && !r.persistent, "and a transient one");
        bind_report_done(&r);

        reapply(t, &res, &n);
        is_int(n, 2, "restart in the same boot: two bindings");
        x = find_result(res, n, "0000:01:00.0");
        is_str(x ? reapply_outcome_to_string(x->outcome) : NULL, "already", "persistent: already in place");
        x = find_result(res, n, "0000:05:00.0");
        is_str(x ? reapply_outcome_to_string(x->outcome) : NULL, "kept", "transient: kept in the same boot");
        reapply_results_free(res, n);

        reboot(t, "boot-2\n");
        ok(driver_is(t, "0000:01:00.0", "nouveau") && driver_is(t, "0000:05:00.0", "8139too"), "after reboot: native drivers");
        reapply(t, &res, &n);
        x = find_result(res, n, "0000:01:00.0");
        is_str(x ? reapply_outcome_to_string(x->outcome) : NULL, "applied", "persistent: re-applied (%s)",
               x ? strempty(x->detail) : "");
        x = find_result(res, n, "0000:05:00.0");
        is_str(x ? reapply_outcome_to_string(x->outcome) : NULL, "dropped", "transient of an earlier boot: dropped");
        reapply_results_free(res, n);
        ok(driver_is(t, "0000:01:00.0", "vfio-pci") && driver_is(t, "0000:01:00.1", "vfio-pci"), "GPU group bound again");
        ok(driver_is(t, "0000:05:00.0", "8139too"), "transient one not re-applied");

        replace_in_state(t, "ids=10de:10f8", "ids=10de:ffff");
        reboot(t, "boot-3\n");
        reapply(t, &res, &n);
        is_int(n, 1, "one binding left");
        x = find_result(res, n, "0000:01:00.0");
        is_str(x ? reapply_outcome_to_string(x->outcome) : NULL, "drifted", "other ids at 01:00.1: drift");
        ok(x && x->detail && strstr(x->detail, "0000:01:00.1 is now 10de:10f8, it was 10de:ffff"), "detail: %s",
           x ? strempty(x->detail) : "");
        reapply_results_free(res, n);
        ok(driver_is(t, "0000:01:00.0", "nouveau"), "a drifted binding is not applied");

        replace_in_state(t, "ids=10de:ffff", "ids=10de:10f8");
        replace_in_state(t, "member 0000:01:00.1", "member 0000:01:00.2");
        reapply(t, &res, &n);
        x = find_result(res, n, "0000:01:00.0");
        is_str(x ? reapply_outcome_to_string(x->outcome) : NULL, "drifted", "other group members: drift");
        ok(x && x->detail && strstr(x->detail, "other members"), "detail: %s", x ? strempty(x->detail) : "");
        reapply_results_free(res, n);
        replace_in_state(t, "member 0000:01:00.2", "member 0000:01:00.1");
        r = release(t, "0000:01:00.0");
        ok(r.outcome == BIND_UNCHANGED && !r.recorded, "releasing a binding not in effect: forgotten");
        bind_report_done(&r);
}

static void test_corrupt_state(Tree *t) {
        _cleanup_free_ char *saved = file_text(t, "var/lib/hostdevd/vfio-bindings");
        size_t n = log_lines(t);
        BindReport r = {};

        fixture_put(t->dir, "var/lib/hostdevd/vfio-bindings", "binding group=x\n", NULL);
        is_int(vfio_bind_group(t->root, t->inv, t->state, "0000:05:00.0", false, &r), -EBADMSG,
               "a malformed state file is an error");
        is_int(log_lines(t), n, "and nothing is written to sysfs");
        fixture_put(t->dir, "var/lib/hostdevd/vfio-bindings", "member 0000:01:00.0 endpoint\n", NULL);
        is_int(vfio_unbind_group(t->root, t->inv, t->state, "0000:05:00.0", &r), -EBADMSG,
               "a member line before any binding is malformed");
        fixture_put(t->dir, "var/lib/hostdevd/vfio-bindings", saved, NULL);
        is_int(vfio_bind_group(t->root, t->inv, t->state, "0000:09:00.0", false, &r), -ENOENT, "unknown address");
}

static void test_no_iommu(void) {
        Tree t;
        BindReport r;

        if (!tree_open("iommu-off", &t))
                return;
        r = bind(&t, "0000:01:00.0", false);
        ok(r.outcome == BIND_REFUSED && has_reason(&r, "no-iommu"), "no IOMMU: refused");
        ok(driver_is(&t, "0000:01:00.0", "nouveau"), "no IOMMU: untouched");
        bind_report_done(&r);
        tree_close(&t);

        if (!tree_open("intel-gpu-audio", &t))
                return;
        r = bind(&t, "0000:01:00.0", false);
        ok(r.outcome == BIND_REFUSED && has_reason(&r, "vfio-pci-unavailable"),
           "vfio-pci not loaded under a fixture root: refused, no modprobe");
        bind_report_done(&r);
        tree_close(&t);
}

int main(int argc, char **argv) {
        Tree t;

        (void) argc;
        if (!fixture_preload_pcimock(argv)) {
                ok(true, "# SKIP tests/mock/pcimock.so is not built");
                return tap_done();
        }
        if (!tree_open("passthrough", &t)) {
                ok(true, "# SKIP cannot generate fixture trees (python3, tests/fixtures/mksysfs.py)");
                return tap_done();
        }
        test_gpu_group(&t);
        test_bridge_group(&t);
        test_refusals(&t);
        test_rollback(&t);
        test_persistence(&t);
        test_corrupt_state(&t);
        tree_close(&t);
        test_no_iommu();
        return tap_done();
}
