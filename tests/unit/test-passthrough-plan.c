/* Passthrough plans over generated trees: group closure (placeholders,
 * bridges), actions, blockers and warnings, pinning, request errors naming
 * the entry, determinism. */
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "fixture.h"
#include "host/passthrough-plan.h"
#include "tap.h"

typedef struct Tree {
        char *dir;
        HostRoot *root;
        Inventory *inv;
} Tree;

static bool tree_open(const char *topology, Tree *t) {
        _cleanup_free_ char *error = NULL;

        *t = (Tree) {};
        if (fixture_new(topology, &t->dir) < 0)
                return false;
        if (hostroot_new(t->dir, &t->root) < 0 || inventory_scan(t->root, NULL, &t->inv, &error) < 0)
                abort();
        return true;
}

static void tree_close(Tree *t) {
        inventory_unref(t->inv);
        hostroot_free(t->root);
        fixture_free(t->dir);
}

static size_t strv_length_(char *const *l) {
        size_t n = 0;
        while (l && l[n])
                n++;
        return n;
}

static int plan(const Tree *t, const char *vm, const VfioHolder *h, size_t n_h, PassthroughPlan **ret,
                PlanError *err, char *const *devices) {
        PlanInput in = { .inv = t->inv, .holders = h, .n_holders = n_h, .vfio_pci_loaded = true,
                         .devices = devices, .n_devices = strv_length_(devices), .vm = vm };
        return passthrough_plan_build(&in, ret, err);
}

static bool has_reason(const ReasonList *l, const char *code, ReasonSeverity sev) {
        for (size_t i = 0; i < l->n; i++)
                if (streq(l->items[i].code, code) && l->items[i].severity == sev)
                        return true;
        return false;
}

static void test_gpu(const Tree *t) {
        _cleanup_(passthrough_plan_freep) PassthroughPlan *p = NULL;
        char *devs[] = { (char *) "0000:01:00.0", NULL };
        PlanError e;
        const PlanGroup *g;
        HostInfo host = { .host_id = (char *) "abcd", .host_id_source = "machine-id" };
        PlanInput in = { .inv = t->inv, .host = &host, .vfio_pci_loaded = true, .devices = devs, .n_devices = 1,
                         .vm = "win10" };

        is_int(passthrough_plan_build(&in, &p, &e), 0, "GPU: plan built");
        if (!p)
                return;
        ok(p->feasible, "GPU: feasible");
        is_int(p->n_groups, 1, "GPU: one group");
        g = &p->groups[0];
        is_int(g->id, 9, "GPU: group 9");
        is_int(g->n_devices, 2, "GPU: two members");
        is_str(g->devices[0].address, "0000:01:00.0", "GPU first");
        is_int(g->devices[0].role, PLAN_ROLE_REQUESTED, "GPU requested");
        is_str(g->devices[1].address, "0000:01:00.1", "audio second");
        is_int(g->devices[1].role, PLAN_ROLE_PLACEHOLDER, "audio is a placeholder");
        is_int(g->n_actions, 2, "two driver moves");
        is_str(g->actions[0].from, "nouveau", "GPU from nouveau");
        is_str(g->actions[0].to, "vfio-pci", "to vfio-pci");
        is_str(g->actions[1].from, "snd_hda_intel", "audio from snd_hda_intel");
        is_str(p->host_id, "abcd", "pinned to the host id");
        is_str(p->vm, "win10", "VM name kept");
        is_int(p->n_numa_nodes, 1, "one NUMA node");
        is_int(p->n_numa_nodes ? p->numa_nodes[0] : -1, 1, "node 1");
        is_str(p->local_cpus, "4-7", "its CPUs");
}

static void test_bridge_group(const Tree *t) {
        _cleanup_(passthrough_plan_freep) PassthroughPlan *p = NULL;
        char *devs[] = { (char *) "0000:05:00.0", NULL };
        PlanError e;

        is_int(plan(t, NULL, NULL, 0, &p, &e, devs), 0, "bridge group: plan built");
        if (!p)
                return;
        ok(p->feasible, "bridge group: feasible");
        is_int(p->groups[0].n_devices, 3, "bridge, requested, placeholder");
        is_int(p->groups[0].devices[0].role, PLAN_ROLE_BRIDGE, "04:00.0 is the bridge");
        is_int(p->groups[0].devices[2].role, PLAN_ROLE_PLACEHOLDER, "05:01.0 placeholder");
        is_int(p->groups[0].n_actions, 2, "the bridge does not move");
        is_str(p->groups[0].actions[0].address, "0000:05:00.0", "first action");
        is_str(p->groups[0].actions[1].address, "0000:05:01.0", "second action");
        is_str(p->groups[0].actions[1].from, NULL, "05:01.0 has no driver now");
        is_int(p->n_numa_nodes, 1, "node known (two-node host)");
}

static void expect_error(const Tree *t, char *const *devs, PlanErrorKind kind, size_t index, const char *what) {
        _cleanup_(passthrough_plan_freep) PassthroughPlan *p = NULL;
        PlanError e = { .kind = 99 };

        is_int(plan(t, NULL, NULL, 0, &p, &e, devs), -EINVAL, "%s: refused", what);
        is_int(e.kind, kind, "%s: kind", what);
        is_int(e.index, index, "%s: names entry %zu", what, index);
        ok(e.message && *e.message, "%s: says why (%s)", what, strempty(e.message));
        plan_error_done(&e);
}

static void test_errors(const Tree *t) {
        char *empty[] = { NULL };
        char *dup[] = { (char *) "0000:01:00.0", (char *) "0000:01:00.1", (char *) "0000:01:00.0", NULL };
        char *dupcase[] = { (char *) "0000:0a:00.0", (char *) "0000:0A:00.0", NULL };
        char *bad[] = { (char *) "0000:01:00.0", (char *) "01:00.0", NULL };
        char *bridge[] = { (char *) "0000:01:00.0", (char *) "0000:00:01.0", NULL };
        char *unknown[] = { (char *) "0000:09:00.0", NULL };

        expect_error(t, empty, PLAN_ERROR_EMPTY, 0, "empty list");
        expect_error(t, dup, PLAN_ERROR_DUPLICATE, 2, "duplicate");
        expect_error(t, dupcase, PLAN_ERROR_UNKNOWN, 0, "unknown, before its duplicate");
        expect_error(t, bad, PLAN_ERROR_MALFORMED, 1, "malformed");
        expect_error(t, bridge, PLAN_ERROR_BRIDGE, 1, "bridge");
        expect_error(t, unknown, PLAN_ERROR_UNKNOWN, 0, "unknown");
}

static void test_blockers(const Tree *t) {
        _cleanup_(passthrough_plan_freep) PassthroughPlan *root = NULL, *lpc = NULL, *held = NULL, *mine = NULL;
        char *disk[] = { (char *) "0000:02:00.0", NULL }, *audio[] = { (char *) "0000:00:1f.3", NULL };
        char *gpu[] = { (char *) "0000:01:00.1", NULL };
        VfioHolder h[] = { { .group = 9, .pid = 4242, .comm = (char *) "qemu-system-x86", .vm_name = (char *) "win10" } };
        PlanError e;

        is_int(plan(t, NULL, NULL, 0, &root, &e, disk), 0, "root disk: a plan");
        ok(root && !root->feasible, "root disk: not feasible");
        ok(root && has_reason(&root->groups[0].reasons, "host-uses-device", REASON_BLOCKER), "root disk: host uses it");
        is_int(plan(t, NULL, NULL, 0, &lpc, &e, audio), 0, "PCH audio: a plan");
        ok(lpc && !lpc->feasible && has_reason(&lpc->groups[0].reasons, "platform-device", REASON_BLOCKER),
           "PCH audio: its group holds the LPC bridge");
        ok(lpc && lpc->groups[0].n_devices == 4, "PCH audio: the whole group is listed");
        is_int(plan(t, "other", h, 1, &held, &e, gpu), 0, "held group: a plan");
        ok(held && !held->feasible && has_reason(&held->groups[0].reasons, "group-in-use", REASON_BLOCKER),
           "held by another VM's QEMU: blocker");
        is_int(plan(t, "win10", h, 1, &mine, &e, gpu), 0, "held by this VM: a plan");
        ok(mine && mine->feasible && has_reason(&mine->groups[0].reasons, "held-by-this-vm", REASON_WARNING),
           "held by the same VM: a warning only");
}

static bool same_plan(const PassthroughPlan *a, const PassthroughPlan *b) {
        if (a->n_groups != b->n_groups || a->feasible != b->feasible)
                return false;
        for (size_t i = 0; a->requested[i] || b->requested[i]; i++)
                if (!streq_ptr(a->requested[i], b->requested[i]))
                        return false;
        for (size_t i = 0; i < a->n_groups; i++) {
                if (a->groups[i].id != b->groups[i].id || a->groups[i].n_devices != b->groups[i].n_devices ||
                    a->groups[i].n_actions != b->groups[i].n_actions || a->groups[i].reasons.n != b->groups[i].reasons.n)
                        return false;
                for (size_t k = 0; k < a->groups[i].n_devices; k++)
                        if (!streq(a->groups[i].devices[k].address, b->groups[i].devices[k].address) ||
                            a->groups[i].devices[k].role != b->groups[i].devices[k].role)
                                return false;
        }
        return true;
}

static void test_determinism(const Tree *t) {
        _cleanup_(passthrough_plan_freep) PassthroughPlan *a = NULL, *b = NULL;
        char *one[] = { (char *) "0000:05:00.0", (char *) "0000:01:00.1", (char *) "0000:01:00.0", NULL };
        char *two[] = { (char *) "0000:01:00.0", (char *) "0000:01:00.1", (char *) "0000:05:00.0", NULL };
        PlanError e;

        is_int(plan(t, NULL, NULL, 0, &a, &e, one), 0, "order 1");
        is_int(plan(t, NULL, NULL, 0, &b, &e, two), 0, "order 2");
        ok(a && b && same_plan(a, b), "the same answer whatever the order");
        ok(a && a->n_groups == 2 && a->groups[0].id == 9 && a->groups[1].id == 12, "groups by id");
        ok(a && a->groups[0].devices[1].role == PLAN_ROLE_REQUESTED, "asked-for audio is requested, not a placeholder");
        is_str(a ? a->requested[0] : NULL, "0000:01:00.0", "requested list sorted");
}

static void test_no_iommu(void) {
        _cleanup_(passthrough_plan_freep) PassthroughPlan *p = NULL;
        char *devs[] = { (char *) "0000:01:00.0", NULL };
        PlanError e;
        Tree t;

        if (!tree_open("iommu-off", &t))
                return;
        is_int(plan(&t, NULL, NULL, 0, &p, &e, devs), 0, "no IOMMU: still a plan");
        ok(p && !p->feasible && has_reason(&p->reasons, "no-iommu", REASON_BLOCKER), "no IOMMU: host-wide blocker");
        ok(p && p->groups[0].id == -1 && p->groups[0].n_devices == 1, "no group: the device alone");
        ok(p && has_reason(&p->groups[0].reasons, "no-iommu-group", REASON_BLOCKER), "no group: device blocker");
        tree_close(&t);
}

static void test_sriov(void) {
        _cleanup_(passthrough_plan_freep) PassthroughPlan *vf = NULL, *both = NULL;
        char *one[] = { (char *) "0000:01:00.2", NULL };
        char *two[] = { (char *) "0000:01:00.0", (char *) "0000:01:00.2", NULL };
        PlanError e;
        Tree t;

        if (!tree_open("sriov", &t))
                return;
        is_int(plan(&t, NULL, NULL, 0, &vf, &e, one), 0, "VF: a plan");
        ok(vf && vf->feasible, "VF of a ready PF: feasible");
        is_int(plan(&t, NULL, NULL, 0, &both, &e, two), 0, "PF and VF: a plan");
        ok(both && !both->feasible, "PF and its VF together: not feasible");
        {
                bool found = false;
                for (size_t i = 0; both && i < both->n_groups; i++)
                        found = found || has_reason(&both->groups[i].reasons, "pf-in-plan", REASON_BLOCKER);
                ok(found, "pf-in-plan blocker");
        }
        tree_close(&t);
}

static void test_cpulist(void) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;

        is_int(cpulist_union("0-3", "2-5,8", &a), 0, "union");
        is_str(a, "0-5,8", "union value");
        is_int(cpulist_union(NULL, "7", &b), 0, "union with nothing");
        is_str(b, "7", "single");
        is_int(cpulist_union("3-1", NULL, &c), -EINVAL, "reversed range refused");
}

int main(void) {
        Tree t;

        test_cpulist();
        if (!tree_open("passthrough", &t)) {
                ok(true, "# SKIP cannot generate fixture trees (python3, tests/fixtures/mksysfs.py)");
                return tap_done();
        }
        test_gpu(&t);
        test_bridge_group(&t);
        test_errors(&t);
        test_blockers(&t);
        test_determinism(&t);
        tree_close(&t);
        test_no_iommu();
        test_sriov();
        return tap_done();
}
