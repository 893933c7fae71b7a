/* Passthrough plans: see passthrough-plan.h.
 *
 * What blocks a group comes from the inventory's own verdicts (a member the
 * host uses, a piece of the platform: IommuGroup.reasons), so a plan and
 * GET /v1/iommu-groups never disagree; the plan adds what only a request
 * can know: who holds the group open now, VFs whose PF would not carry them,
 * and bus resets that reach devices outside the request. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/parse-util.h"
#include "basic/strv.h"
#include "passthrough-plan.h"

#define MAX_CPUS 8192

static const char *const role_names[_PLAN_ROLE_MAX] = {
        [PLAN_ROLE_REQUESTED] = "requested",
        [PLAN_ROLE_PLACEHOLDER] = "placeholder",
        [PLAN_ROLE_BRIDGE] = "bridge",
};

const char *plan_role_to_string(PlanRole r) {
        return r >= 0 && r < _PLAN_ROLE_MAX ? role_names[r] : NULL;
}

/* --- cpulists ------------------------------------------------------------ */

static int cpulist_mark(const char *list, bool *cpus) {
        _cleanup_strv_free_ char **parts = NULL;
        int r;

        r = strv_split(list, ",", &parts);
        if (r < 0)
                return r;
        for (char **p = parts; p && *p; p++) {
                _cleanup_free_ char *lo_s = strdup(*p);
                char *dash;
                int lo, hi;

                if (!lo_s)
                        return -ENOMEM;
                dash = strchr(lo_s, '-');
                if (dash)
                        *dash = 0;
                if (safe_atoi(lo_s, &lo) < 0 || (dash ? safe_atoi(dash + 1, &hi) : (hi = lo, 0)) < 0)
                        return -EINVAL;
                if (lo < 0 || hi < lo || hi >= MAX_CPUS)
                        return -EINVAL;
                for (int c = lo; c <= hi; c++)
                        cpus[c] = true;
        }
        return 0;
}

static char *cpulist_format(const bool *cpus) {
        _cleanup_free_ char *s = strdup("");
        size_t len = 0;

        for (int c = 0; s && c < MAX_CPUS; c++) {
                int end = c;
                char buf[32];
                char *n;
                int k;

                if (!cpus[c])
                        continue;
                while (end + 1 < MAX_CPUS && cpus[end + 1])
                        end++;
                k = end == c ? snprintf(buf, sizeof buf, "%s%d", len ? "," : "", c)
                             : snprintf(buf, sizeof buf, "%s%d-%d", len ? "," : "", c, end);
                n = realloc(s, len + (size_t) k + 1);
                if (!n)
                        return NULL;
                s = n;
                memcpy(s + len, buf, (size_t) k + 1);
                len += (size_t) k;
                c = end;
        }
        return TAKE_PTR(s);
}

int cpulist_union(const char *a, const char *b, char **ret) {
        _cleanup_free_ bool *cpus = calloc(MAX_CPUS, sizeof(bool));
        char *s;
        int r;

        if (!cpus)
                return -ENOMEM;
        if (a && (r = cpulist_mark(a, cpus)) < 0)
                return r;
        if (b && (r = cpulist_mark(b, cpus)) < 0)
                return r;
        s = cpulist_format(cpus);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* --- the request --------------------------------------------------------- */

static int plan_error(PlanError *e, PlanErrorKind kind, size_t index, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int plan_error(PlanError *e, PlanErrorKind kind, size_t index, const char *fmt, ...) {
        va_list ap;
        char *m;
        int k;

        va_start(ap, fmt);
        k = vasprintf(&m, fmt, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        *e = (PlanError) { .kind = kind, .index = index, .message = m };
        return -EINVAL;
}

void plan_error_done(PlanError *e) {
        free(e->message);
        e->message = NULL;
}

/* Canonical addresses of the request, or the first bad entry. */
static int check_request(const PlanInput *in, char ***ret, PlanError *ret_error) {
        _cleanup_strv_free_ char **canon = NULL;

        if (in->n_devices == 0)
                return plan_error(ret_error, PLAN_ERROR_EMPTY, 0, "no device given: list at least one PCI address");
        if (in->n_devices > PLAN_MAX_DEVICES)
                return plan_error(ret_error, PLAN_ERROR_TOO_MANY, 0, "%zu devices given, at most %d are accepted",
                                  in->n_devices, PLAN_MAX_DEVICES);
        for (size_t i = 0; i < in->n_devices; i++) {
                char buf[PCI_ADDR_STRLEN];
                const PciDevice *d;
                PciAddr a;

                if (pci_addr_parse(in->devices[i], &a) < 0)
                        return plan_error(ret_error, PLAN_ERROR_MALFORMED, i,
                                          "'%s' is not a PCI address of the form dddd:bb:ss.f", in->devices[i]);
                pci_addr_format(&a, buf);
                for (size_t j = 0; j < i; j++)
                        if (streq(canon[j], buf))
                                return plan_error(ret_error, PLAN_ERROR_DUPLICATE, i,
                                                  "%s is listed twice (entries %zu and %zu)", buf, j, i);
                d = inventory_find(in->inv, buf);
                if (!d)
                        return plan_error(ret_error, PLAN_ERROR_UNKNOWN, i, "this host has no PCI device %s", buf);
                if (d->is_bridge)
                        return plan_error(ret_error, PLAN_ERROR_BRIDGE, i,
                                          "%s is a PCI bridge: bridges are never passed through", buf);
                if (strv_extend(&canon, buf) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(canon);
        return 0;
}

/* --- groups -------------------------------------------------------------- */

static int copy_reasons(ReasonList *dst, const ReasonList *src, bool warnings_only) {
        for (size_t i = 0; i < src->n; i++) {
                const Reason *x = &src->items[i];
                int r;

                if (warnings_only && x->severity != REASON_WARNING)
                        continue;
                r = reason_list_add(dst, x->code, x->severity, x->device, "%s", x->message);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int add_device(PlanGroup *g, const PciDevice *d, PlanRole role) {
        PlanDevice *pd = &g->devices[g->n_devices++];

        *pd = (PlanDevice) { .role = role, .numa_node = d->numa_node };
        memcpy(pd->address, d->name, sizeof pd->address);
        if ((d->driver && !(pd->driver = strdup(d->driver))) ||
            (d->local_cpulist && !(pd->local_cpus = strdup(d->local_cpulist))))
                return -ENOMEM;
        if (role == PLAN_ROLE_BRIDGE || streq_ptr(d->driver, "vfio-pci"))
                return 0;
        {
                PlanAction *a = &g->actions[g->n_actions++];
                *a = (PlanAction) { .to = "vfio-pci" };
                memcpy(a->address, d->name, sizeof a->address);
                if (d->driver && !(a->from = strdup(d->driver)))
                        return -ENOMEM;
        }
        return 0;
}

static int fill_group(const PlanInput *in, char **requested, PlanGroup *g, const PciDevice *only) {
        const IommuGroup *ig = only ? NULL : inventory_group(in->inv, g->id);
        size_t n = ig ? ig->n_members : 1;

        g->devices = calloc(n, sizeof(PlanDevice));
        g->actions = calloc(n, sizeof(PlanAction));
        if (!g->devices || !g->actions)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const PciDevice *d = ig ? &in->inv->devices[ig->members[i]] : only;
                PlanRole role = d->is_bridge                         ? PLAN_ROLE_BRIDGE
                                : strv_contains(requested, d->name) ? PLAN_ROLE_REQUESTED
                                                                     : PLAN_ROLE_PLACEHOLDER;
                int r = add_device(g, d, role);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* --- what blocks or worries ---------------------------------------------- */

static int judge_holders(const PlanInput *in, PlanGroup *g) {
        const VfioHolder *h = g->id >= 0 ? vfio_holders_find(in->holders, in->n_holders, g->id) : NULL;

        for (; h && h < in->holders + in->n_holders && h->group == g->id; h++) {
                _cleanup_free_ char *who = vfio_holder_describe(h);
                bool same_vm = in->vm && streq_ptr(h->vm_name, in->vm);
                int r;

                if (!who)
                        return -ENOMEM;
                r = same_vm ? reason_list_add(&g->reasons, "held-by-this-vm", REASON_WARNING, NULL,
                                              "IOMMU group %d is already open by %s: this VM holds it", g->id, who)
                            : reason_list_add(&g->reasons, "group-in-use", REASON_BLOCKER, NULL,
                                              "IOMMU group %d is open by %s", g->id, who);
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool plan_has_device(const PassthroughPlan *p, size_t n_groups, const char *addr) {
        for (size_t i = 0; i < n_groups; i++)
                for (size_t k = 0; k < p->groups[i].n_devices; k++)
                        if (streq(p->groups[i].devices[k].address, addr))
                                return true;
        return false;
}

/* A VF lives only while its PF's driver keeps SR-IOV enabled. */
static int judge_vf(const PlanInput *in, const PassthroughPlan *p, PlanGroup *g, const PciDevice *d) {
        const PciDevice *pf = inventory_find(in->inv, d->physfn);

        if (!pf)
                return reason_list_add(&g->reasons, "pf-missing", REASON_BLOCKER, d->name,
                                       "%s is a virtual function of %s, which this host does not show",
                                       d->name, d->physfn);
        if (!pf->driver)
                return reason_list_add(&g->reasons, "pf-not-ready", REASON_BLOCKER, d->name,
                                       "%s is a virtual function of %s, which has no driver bound", d->name,
                                       pf->name);
        if (plan_has_device(p, p->n_groups, pf->name))
                return reason_list_add(&g->reasons, "pf-in-plan", REASON_BLOCKER, d->name,
                                       "%s is a virtual function of %s, which this plan would move to vfio-pci: "
                                       "unbinding %s from %s removes its virtual functions",
                                       d->name, pf->name, pf->name, pf->driver);
        return 0;
}

/* A function whose only reset is a secondary bus reset shares it with every
 * function on its bus: VFIO allows it only if all of them are the VM's. */
static int judge_bus_reset(const PlanInput *in, const PassthroughPlan *p, PlanGroup *g, const PciDevice *d) {
        _cleanup_free_ char *list = NULL;

        if (!d->reset_methods || strv_length(d->reset_methods) != 1 || !streq(d->reset_methods[0], "bus"))
                return 0;
        for (size_t i = 0; i < in->inv->n_devices; i++) {
                const PciDevice *o = &in->inv->devices[i];
                char *n;

                if (o == d || o->addr.domain != d->addr.domain || o->addr.bus != d->addr.bus ||
                    plan_has_device(p, p->n_groups, o->name))
                        continue;
                if (asprintf(&n, "%s%s%s", strempty(list), list ? ", " : "", o->name) < 0)
                        return -ENOMEM;
                free(list);
                list = n;
        }
        if (!list)
                return 0;
        return reason_list_add(&g->reasons, "bus-reset-shared", REASON_WARNING, d->name,
                               "%s can only be reset through its bus, which it shares with %s", d->name, list);
}

static int judge_group(const PlanInput *in, const PassthroughPlan *p, PlanGroup *g) {
        const IommuGroup *ig = g->id >= 0 ? inventory_group(in->inv, g->id) : NULL;
        int r;

        if (ig)
                r = copy_reasons(&g->reasons, &ig->reasons, false);
        else /* in no group: the device's own verdict says why */
                r = copy_reasons(&g->reasons, &inventory_find(in->inv, g->devices[0].address)->reasons, false);
        if (r < 0)
                return r;
        r = judge_holders(in, g);
        if (r < 0)
                return r;
        for (size_t i = 0; i < g->n_devices; i++) {
                const PciDevice *d = inventory_find(in->inv, g->devices[i].address);

                if (g->devices[i].role == PLAN_ROLE_BRIDGE)
                        continue;
                if (ig && (r = copy_reasons(&g->reasons, &d->reasons, true)) < 0)
                        return r;
                if (d->physfn && (r = judge_vf(in, p, g, d)) < 0)
                        return r;
                if (g->devices[i].role == PLAN_ROLE_REQUESTED && (r = judge_bus_reset(in, p, g, d)) < 0)
                        return r;
        }
        return 0;
}

static int cmp_plan_group(const void *a, const void *b) {
        const PlanGroup *x = a, *y = b;

        if (x->id != y->id)
                return (x->id > y->id) - (x->id < y->id);
        return strcmp(x->devices[0].address, y->devices[0].address); /* groupless: by address */
}

static int collect_groups(const PlanInput *in, char **requested, PassthroughPlan *p) {
        size_t n = strv_length(requested);

        p->groups = calloc(n, sizeof(PlanGroup));
        if (!p->groups)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const PciDevice *d = inventory_find(in->inv, requested[i]);
                int id = d->iommu_group >= 0 ? d->iommu_group : -1, r;
                bool seen = false;

                for (size_t k = 0; id >= 0 && k < p->n_groups; k++)
                        seen = seen || p->groups[k].id == id;
                if (seen)
                        continue;
                p->groups[p->n_groups].id = id;
                r = fill_group(in, requested, &p->groups[p->n_groups++], id < 0 ? d : NULL);
                if (r < 0)
                        return r;
        }
        qsort_safe(p->groups, p->n_groups, sizeof(PlanGroup), cmp_plan_group);
        return 0;
}

static int cmp_int(const void *a, const void *b) {
        int x = *(const int *) a, y = *(const int *) b;
        return (x > y) - (x < y);
}

/* The VM runs here or not at all, near its devices. */
static int pin(const PlanInput *in, PassthroughPlan *p) {
        size_t n = strv_length(p->requested);

        if (in->host && in->host->host_id) {
                p->host_id = strdup(in->host->host_id);
                if (!p->host_id)
                        return -ENOMEM;
                p->host_id_source = in->host->host_id_source;
        }
        p->numa_nodes = calloc(n, sizeof(int));
        if (!p->numa_nodes)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const PciDevice *d = inventory_find(in->inv, p->requested[i]);
                bool seen = false;

                for (size_t k = 0; k < p->n_numa_nodes; k++)
                        seen = seen || p->numa_nodes[k] == d->numa_node;
                if (d->numa_node >= 0 && !seen)
                        p->numa_nodes[p->n_numa_nodes++] = d->numa_node;
                if (d->local_cpulist) {
                        char *u;
                        int r = cpulist_union(p->local_cpus, d->local_cpulist, &u);
                        if (r == -ENOMEM)
                                return r;
                        if (r >= 0) {
                                free(p->local_cpus);
                                p->local_cpus = u;
                        }
                }
        }
        qsort_safe(p->numa_nodes, p->n_numa_nodes, sizeof(int), cmp_int);
        return 0;
}

static int judge_host(const PlanInput *in, PassthroughPlan *p) {
        int r;

        if (!in->inv->iommu_active) {
                r = reason_list_add(&p->reasons, "no-iommu", REASON_BLOCKER, NULL,
                                    "no IOMMU is active on this host: the kernel made no IOMMU groups");
                if (r < 0)
                        return r;
        }
        if (!in->vfio_pci_loaded) {
                r = reason_list_add(&p->reasons, "vfio-pci-not-loaded", REASON_WARNING, NULL,
                                    "the vfio-pci driver is not loaded: binding loads it");
                if (r < 0)
                        return r;
        }
        return 0;
}

int passthrough_plan_build(const PlanInput *in, PassthroughPlan **ret, PlanError *ret_error) {
        _cleanup_(passthrough_plan_freep) PassthroughPlan *p = calloc(1, sizeof(PassthroughPlan));
        int r;

        if (!p)
                return -ENOMEM;
        r = check_request(in, &p->requested, ret_error);
        if (r < 0)
                return r;
        strv_sort(p->requested);
        if (in->vm && !(p->vm = strdup(in->vm)))
                return -ENOMEM;
        r = collect_groups(in, p->requested, p);
        if (r < 0)
                return r;
        r = judge_host(in, p);
        if (r < 0)
                return r;
        p->feasible = !reason_list_has_blocker(&p->reasons);
        for (size_t i = 0; i < p->n_groups; i++) {
                r = judge_group(in, p, &p->groups[i]);
                if (r < 0)
                        return r;
                if (reason_list_has_blocker(&p->groups[i].reasons))
                        p->feasible = false;
        }
        r = pin(in, p);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

static void plan_group_done(PlanGroup *g) {
        for (size_t i = 0; i < g->n_devices; i++) {
                free(g->devices[i].driver);
                free(g->devices[i].local_cpus);
        }
        for (size_t i = 0; i < g->n_actions; i++)
                free(g->actions[i].from);
        free(g->devices);
        free(g->actions);
        reason_list_done(&g->reasons);
}

PassthroughPlan *passthrough_plan_free(PassthroughPlan *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_groups; i++)
                plan_group_done(&p->groups[i]);
        free(p->groups);
        strv_free(p->requested);
        free(p->vm);
        reason_list_done(&p->reasons);
        free(p->host_id);
        free(p->numa_nodes);
        free(p->local_cpus);
        free(p);
        return NULL;
}
