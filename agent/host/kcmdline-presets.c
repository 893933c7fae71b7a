/* Kernel-argument presets: see kcmdline-presets.h.
 *
 * Mapping (one table, read by GET /v1/kernel-cmdline/presets and PATCH):
 *   iommu                 DMAR (Intel VT-d): intel_iommu=on iommu=pt
 *                         IVRS (AMD-Vi):     iommu=pt (the AMD IOMMU is on by
 *                         default; amd_iommu=on is not a value current kernels
 *                         take); no firmware IOMMU: does not apply.
 *   nested-virtualization Intel CPU: kvm_intel.nested=1, AMD: kvm_amd.nested=1
 *   unsafe-interrupts     vfio_iommu_type1.allow_unsafe_interrupts=1
 *   pci-realloc           pci=realloc
 *   blacklist-nouveau     modprobe.blacklist=nouveau rd.driver.blacklist=nouveau
 *   smt-off               nosmt
 *   vfio-pci-ids          vfio-pci.ids=<the ids given>
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/strv.h"
#include "kcmdline-presets.h"

#define ANY_ID 0xffffffffu /* PCI_ANY_ID */

const PresetInfo kcmdline_presets[] = {
        { "iommu", "Enable the IOMMU for device passthrough (Intel: intel_iommu=on iommu=pt; AMD: iommu=pt)" },
        { "nested-virtualization", "Let VMs run their own VMs (kvm_intel.nested=1 or kvm_amd.nested=1)" },
        { "unsafe-interrupts", "Allow passthrough without interrupt remapping "
                               "(vfio_iommu_type1.allow_unsafe_interrupts=1); weakens isolation" },
        { "pci-realloc", "Let the kernel reassign PCI resources the firmware set up badly (pci=realloc)" },
        { "blacklist-nouveau", "Keep nouveau off NVIDIA GPUs meant for VMs "
                               "(modprobe.blacklist=nouveau rd.driver.blacklist=nouveau)" },
        { "smt-off", "Disable simultaneous multithreading (nosmt)" },
        { "vfio-pci-ids", "Bind every device with these vendor:device ids to vfio-pci at boot "
                          "(vfio-pci.ids=...)", .takes_ids = true },
};

const size_t n_kcmdline_presets = ELEMENTSOF(kcmdline_presets);

const PresetInfo *preset_find(const char *name) {
        for (size_t i = 0; i < n_kcmdline_presets; i++)
                if (streq(kcmdline_presets[i].name, name))
                        return &kcmdline_presets[i];
        return NULL;
}

int preset_host_read(const HostState *state, PresetHost *ret) {
        int r;

        *ret = (PresetHost) { .inv = state->inventory };
        r = hostinfo_read(state->root, &ret->info);
        if (r < 0)
                return r;
        r = capabilities_evaluate(state->root, &ret->info, state->inventory, &ret->caps);
        if (r < 0) {
                hostinfo_done(&ret->info);
                return r;
        }
        return 0;
}

void preset_host_done(PresetHost *h) {
        capabilities_done(&h->caps);
        hostinfo_done(&h->info);
}

static int split_args(const char *s, char ***ret) {
        return strv_split(s, " ", ret);
}

/* The IOMMU the firmware describes; NULL with *ret_reason when none applies. */
static const char *iommu_args(const PresetHost *h, const char **ret_reason) {
        const char *src = h->caps.iommu_source;

        if (streq_ptr(src, "DMAR"))
                return "intel_iommu=on iommu=pt";
        if (streq_ptr(src, "IVRS"))
                return "iommu=pt";
        if (streq_ptr(src, "IORT"))
                *ret_reason = "the firmware describes an Arm SMMU (ACPI IORT): hostdevd has no IOMMU preset for it";
        else
                *ret_reason = "the firmware describes no IOMMU (no ACPI DMAR or IVRS table): enable VT-d or "
                              "AMD-Vi in the firmware setup first";
        return NULL;
}

static const char *nested_args(const PresetHost *h, const char **ret_reason) {
        if (streq_ptr(h->info.cpu_vendor, "GenuineIntel"))
                return "kvm_intel.nested=1";
        if (streq_ptr(h->info.cpu_vendor, "AuthenticAMD"))
                return "kvm_amd.nested=1";
        *ret_reason = "the CPU vendor is neither GenuineIntel nor AuthenticAMD";
        return NULL;
}

static const char *fixed_args(const char *name) {
        static const struct {
                const char *name, *args;
        } t[] = {
                { "unsafe-interrupts", "vfio_iommu_type1.allow_unsafe_interrupts=1" },
                { "pci-realloc", "pci=realloc" },
                { "blacklist-nouveau", "modprobe.blacklist=nouveau rd.driver.blacklist=nouveau" },
                { "smt-off", "nosmt" },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                if (streq(t[i].name, name))
                        return t[i].args;
        return NULL;
}

int preset_arguments(const PresetHost *h, const char *name, char ***ret_args, char **ret_reason) {
        const PresetInfo *p = preset_find(name);
        const char *args = NULL, *reason = NULL;

        if (!p)
                return -ENOENT;
        if (p->takes_ids)
                reason = "it takes a list of ids: send them as \"vfio_pci_ids\"";
        else if (streq(name, "iommu"))
                args = iommu_args(h, &reason);
        else if (streq(name, "nested-virtualization"))
                args = nested_args(h, &reason);
        else
                args = fixed_args(name);
        if (!args) {
                *ret_reason = strdup(strempty(reason));
                return *ret_reason ? -EOPNOTSUPP : -ENOMEM;
        }
        return split_args(args, ret_args);
}

int preset_arguments_any_host(const char *name, char ***ret_args) {
        const PresetInfo *p = preset_find(name);

        if (!p)
                return -ENOENT;
        if (p->takes_ids)
                return split_args("vfio-pci.ids", ret_args); /* the key: whatever ids it has */
        if (streq(name, "iommu"))
                return split_args("intel_iommu=on iommu=pt", ret_args);
        if (streq(name, "nested-virtualization"))
                return split_args("kvm_intel.nested=1 kvm_amd.nested=1", ret_args);
        return split_args(fixed_args(name), ret_args);
}

static bool is_hex4(const char *s) {
        return strspn(s, "0123456789abcdefABCDEF") == 4;
}

int vfio_id_normalize(const char *id, char ret[static 10]) {
        if (strlen(id) != 9 || id[4] != ':' || !is_hex4(id) || !is_hex4(id + 5))
                return -EINVAL;
        for (size_t i = 0; i < 10; i++)
                ret[i] = (char) (id[i] >= 'A' && id[i] <= 'F' ? id[i] - 'A' + 'a' : id[i]);
        return 0;
}

int vfio_ids_argument(char *const *ids, char **ret) {
        _cleanup_strv_free_ char **uniq = NULL;
        char *s = NULL;
        size_t size = 0;
        FILE *f;

        for (char *const *i = ids; i && *i; i++)
                if (!strv_contains(uniq, *i) && strv_extend(&uniq, *i) < 0)
                        return -ENOMEM;
        f = open_memstream(&s, &size);
        if (!f)
                return -ENOMEM;
        fputs("vfio-pci.ids=", f);
        for (char **i = uniq; i && *i; i++)
                fprintf(f, "%s%s", i == uniq ? "" : ",", *i);
        if (fclose(f) != 0) {
                free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

static int push_sentence(char ***l, char *s) {
        if (!s)
                return -ENOMEM;
        if (strv_push(l, s) < 0) {
                free(s);
                return -ENOMEM;
        }
        return 0;
}

/* Warnings about one id: none, several devices, devices the host uses. */
static int warn_id(const Inventory *inv, const char *id, char ***l) {
        _cleanup_free_ char *list = NULL;
        size_t n = 0, size = 0;
        FILE *f = open_memstream(&list, &size);
        char *s;
        int r = 0;

        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < inv->n_devices && r >= 0; i++) {
                const PciDevice *d = inv->devices + i;
                char have[10];

                snprintf(have, sizeof have, "%04x:%04x", d->vendor_id, d->device_id);
                if (!streq(have, id))
                        continue;
                fprintf(f, "%s%s", n++ ? ", " : "", d->name);
                if (d->n_usage > 0 && asprintf(&s, "%s (%s) is used by the host (%s: %s): vfio-pci.ids would take it "
                                               "from the host at boot, so hostdevd refuses to configure it",
                                               d->name, id,
                                               host_usage_kind_to_string(d->usage[0].kind),
                                               strempty(d->usage[0].detail)) >= 0)
                        r = push_sentence(l, s);
                else if (d->n_usage > 0)
                        r = -ENOMEM;
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        if (r < 0)
                return r;
        if (n == 0)
                return push_sentence(l, asprintf(&s, "no PCI device of this host has the id %s", id) < 0 ? NULL : s);
        if (n > 1)
                return push_sentence(l, asprintf(&s, "%zu devices have the id %s and vfio-pci.ids takes every one "
                                                 "of them at boot: %s", n, id, list) < 0 ? NULL : s);
        return 0;
}

int vfio_ids_warnings(const Inventory *inv, char *const *ids, char ***ret) {
        _cleanup_strv_free_ char **l = NULL, **seen = NULL;
        int r;

        for (char *const *i = ids; i && *i; i++) {
                if (strv_contains(seen, *i))
                        continue;
                if (strv_extend(&seen, *i) < 0)
                        return -ENOMEM;
                r = warn_id(inv, *i, &l);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

bool vfio_id_matches(const char *entry, const PciDevice *d) {
        unsigned vendor = 0, device = 0, subvendor = ANY_ID, subdevice = ANY_ID, class = 0, class_mask = 0;
        int n;

        /* As vfio_pci_fill_ids() reads it. */
        n = sscanf(entry, "%x:%x:%x:%x:%x:%x", &vendor, &device, &subvendor, &subdevice, &class, &class_mask);
        if (n < 2)
                return false;
        if ((vendor != ANY_ID && vendor != d->vendor_id) || (device != ANY_ID && device != d->device_id))
                return false;
        /* A function without subsystem ids has 0 in the kernel's pci_dev. */
        if ((subvendor != ANY_ID && subvendor != (d->has_subsys ? d->subsys_vendor_id : 0u)) ||
            (subdevice != ANY_ID && subdevice != (d->has_subsys ? d->subsys_device_id : 0u)))
                return false;
        return ((class ^ d->class_code) & class_mask) == 0;
}

/* Whether the vfio-pci.ids of c (the last one: a module parameter given
 * twice takes the last) takes d: 1, 0, or -ENOMEM. */
static int ids_take(const KCmdline *c, const PciDevice *d) {
        const KArg *a = c ? kcmdline_get(c, "vfio-pci.ids") : NULL;
        _cleanup_free_ char *list = NULL;
        char *save = NULL;

        if (!a || !a->value)
                return 0;
        list = strdup(a->value);
        if (!list)
                return -ENOMEM;
        for (char *e = strtok_r(list, ",", &save); e; e = strtok_r(NULL, ",", &save))
                if (vfio_id_matches(e, d))
                        return 1;
        return 0;
}

int vfio_ids_host_devices_taken(const Inventory *inv, const KCmdline *before, const KCmdline *after,
                                char **ret_reason) {
        const KArg *ids = after ? kcmdline_get(after, "vfio-pci.ids") : NULL;
        _cleanup_free_ char *list = NULL;
        size_t size = 0, n = 0;
        int r = 0;
        FILE *f;

        *ret_reason = NULL;
        if (!ids || !ids->value)
                return 0;
        f = open_memstream(&list, &size);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < inv->n_devices && r >= 0; i++) {
                const PciDevice *d = inv->devices + i;
                int now, was;

                if (d->n_usage == 0)
                        continue;
                now = ids_take(after, d);
                was = now > 0 ? ids_take(before, d) : 0;
                if (now < 0 || was < 0)
                        r = -ENOMEM;
                else if (now && !was)
                        fprintf(f, "%s%s (%04x:%04x, %s: %s)", n++ ? "; " : "", d->name, d->vendor_id, d->device_id,
                                host_usage_kind_to_string(d->usage[0].kind), strempty(d->usage[0].detail));
        }
        if (fclose(f) != 0 || r < 0)
                return -ENOMEM;
        if (n == 0)
                return 0;
        if (asprintf(ret_reason, "vfio-pci.ids=%s would give vfio-pci at boot %s the host uses: %s. vfio-pci.ids "
                     "binds by id, so it takes every device whose ids match; bind the device meant for a VM "
                     "by its address instead (PUT /v1/devices/{address}/driver)",
                     ids->value, n == 1 ? "a device" : "devices", list) < 0) {
                *ret_reason = NULL;
                return -ENOMEM;
        }
        return 0;
}
