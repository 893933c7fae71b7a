/* Capability checks: see capability.h.
 *
 * Which IOMMU the host has is read from the firmware's ACPI tables (DMAR:
 * Intel VT-d, IVRS: AMD-Vi, IORT: Arm SMMU), the CPU vendor only as a
 * fallback: a hypervisor may expose an Intel IOMMU to an AMD CPU. Intel's
 * IOMMU is off unless intel_iommu=on (or CONFIG_INTEL_IOMMU_DEFAULT_ON);
 * AMD-Vi is on by default and "amd_iommu=on" is not an option the kernel
 * knows (6.1 prints "AMD-Vi: Unknown option - 'on'"), so for AMD the advice
 * is to remove what turns it off, never to add it. */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/parse-util.h"
#include "basic/strv.h"
#include "capability.h"
#include "kernel-cmdline/kcmdline.h"

typedef struct Eval {
        const HostRoot *root;
        const HostInfo *host;
        const Inventory *inv;
        KCmdline *cmdline;
        char *iommu_unit;   /* the first entry of class/iommu, or NULL */
        Capabilities *caps;
} Eval;

const char *check_status_to_string(CheckStatus s) {
        return s == CHECK_PASS ? "pass" : s == CHECK_WARN ? "warn" : "fail";
}

const char *iommu_kind_to_string(IommuKind k) {
        static const char *const t[] = {
                [IOMMU_UNKNOWN] = NULL, [IOMMU_INTEL] = "intel-vt-d",
                [IOMMU_AMD] = "amd-vi", [IOMMU_ARM] = "arm-smmu",
        };
        return t[k];
}

static bool area_exists(const HostRoot *root, HostArea area, const char *sub) {
        _cleanup_free_ char *p = hostroot_path(root, area, "%s", sub);
        return p && access(p, F_OK) >= 0;
}

/* Entries in a directory, not counting dot files; -errno if unreadable. */
static int count_entries(const HostRoot *root, HostArea area, const char *sub, char **ret_first) {
        _cleanup_free_ char *p = hostroot_path(root, area, "%s", sub);
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int n = 0;

        if (!p)
                return -ENOMEM;
        d = opendir(p);
        if (!d)
                return -errno;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.') {
                        if (n++ == 0 && ret_first)
                                *ret_first = strdup(de->d_name);
                }
        return n;
}

_printf_(4, 5) static int add_check(Eval *e, const char *id, CheckStatus st, const char *fmt, ...) {
        Check *c;
        va_list ap;
        int r;

        if (e->caps->n_checks >= ELEMENTSOF(e->caps->checks))
                return -E2BIG;
        c = &e->caps->checks[e->caps->n_checks];
        *c = (Check) { .id = id, .status = st };
        va_start(ap, fmt);
        r = vasprintf(&c->detail, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        e->caps->n_checks++;
        return 0;
}

static int set_hint(Eval *e, const char *hint) {
        Check *c = &e->caps->checks[e->caps->n_checks - 1];

        c->hint = strdup(hint);
        return c->hint ? 0 : -ENOMEM;
}

static bool is_intel_cpu(const HostInfo *h) {
        return streq_ptr(h->cpu_vendor, "GenuineIntel");
}

static int check_cpu(Eval *e) {
        const char *flags = e->host->cpu_flags;
        int r;

        if (cpu_flags_has(flags, "vmx"))
                return add_check(e, "cpu-virtualization", CHECK_PASS, "the CPU has Intel VT-x (vmx)");
        if (cpu_flags_has(flags, "svm"))
                return add_check(e, "cpu-virtualization", CHECK_PASS, "the CPU has AMD-V (svm)");
        if (!flags)
                return add_check(e, "cpu-virtualization", CHECK_WARN, "the CPU flags could not be read");
        r = add_check(e, "cpu-virtualization", CHECK_FAIL, "the CPU reports neither vmx nor svm");
        return r < 0 ? r : set_hint(e, "Enable Intel VT-x or AMD-V (SVM) in the firmware setup; in a virtual "
                                       "machine, enable nested virtualization on its host.");
}

/* Which IOMMU: the one the firmware describes, else the one the CPU's vendor pairs with. */
static IommuKind likely_iommu(const Capabilities *c) {
        return c->iommu != IOMMU_UNKNOWN ? c->iommu : c->cpu_iommu;
}

static int check_firmware(Eval *e) {
        static const struct {
                const char *table;
                IommuKind kind;
                const char *what;
        } tables[] = {
                { "DMAR", IOMMU_INTEL, "Intel VT-d" },
                { "IVRS", IOMMU_AMD, "AMD-Vi" },
                { "IORT", IOMMU_ARM, "Arm SMMU" },
        };
        int r;

        e->caps->cpu_iommu = is_intel_cpu(e->host) ? IOMMU_INTEL
                           : streq_ptr(e->host->cpu_vendor, "AuthenticAMD") ? IOMMU_AMD : IOMMU_UNKNOWN;
        for (size_t i = 0; i < ELEMENTSOF(tables); i++) {
                _cleanup_free_ char *sub = NULL;

                if (asprintf(&sub, "firmware/acpi/tables/%s", tables[i].table) < 0)
                        return -ENOMEM;
                if (!area_exists(e->root, AREA_SYS, sub))
                        continue;
                e->caps->iommu = tables[i].kind;
                e->caps->iommu_source = tables[i].table;
                return add_check(e, "firmware-iommu", CHECK_PASS, "the firmware describes an IOMMU (%s, ACPI %s table)",
                                 tables[i].what, tables[i].table);
        }

        r = add_check(e, "firmware-iommu", CHECK_FAIL,
                      "the firmware describes no IOMMU: no ACPI DMAR, IVRS or IORT table");
        return r < 0 ? r : set_hint(e, "Enable VT-d (Intel) or AMD-Vi / IOMMU (AMD) in the firmware setup, "
                                       "then boot again.");
}

static int check_kernel_iommu(Eval *e) {
        int units = count_entries(e->root, AREA_SYS, "class/iommu", &e->iommu_unit);
        const char *first = e->iommu_unit;
        int r;

        e->caps->n_groups = (unsigned) e->inv->n_groups;
        /* Active means what the inventory means by it: the kernel made groups. */
        e->caps->iommu_active = e->inv->iommu_active;
        if (e->caps->iommu_active)
                return add_check(e, "kernel-iommu", CHECK_PASS, "the kernel enabled the IOMMU (%s) and made %u IOMMU groups",
                                 first ?: "no unit in class/iommu", e->caps->n_groups);
        if (units > 0)
                r = add_check(e, "kernel-iommu", CHECK_FAIL, "the IOMMU %s is registered but there are no IOMMU groups", first);
        else
                r = add_check(e, "kernel-iommu", CHECK_FAIL, "the kernel has not enabled an IOMMU (no entry in class/iommu)");
        if (r < 0)
                return r;
        return set_hint(e, likely_iommu(e->caps) == IOMMU_AMD
                                   ? "AMD-Vi is on by default: remove amd_iommu=off or iommu=off from the kernel "
                                     "command line, and check the kernel log for AMD-Vi errors."
                                   : "Add the kernel arguments listed in kernel_arguments.add and reboot.");
}

static bool allow_unsafe_interrupts(Eval *e) {
        _cleanup_free_ char *p = hostroot_path(e->root, AREA_SYS, "module/vfio_iommu_type1/parameters/allow_unsafe_interrupts");
        _cleanup_free_ char *v = NULL;

        if (kcmdline_has(e->cmdline, "vfio_iommu_type1.allow_unsafe_interrupts", "1"))
                return true;
        return p && read_one_line_file(p, &v) >= 0 && (streq(v, "Y") || streq(v, "1"));
}

/* /proc/interrupts names remapped interrupt chips "IR-PCI-MSI", "IR-IO-APIC". */
static int interrupts_remapped(Eval *e) {
        _cleanup_free_ char *p = hostroot_path(e->root, AREA_PROC, "interrupts");
        _cleanup_free_ char *s = NULL;
        int r;

        if (!p)
                return -ENOMEM;
        r = read_full_file(p, 4 * 1024 * 1024, &s, NULL);
        if (r < 0)
                return r;
        return strstr(s, " IR-") != NULL;
}

/* VT-d's extended capability register, bit 3: interrupt remapping support. */
static int intel_ir_supported(Eval *e, const char *unit) {
        _cleanup_free_ char *p = hostroot_path(e->root, AREA_SYS, "class/iommu/%s/intel-iommu/ecap", unit);
        _cleanup_free_ char *v = NULL;
        uint64_t ecap;
        int r;

        if (!p)
                return -ENOMEM;
        r = read_one_line_file(p, &v);
        if (r < 0)
                return r;
        r = safe_atou64(v, 16, &ecap);
        if (r < 0)
                return r;
        return (ecap >> 3) & 1;
}

static int check_irq_remapping(Eval *e) {
        const char *unit = e->iommu_unit;
        int r;

        if (allow_unsafe_interrupts(e)) {
                r = add_check(e, "interrupt-remapping", CHECK_WARN,
                              "vfio_iommu_type1.allow_unsafe_interrupts is set: devices may be assigned without "
                              "interrupt isolation");
                return r < 0 ? r : set_hint(e, "Remove vfio_iommu_type1.allow_unsafe_interrupts=1 when the platform "
                                               "supports interrupt remapping.");
        }
        r = interrupts_remapped(e);
        if (r == -ENOMEM)
                return r;
        if (r > 0)
                return add_check(e, "interrupt-remapping", CHECK_PASS, "interrupts are remapped (IR- interrupt chips)");
        if (!e->caps->iommu_active)
                return add_check(e, "interrupt-remapping", CHECK_WARN, "unknown until the IOMMU is enabled");
        if (likely_iommu(e->caps) == IOMMU_AMD)
                return add_check(e, "interrupt-remapping", CHECK_PASS, "AMD-Vi remaps interrupts when enabled");
        if (unit) {
                r = intel_ir_supported(e, unit);
                if (r == 1)
                        return add_check(e, "interrupt-remapping", CHECK_PASS,
                                         "the IOMMU %s supports interrupt remapping (ecap IR)", unit);
                if (r == 0) {
                        r = add_check(e, "interrupt-remapping", CHECK_FAIL,
                                      "the IOMMU %s does not support interrupt remapping", unit);
                        return r < 0 ? r : set_hint(e, "Without interrupt remapping VFIO refuses devices unless "
                                                       "vfio_iommu_type1.allow_unsafe_interrupts=1 (unsafe).");
                }
        }
        return add_check(e, "interrupt-remapping", CHECK_WARN, "could not be determined");
}

/* modules.builtin / modules.dep list "kernel/drivers/vfio/pci/vfio-pci.ko[.xz]". */
static int module_listed(Eval *e, const char *list, const char *ko) {
        _cleanup_free_ char *p = hostroot_path(e->root, AREA_LIB, "modules/%s/%s",
                                               strempty(e->host->kernel_release), list);
        _cleanup_free_ char *s = NULL;
        int r;

        if (!p)
                return -ENOMEM;
        r = read_full_file(p, 64 * 1024 * 1024, &s, NULL);
        if (r < 0)
                return r;
        return strstr(s, ko) != NULL;
}

static int check_vfio(Eval *e) {
        int r, builtin, module;

        if (area_exists(e->root, AREA_SYS, "module/vfio_pci")) {
                builtin = module_listed(e, "modules.builtin", "/vfio-pci.ko");
                return add_check(e, "vfio-pci", CHECK_PASS, "vfio-pci is %s", builtin > 0 ? "built into the kernel" : "loaded");
        }
        builtin = module_listed(e, "modules.builtin", "/vfio-pci.ko");
        module = module_listed(e, "modules.dep", "/vfio-pci.ko");
        if (builtin > 0 || module > 0)
                return add_check(e, "vfio-pci", CHECK_PASS, "vfio-pci is available as a module for kernel %s "
                                 "(loaded when a device is bound)", e->host->kernel_release);
        if (module == -ENOENT && builtin == -ENOENT) {
                r = add_check(e, "vfio-pci", CHECK_WARN, "vfio-pci is not loaded and no module list was found for kernel %s",
                              strempty(e->host->kernel_release));
                /* hostdevd's unit hides the module tree (ProtectKernelModules=) and
                 * loads vfio-pci before the agent starts: then this is what is seen */
                return r < 0 ? r : set_hint(e, "Run 'modprobe vfio-pci', then restart hostdevd (its systemd unit "
                                               "loads vfio-pci before the agent starts and hides the module tree "
                                               "from it). If modprobe fails, install the kernel's modules or a "
                                               "kernel with CONFIG_VFIO_PCI.");
        }
        r = add_check(e, "vfio-pci", CHECK_FAIL, "vfio-pci is neither loaded, built in, nor available as a module "
                      "for kernel %s", strempty(e->host->kernel_release));
        return r < 0 ? r : set_hint(e, "Install a kernel with CONFIG_VFIO_PCI.");
}

/* vfio-pci hands devices over, but a VM opens them through a VFIO IOMMU
 * backend: the type1 driver (vfio's soft dependency loads it with vfio) or
 * iommufd (Linux 6.2 and later). vfio-pci without either loads, binds,
 * and no VM can start. */
static int check_vfio_backend(Eval *e) {
        static const struct {
                const char *module, *ko;
        } backends[] = {
                { "vfio_iommu_type1", "/vfio_iommu_type1.ko" },
                { "iommufd", "/iommufd.ko" },
        };
        bool lists = false;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(backends); i++) {
                _cleanup_free_ char *sub = NULL;

                if (asprintf(&sub, "module/%s", backends[i].module) < 0)
                        return -ENOMEM;
                if (area_exists(e->root, AREA_SYS, sub))
                        return add_check(e, "vfio-iommu-backend", CHECK_PASS, "the VFIO IOMMU backend %s is %s",
                                         backends[i].module,
                                         module_listed(e, "modules.builtin", backends[i].ko) > 0 ? "built into the kernel"
                                                                                                  : "loaded");
        }
        for (size_t i = 0; i < ELEMENTSOF(backends); i++) {
                int builtin = module_listed(e, "modules.builtin", backends[i].ko),
                    module = module_listed(e, "modules.dep", backends[i].ko);

                if (builtin > 0 || module > 0)
                        return add_check(e, "vfio-iommu-backend", CHECK_PASS,
                                         "the VFIO IOMMU backend %s is available as a module for kernel %s (loaded with vfio)",
                                         backends[i].module, strempty(e->host->kernel_release));
                lists = lists || builtin != -ENOENT || module != -ENOENT;
        }
        if (!lists) {
                r = add_check(e, "vfio-iommu-backend", CHECK_WARN, "neither vfio_iommu_type1 nor iommufd is loaded, and no "
                              "module list was found for kernel %s", strempty(e->host->kernel_release));
                return r < 0 ? r : set_hint(e, "Run 'modprobe vfio_iommu_type1', then restart hostdevd. If modprobe "
                                               "fails, install the kernel's modules or a kernel with "
                                               "CONFIG_VFIO_IOMMU_TYPE1 or CONFIG_IOMMUFD.");
        }
        r = add_check(e, "vfio-iommu-backend", CHECK_FAIL, "neither vfio_iommu_type1 nor iommufd is loaded, built in, or "
                      "available as a module for kernel %s: devices bind to vfio-pci, but no VM can open them",
                      strempty(e->host->kernel_release));
        return r < 0 ? r : set_hint(e, "Install a kernel with CONFIG_VFIO_IOMMU_TYPE1 (or CONFIG_IOMMUFD with "
                                       "CONFIG_IOMMUFD_VFIO_CONTAINER), or its modules package.");
}

static int check_acs_override(Eval *e) {
        const KArg *a = kcmdline_get(e->cmdline, "pcie_acs_override");
        int r;

        if (!a)
                return add_check(e, "acs-override", CHECK_PASS, "pcie_acs_override is not in use: IOMMU groups reflect "
                                 "the hardware's isolation");
        r = add_check(e, "acs-override", CHECK_WARN, "pcie_acs_override=%s is in use: the IOMMU groups claim an "
                      "isolation the hardware does not provide", strempty(a->value));
        return r < 0 ? r : set_hint(e, "Devices in one real isolation domain can reach each other's memory; prefer "
                                       "a slot behind an ACS-capable port.");
}

/* Whether any kernel-section argument key=... has opt among its
 * comma-separated options ("intel_iommu=on,sm_on" has "on"). */
static bool cmdline_any_option(const KCmdline *c, const char *key, const char *opt) {
        for (size_t i = 0; c && i < c->n_args; i++) {
                const KArg *a = &c->args[i];
                _cleanup_strv_free_ char **opts = NULL;

                if (a->section != KARG_KERNEL || a->noise || !a->value || !kcmdline_key_equal(a->key, key))
                        continue;
                if (strv_split(a->value, ",", &opts) >= 0 && strv_contains(opts, opt))
                        return true;
        }
        return false;
}

static bool last_option(const KCmdline *c, const char *key, const char *opt) {
        const KArg *a = kcmdline_get(c, key);
        _cleanup_strv_free_ char **opts = NULL;

        return a && a->value && strv_split(a->value, ",", &opts) >= 0 && strv_contains(opts, opt);
}

static int compute_arguments(Eval *e) {
        Capabilities *c = e->caps;
        const KCmdline *k = e->cmdline;

        if (cmdline_any_option(k, "iommu", "off") && strv_extend(&c->args_remove, "iommu=off") < 0)
                return -ENOMEM;
        if (likely_iommu(c) == IOMMU_INTEL) {
                if (cmdline_any_option(k, "intel_iommu", "off") && strv_extend(&c->args_remove, "intel_iommu=off") < 0)
                        return -ENOMEM;
                /* Explicit even where CONFIG_INTEL_IOMMU_DEFAULT_ON: harmless, and
                 * the kernel's default is not visible from here. */
                if (!c->iommu_active && !last_option(k, "intel_iommu", "on") &&
                    strv_extend(&c->args_add, "intel_iommu=on") < 0)
                        return -ENOMEM;
        } else if (likely_iommu(c) == IOMMU_AMD) {
                if (cmdline_any_option(k, "amd_iommu", "off") && strv_extend(&c->args_remove, "amd_iommu=off") < 0)
                        return -ENOMEM;
        }
        /* iommu=pt is worth suggesting only where there is an IOMMU to configure. */
        if (c->iommu_source && !last_option(k, "iommu", "pt") && !kcmdline_has(k, "iommu.passthrough", "1") &&
            strv_extend(&c->args_optional, "iommu=pt") < 0)
                return -ENOMEM;
        return 0;
}

static int check_kernel_arguments(Eval *e) {
        Capabilities *c = e->caps;
        _cleanup_free_ char *add = NULL, *rm = NULL;
        int r;

        r = compute_arguments(e);
        if (r < 0)
                return r;
        if (!c->args_add && !c->args_remove) {
                if (likely_iommu(c) == IOMMU_AMD && !c->iommu_active)
                        return add_check(e, "kernel-arguments", CHECK_WARN, "AMD-Vi is on by default and no argument turns it "
                                         "off; amd_iommu=on is not a kernel option (6.1 rejects it as unknown)");
                return add_check(e, "kernel-arguments", CHECK_PASS, "no kernel argument is missing%s",
                                 c->args_optional ? " (iommu=pt is optional: it maps host devices 1:1, "
                                                    "avoiding translation overhead for them)" : "");
        }
        for (char **a = c->args_add; a && *a; a++)
                if (asprintf(&add, "%s%s%s", strempty(add), add ? " " : "", *a) < 0)
                        return -ENOMEM;
        for (char **a = c->args_remove; a && *a; a++)
                if (asprintf(&rm, "%s%s%s", strempty(rm), rm ? " " : "", *a) < 0)
                        return -ENOMEM;
        r = add_check(e, "kernel-arguments", CHECK_FAIL, "%s%s%s%s%s", add ? "add: " : "", strempty(add),
                      add && rm ? "; " : "", rm ? "remove: " : "", strempty(rm));
        return r < 0 ? r : set_hint(e, "Change the kernel command line with the bootloader's own tool (grubby "
                                       "--update-kernel=ALL --args=..., or GRUB_CMDLINE_LINUX in /etc/default/grub "
                                       "and update-grub, or /etc/kernel/cmdline and kernel-install) and reboot.");
}

static const char *decide_verdict(const Capabilities *c) {
        const Check *cpu = &c->checks[0];
        bool vfio_missing = false;

        for (size_t i = 0; i < c->n_checks; i++)
                if (streq(c->checks[i].id, "vfio-pci") || streq(c->checks[i].id, "vfio-iommu-backend"))
                        vfio_missing = vfio_missing || c->checks[i].status == CHECK_FAIL;
        if (cpu->status == CHECK_FAIL)
                return "no-cpu-support";
        if (c->iommu_active)
                return vfio_missing ? "vfio-unavailable" : "ready";
        if (!c->iommu_source)
                return "disabled-in-firmware";
        return "needs-kernel-arguments";
}

int capabilities_evaluate(const HostRoot *root, const HostInfo *host, const Inventory *inv, Capabilities *ret) {
        _cleanup_(kcmdline_freep) KCmdline *cmdline = NULL;
        Capabilities caps = {};
        Eval e = { .root = root, .host = host, .inv = inv, .caps = &caps };
        int (*const checks[])(Eval *) = {
                check_cpu, check_firmware, check_kernel_iommu, check_irq_remapping,
                check_vfio, check_vfio_backend, check_acs_override, check_kernel_arguments,
        };
        int r;

        r = kcmdline_parse(strempty(host->cmdline), &cmdline);
        if (r < 0)
                return r;
        e.cmdline = cmdline;
        for (size_t i = 0; i < ELEMENTSOF(checks) && r >= 0; i++)
                r = checks[i](&e);
        free(e.iommu_unit);
        if (r < 0) {
                capabilities_done(&caps);
                return r;
        }
        caps.verdict = decide_verdict(&caps);
        *ret = caps;
        return 0;
}

void capabilities_done(Capabilities *c) {
        for (size_t i = 0; i < c->n_checks; i++) {
                free(c->checks[i].detail);
                free(c->checks[i].hint);
        }
        strv_free(c->args_add);
        strv_free(c->args_remove);
        strv_free(c->args_optional);
        *c = (Capabilities) {};
}
