/* Incremental refresh: a new inventory snapshot from the previous one and
 * the functions a burst of uevents named (see inventory.h).
 *
 * Only the named functions are read again from sysfs, with their SR-IOV
 * relatives: a VF appearing or going changes its PF's sriov_numvfs and
 * virtfn links, a PF's change names VFs that may have been missed. That
 * closure is followed a few rounds, bounded. Everything else is copied from
 * the old snapshot, which stays untouched for whoever still holds it. What
 * depends on the whole host (host usage, groups, verdicts) is computed
 * afresh: it is in memory, and a device's driver change can move any of it. */
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/strv.h"
#include "inventory-internal.h"

#define CLOSURE_ROUNDS 3

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static bool sorted_contains(char *const *l, size_t n, const char *s) {
        return l && bsearch(&s, l, n, sizeof(char *), cmp_str);
}

static int add_unique(char ***l, const char *s) {
        if (!s || strv_contains(*l, s))
                return 0;
        return strv_extend(l, s);
}

/* The named addresses, with the PF and the VFs the old snapshot knew. */
static int initial_set(const Inventory *old, char *const *addrs, char ***ret) {
        _cleanup_strv_free_ char **set = NULL;
        int r;

        for (char *const *a = addrs; a && *a; a++) {
                const PciDevice *d = inventory_find(old, *a);

                r = add_unique(&set, *a);
                for (char **v = d ? d->vfs : NULL; r >= 0 && v && *v; v++)
                        r = add_unique(&set, *v);
                if (r >= 0 && d)
                        r = add_unique(&set, d->physfn);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(set);
        return 0;
}

static void devices_free(PciDevice *d, size_t n) {
        for (size_t i = 0; d && i < n; i++)
                pci_device_done(&d[i]);
        free(d);
}

/* Appends what was read (moved) to *all. */
static int append_devices(PciDevice **all, size_t *n_all, PciDevice *add, size_t n_add) {
        PciDevice *m;

        if (n_add == 0)
                return 0;
        m = realloc(*all, sizeof(PciDevice) * (*n_all + n_add));
        if (!m)
                return -ENOMEM;
        memcpy(m + *n_all, add, sizeof(PciDevice) * n_add);
        *all = m;
        *n_all += n_add;
        return 0;
}

/* Reads the set, then what the read devices name beyond it (a PF, VFs),
 * for a few rounds. ret_set: every address looked at. */
static int read_closure(const HostRoot *root, PciNames *names, char **set, PciDevice **ret, size_t *ret_n,
                        char ***ret_set, char **ret_error) {
        _cleanup_strv_free_ char **all_set = TAKE_PTR(set), **round = NULL;
        PciDevice *all = NULL;
        size_t n_all = 0;
        int r = strv_copy(all_set, &round);

        for (unsigned k = 0; r >= 0 && round && round[0] && k < CLOSURE_ROUNDS; k++) {
                _cleanup_strv_free_ char **next = NULL;
                PciDevice *got = NULL;
                size_t n_got = 0;

                r = pci_read_devices(root, round, &got, &n_got, ret_error);
                if (r >= 0)
                        r = inventory_read_extras(root, names, got, n_got);
                if (r >= 0)
                        r = append_devices(&all, &n_all, got, n_got);
                if (r < 0) {
                        devices_free(got, n_got);
                        break;
                }
                free(got); /* moved into all */
                for (size_t i = n_all - n_got; r >= 0 && i < n_all; i++) {
                        if (all[i].physfn && !strv_contains(all_set, all[i].physfn))
                                r = add_unique(&next, all[i].physfn);
                        for (char **v = all[i].vfs; r >= 0 && v && *v; v++)
                                if (!strv_contains(all_set, *v))
                                        r = add_unique(&next, *v);
                }
                for (char **v = next; r >= 0 && v && *v; v++)
                        r = strv_extend(&all_set, *v);
                strv_free(round);
                round = TAKE_PTR(next);
        }
        if (r < 0) {
                devices_free(all, n_all);
                return r;
        }
        *ret = all;
        *ret_n = n_all;
        *ret_set = TAKE_PTR(all_set);
        return 0;
}

static int cmp_device(const void *a, const void *b) {
        return pci_addr_compare(&((const PciDevice *) a)->addr, &((const PciDevice *) b)->addr);
}

/* old's devices outside the set, copied, then the ones read; sorted. */
static int merge(const Inventory *old, char *const *set, size_t n_set, PciDevice *got, size_t n_got,
                 Inventory *inv) {
        inv->devices = calloc(old->n_devices + n_got + 1, sizeof(PciDevice));
        if (!inv->devices)
                return -ENOMEM;
        for (size_t i = 0; i < old->n_devices; i++) {
                if (sorted_contains(set, n_set, old->devices[i].name))
                        continue;
                if (pci_device_copy(&old->devices[i], &inv->devices[inv->n_devices]) < 0)
                        return -ENOMEM;
                inv->n_devices++;
        }
        memcpy_safe(inv->devices + inv->n_devices, got, sizeof(PciDevice) * n_got);
        inv->n_devices += n_got;
        qsort_safe(inv->devices, inv->n_devices, sizeof(PciDevice), cmp_device);
        return 0;
}

static int cmp_int(const void *a, const void *b) {
        int x = *(const int *) a, y = *(const int *) b;
        return (x > y) - (x < y);
}

/* The groups any address of the set was or is in, sorted. */
static int stale_groups(const Inventory *old, const Inventory *inv, char *const *set, int **ret, size_t *ret_n) {
        size_t n_set = strv_length(set), n = 0;
        _cleanup_free_ int *ids = malloc(sizeof(int) * (2 * n_set + 1));

        if (!ids)
                return -ENOMEM;
        for (size_t i = 0; i < n_set; i++) {
                const PciDevice *a = inventory_find(old, set[i]), *b = inventory_find(inv, set[i]);

                if (a && a->iommu_group >= 0)
                        ids[n++] = a->iommu_group;
                if (b && b->iommu_group >= 0)
                        ids[n++] = b->iommu_group;
        }
        qsort_safe(ids, n, sizeof(int), cmp_int);
        *ret = TAKE_PTR(ids);
        *ret_n = n;
        return 0;
}

int inventory_refresh(const Inventory *old, const HostRoot *root, PciNames *names, char *const *addrs, bool holders,
                      Inventory **ret, char **ret_error) {
        _cleanup_(inventory_unrefp) Inventory *inv = calloc(1, sizeof(Inventory));
        _cleanup_strv_free_ char **set = NULL;
        _cleanup_free_ int *stale = NULL;
        PciDevice *got = NULL;
        size_t n_got = 0, n_stale = 0;
        int r;

        if (!inv)
                return -ENOMEM;
        inv->n_ref = 1;
        r = initial_set(old, addrs, &set);
        if (r < 0)
                return r;
        r = read_closure(root, names, TAKE_PTR(set), &got, &n_got, &set, ret_error);
        if (r < 0)
                return r;
        strv_sort(set);
        r = merge(old, set, strv_length(set), got, n_got, inv);
        if (r < 0) {
                devices_free(got, n_got);
                return r;
        }
        free(got); /* moved into inv */
        r = holders ? vfio_holders_scan(root, &inv->holders, &inv->n_holders)
                    : vfio_holders_copy(old->holders, old->n_holders, &inv->holders);
        if (r < 0)
                return r;
        if (!holders)
                inv->n_holders = old->n_holders;
        r = stale_groups(old, inv, set, &stale, &n_stale);
        if (r < 0)
                return r;
        r = inventory_assemble(root, inv, old, stale, n_stale);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(inv);
        return 0;
}
