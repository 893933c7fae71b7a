/* Changing VF counts against the generated "sriov" tree (PF 01:00.0 with
 * three VFs, PF 01:00.1 with none, eight possible each), with the kernel
 * double preloaded, which applies sriov_numvfs_store()'s rules (EBUSY from
 * one non-zero count to another, ERANGE, ENOENT without a driver) and keeps
 * the count (it makes no VFs: the real-kernel tier does). Checked: the
 * writes made and their order, refusals that write nothing, the record of
 * a persistent count, and its re-application after a "reboot" unless the
 * card at the address changed. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/parse-util.h"
#include "basic/strv.h"
#include "fixture.h"
#include "host/sriov-state.h"
#include "host/sriov.h"
#include "host/vfio-bind.h"
#include "tap.h"

#define PF0 "0000:01:00.0"
#define PF1 "0000:01:00.1"
#define VF2 "0000:01:00.4"

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

static char *file_text(const Tree *t, const char *dir, const char *name) {
        _cleanup_free_ char *p = NULL;
        char *s = NULL;

        if (asprintf(&p, "%s/%s/%s", t->dir, dir, name) < 0)
                abort();
        return read_full_file(p, 1 << 20, &s, NULL) < 0 ? strdup("") : s;
}

static int numvfs(const Tree *t, const char *pf) {
        _cleanup_free_ char *dir = NULL, *s = NULL;
        int n;

        if (asprintf(&dir, "sys/bus/pci/devices/%s", pf) < 0)
                abort();
        s = file_text(t, dir, "sriov_numvfs");
        s[strcspn(s, "\n")] = 0;
        return safe_atoi(s, &n) < 0 ? -1 : n;
}

static char *mock_log(const Tree *t) {
        return file_text(t, "meta", "pcimock.log");
}

static SriovReport set(Tree *t, const char *pf, unsigned n, int autoprobe, int persistent, int *ret_r) {
        SriovReport rep = {};
        SriovRequest req = { .numvfs = n, .drivers_autoprobe = autoprobe, .persistent = persistent };

        *ret_r = sriov_set(t->root, t->inv, t->state, pf, &req, &rep);
        return rep;
}

static bool has_reason(const SriovReport *r, const char *code, const char *device) {
        for (size_t i = 0; i < r->reasons.n; i++)
                if (streq(r->reasons.items[i].code, code) && streq_ptr(r->reasons.items[i].device, device))
                        return true;
        return false;
}

static void test_counts(Tree *t) {
        _cleanup_free_ char *log = NULL;
        SriovReport r;
        int k;

        r = set(t, PF1, 4, -1, -1, &k);
        ok(k == 0 && r.outcome == SRIOV_DONE && r.before == 0 && r.after == 4, "0 -> 4: done, 4 read back");
        ok(strv_length(r.writes) == 1 && streq(r.writes[0], "sriov_numvfs=4"), "one write: %s",
           r.writes ? r.writes[0] : "none");
        is_int(numvfs(t, PF1), 4, "the kernel has 4");
        sriov_report_done(&r);

        r = set(t, PF1, 2, -1, -1, &k);
        ok(k == 0 && r.outcome == SRIOV_DONE && r.before == 4 && r.after == 2, "4 -> 2: done");
        ok(strv_length(r.writes) == 2 && streq(r.writes[0], "sriov_numvfs=0") && streq(r.writes[1], "sriov_numvfs=2"),
           "through 0, as the kernel requires");
        log = mock_log(t);
        ok(strstr(log, "sriov_numvfs " PF1 " 0 -> ok\nsriov_numvfs " PF1 " 2 -> ok\n") != NULL,
           "the kernel saw 0, then 2");
        sriov_report_done(&r);

        r = set(t, PF1, 2, -1, -1, &k);
        ok(k == 0 && r.outcome == SRIOV_UNCHANGED && !r.writes, "2 again: unchanged, nothing written");
        sriov_report_done(&r);

        r = set(t, PF1, 2, 0, -1, &k);
        ok(k == 0 && r.outcome == SRIOV_DONE && strv_length(r.writes) == 1 &&
           streq(r.writes[0], "sriov_drivers_autoprobe=0"), "autoprobe alone: one write");
        sriov_report_done(&r);

        r = set(t, PF1, 0, -1, -1, &k);
        ok(k == 0 && r.outcome == SRIOV_DONE && numvfs(t, PF1) == 0, "2 -> 0");
        sriov_report_done(&r);
}

static void test_bad_requests(Tree *t) {
        int k;

        (void) set(t, PF1, 9, -1, -1, &k);
        is_int(k, -ERANGE, "more than sriov_totalvfs: -ERANGE");
        (void) set(t, "0000:02:00.0", 1, -1, -1, &k);
        is_int(k, -ENOTSUP, "no SR-IOV capability: -ENOTSUP");
        (void) set(t, "0000:0f:00.0", 1, -1, -1, &k);
        is_int(k, -ENOENT, "no such device: -ENOENT");
}

static void test_refusals(Tree *t) {
        _cleanup_free_ char *before = mock_log(t), *after = NULL, *drv = NULL;
        const PciDevice *vf = inventory_find(t->inv, VF2);
        SriovReport r;
        char link[64];
        int k;

        ok(vf && vf->iommu_group >= 0, "VF %s has an IOMMU group", VF2);
        snprintf(link, sizeof link, "/dev/vfio/%d", vf ? vf->iommu_group : 0);
        fixture_put(t->dir, "proc/4242/comm", "qemu-system-x86\n", NULL);
        fixture_put(t->dir, "proc/4242/fd/17", NULL, link);
        r = set(t, PF0, 0, -1, -1, &k);
        ok(k == 0 && r.outcome == SRIOV_REFUSED && has_reason(&r, "group-in-use", VF2),
           "3 -> 0 while a VM holds a VF's group: refused, naming the VF");
        ok(r.reasons.n && strstr(r.reasons.items[0].message, "qemu-system-x86") != NULL,
           "the reason names the process: %s", r.reasons.n ? r.reasons.items[0].message : "");
        sriov_report_done(&r);
        r = set(t, PF0, 3, 0, -1, &k);
        ok(k == 0 && r.outcome == SRIOV_DONE && strv_length(r.writes) == 1,
           "the same count (autoprobe only) removes no VF: allowed");
        sriov_report_done(&r);
        fixture_put(t->dir, "proc/4242/fd/17", NULL, "/dev/null");

        if (asprintf(&drv, "%s/sys/bus/pci/devices/" PF1 "/driver", t->dir) < 0 || unlink(drv) < 0)
                abort();
        rescan(t);
        r = set(t, PF1, 2, -1, -1, &k);
        ok(k == 0 && r.outcome == SRIOV_REFUSED && has_reason(&r, "pf-no-driver", PF1),
           "a PF without a driver: refused before the kernel's ENOENT");
        sriov_report_done(&r);
        after = mock_log(t);
        ok(strlen(after) == strlen(before) + strlen("sriov_drivers_autoprobe " PF0 " 0 -> ok\n"),
           "refusals wrote nothing");
}

static void test_persistence(Tree *t) {
        _cleanup_(sriov_table_done) SriovTable tab = {};
        _cleanup_free_ char *saved = NULL;
        SriovReapplyResult *res = NULL;
        size_t n = 0;
        SriovReport r;
        int k;

        r = set(t, PF0, 5, 1, 1, &k);
        ok(k == 0 && r.outcome == SRIOV_DONE && r.recorded, "3 -> 5, persistent: recorded");
        sriov_report_done(&r);
        ok(sriov_table_load(t->state, &tab) == 0 && tab.n == 1 && tab.items[0].numvfs == 5 &&
           tab.items[0].drivers_autoprobe == 1 && tab.items[0].vendor_id == 0x15b3, "the record: %s 5 1 15b3:...",
           PF0);
        saved = file_text(t, "var/lib/hostdevd", "sriov");

        /* a reboot: the kernel starts without VFs */
        fixture_put(t->dir, "sys/bus/pci/devices/" PF0 "/sriov_numvfs", "0\n", NULL);
        rescan(t);
        k = sriov_reapply(t->root, t->inv, t->state, &res, &n);
        ok(k == 0 && n == 1 && streq(res[0].outcome, "applied"), "at start: applied");
        is_int(numvfs(t, PF0), 5, "5 VFs again");
        sriov_reapply_results_free(res, n);
        rescan(t);
        ok(sriov_reapply(t->root, t->inv, t->state, &res, &n) == 0 && n == 1 && streq(res[0].outcome, "already"),
           "a restart in the same boot: already");
        sriov_reapply_results_free(res, n);

        /* another card at the address: drift, not applied */
        fixture_put(t->dir, "var/lib/hostdevd/sriov", "0000:01:00.0 6 - 15b3:1019\n", NULL);
        k = sriov_reapply(t->root, t->inv, t->state, &res, &n);
        ok(k == 0 && n == 1 && streq(res[0].outcome, "drifted") && strstr(res[0].detail, "recorded 15b3:1019"),
           "other ids: drifted (%s)", k == 0 && n ? res[0].detail : "");
        is_int(numvfs(t, PF0), 5, "not applied");
        sriov_reapply_results_free(res, n);
        fixture_put(t->dir, "var/lib/hostdevd/sriov", saved, NULL);

        r = set(t, PF0, 5, -1, 0, &k);
        ok(k == 0 && r.outcome == SRIOV_UNCHANGED && !r.recorded, "persistent false forgets the record");
        sriov_report_done(&r);
        sriov_table_done(&tab);
        ok(sriov_table_load(t->state, &tab) == 0 && tab.n == 0, "the table is empty");

        fixture_put(t->dir, "var/lib/hostdevd/sriov", "0000:01:00.0 five - 15b3:1017\n", NULL);
        is_int(sriov_table_load(t->state, &tab), -EBADMSG, "a malformed table: -EBADMSG");
}

int main(int argc, char **argv) {
        Tree t = {};

        (void) argc;
        if (!fixture_preload_pcimock(argv)) {
                ok(true, "# SKIP tests/mock/pcimock.so is not built");
                return tap_done();
        }
        if (fixture_new("sriov", &t.dir) < 0) {
                ok(true, "# SKIP cannot generate fixture trees (python3, tests/fixtures/mksysfs.py)");
                return tap_done();
        }
        if (hostroot_new(t.dir, &t.root) < 0 || !(t.state = vfio_default_state_dir(t.root)))
                abort();
        setenv("PCIMOCK_ROOT", t.dir, 1);
        rescan(&t);
        test_counts(&t);
        test_bad_requests(&t);
        test_refusals(&t);
        test_persistence(&t);
        inventory_unref(t.inv);
        hostroot_free(t.root);
        free(t.state);
        fixture_free(t.dir);
        return tap_done();
}
