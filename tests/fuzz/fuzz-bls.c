/* libFuzzer target for BootLoaderSpec entries (bootloader-bls.c) in the
 * setups built on them: GRUB with blscfg (RHEL 9), RHEL 8's grubenv
 * kernelopts, and systemd-boot with loader.conf. The entries (and, when
 * given, the grubenv block or loader.conf) come from the input; the setup is
 * detected, read and edited in memory (fuzz-bootloader.c), and the plan must
 * read back as planned, touch only options lines, and be final.
 *
 * Input: a byte choosing the setup, then files separated by "\n====\n":
 * each an entry, but one starting with "# GRUB Environment Block" (the
 * grubenv block) or "default"/"timeout" (loader.conf); optionally a last
 * part "#edits\n" with edits as fuzz-bootloader.h reads them. */

#include <stdio.h>

#include "basic/macro.h"
#include "fuzz-bootloader.h"
#include "fuzz.h"

#define MID "3f1c6a0d8e2b4c7fa9d05e6b1c2d3e4f"
#define SEP "\n====\n"

static const char *const versions[] = { "5.14.0-503.11.1.el9_5.x86_64", "5.14.0-427.42.1.el9_4.x86_64",
                                        "0-rescue", "4.18.0-553.16.1.el8_10.x86_64", "6.11.5-300.fc41.x86_64",
                                        "5.14.0-70.13.1.el9_0.x86_64" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *storage = NULL, *grubenv = NULL;
        FuzzHost h = {};
        BootEdit edits[32];
        BootPlanFlags flags;
        FuzzPart parts[ELEMENTSOF(versions)];
        size_t n_edits, rest, n_parts, n_entries = 0;
        unsigned kind;
        bool sdboot, env_given = false;

        if (size > 64 * 1024)
                return 0;
        kind = fuzz_take_byte(&data, &size) % 3;
        sdboot = kind == 2;
        n_edits = fuzz_input_edits((const char *) data, size, &rest, edits, ELEMENTSOF(edits), &flags, &storage);
        n_parts = fuzz_split((const char *) data, rest, SEP, parts, ELEMENTSOF(parts));

        for (size_t i = 0; i < n_parts; i++) {
                const FuzzPart *p = parts + i;
                _cleanup_free_ char *name = NULL;

                if (!sdboot && p->size >= 24 && memcmp(p->p, "# GRUB Environment Block", 24) == 0) {
                        fuzz_host_add(&h, AREA_BOOT, "grub2/grubenv", p->p, p->size);
                        env_given = true;
                        continue;
                }
                if (sdboot && p->size >= 7 && (memcmp(p->p, "default", 7) == 0 || memcmp(p->p, "timeout", 7) == 0)) {
                        fuzz_host_add(&h, AREA_ROOT, "efi/loader/loader.conf", p->p, p->size);
                        continue;
                }
                FUZZ_OOM(asprintf(&name, "%s/" MID "-%s.conf", sdboot ? "efi/loader/entries" : "loader/entries",
                                  versions[n_entries++]) >= 0);
                fuzz_host_add(&h, sdboot ? AREA_ROOT : AREA_BOOT, name, p->p, p->size);
        }
        if (!sdboot && !env_given) {
                grubenv = fuzz_grubenv_block(kind == 1 ? "saved_entry=" MID "-4.18.0-553.16.1.el8_10.x86_64\n"
                                                         "kernelopts=root=/dev/mapper/rhel-root ro crashkernel=auto "
                                                         "rd.lvm.lv=rhel/root rhgb quiet\n"
                                                         "tuned_params=skew_tick=1\n"
                                                       : "saved_entry=" MID "-5.14.0-503.11.1.el9_5.x86_64\n"
                                                         "boot_success=1\ntuned_params=\n");
                fuzz_host_add_string(&h, AREA_BOOT, "grub2/grubenv", grubenv);
        }
        fuzz_host_add_string(&h, AREA_ETC, "kernel/cmdline", "root=/dev/mapper/rhel-root ro crashkernel=auto rhgb quiet\n");

        fuzz_host_check(&h, edits, n_edits, flags);
        fuzz_host_done(&h);
        return 0;
}
