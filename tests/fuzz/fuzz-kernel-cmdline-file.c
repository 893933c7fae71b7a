/* libFuzzer target for /etc/kernel/cmdline (kernel_cmdline_target() in
 * bootloader-bls.c, and the first line proxmox-boot-tool reads in
 * bootloader-proxmox.c): the file comes from the input, in a Proxmox VE, a
 * systemd-boot, a RHEL 9 or a RHEL 8 setup made around it in memory
 * (fuzz-bootloader.c); it is read and edited, and the plan must read back
 * as planned, change only the lines holding arguments, and be final.
 *
 * Input: a byte choosing the setup, the file, and optionally a last part
 * "#edits\n" with edits as fuzz-bootloader.h reads them. */

#include "basic/macro.h"
#include "fuzz-bootloader.h"
#include "fuzz.h"

#define MID "3f1c6a0d8e2b4c7fa9d05e6b1c2d3e4f"

static const char pve_entry[] =
        "title    Proxmox Virtual Environment\n"
        "version  6.8.12-4-pve\n"
        "options  root=ZFS=rpool/ROOT/pve-1 boot=zfs\n"
        "linux    /EFI/proxmox/6.8.12-4-pve/vmlinuz-6.8.12-4-pve\n"
        "initrd   /EFI/proxmox/6.8.12-4-pve/initrd.img-6.8.12-4-pve\n";

static const char sdboot_entry[] =
        "title Fedora Linux 41 (Server Edition)\n"
        "version 6.11.5-300.fc41.x86_64\n"
        "linux /" MID "/6.11.5-300.fc41.x86_64/linux\n"
        "options root=UUID=0b3a3d1e-8c4d-4c36-b1c9-3a52f7f7f0a1 ro rootflags=subvol=root quiet\n";

static const char rhel9_entry[] =
        "title Red Hat Enterprise Linux (5.14.0-503.11.1.el9_5.x86_64) 9.5 (Plow)\n"
        "version 5.14.0-503.11.1.el9_5.x86_64\n"
        "linux /vmlinuz-5.14.0-503.11.1.el9_5.x86_64\n"
        "options root=/dev/mapper/rhel-root ro crashkernel=auto rhgb quiet $tuned_params\n";

static const char rhel8_entry[] =
        "title Red Hat Enterprise Linux (4.18.0-553.16.1.el8_10.x86_64) 8.10 (Ootpa)\n"
        "version 4.18.0-553.16.1.el8_10.x86_64\n"
        "linux /vmlinuz-4.18.0-553.16.1.el8_10.x86_64\n"
        "options $kernelopts $tuned_params\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *storage = NULL, *grubenv = NULL;
        FuzzHost h = {};
        BootEdit edits[32];
        BootPlanFlags flags;
        size_t n_edits, rest;
        unsigned kind;

        if (size > 64 * 1024)
                return 0;
        kind = fuzz_take_byte(&data, &size) % 4;
        n_edits = fuzz_input_edits((const char *) data, size, &rest, edits, ELEMENTSOF(edits), &flags, &storage);
        fuzz_host_add(&h, AREA_ETC, "kernel/cmdline", (const char *) data, rest);

        switch (kind) {
        case 0: /* proxmox-boot-tool: one ESP, found as the fixture trees hold it */
                fuzz_host_add_string(&h, AREA_ETC, "kernel/proxmox-boot-uuids", "2C1A-7F3B\n");
                fuzz_host_add_string(&h, AREA_ROOT, "esp-2C1A-7F3B/loader/entries/proxmox-6.8.12-4-pve.conf", pve_entry);
                break;
        case 1:
                fuzz_host_add_string(&h, AREA_ROOT, "efi/loader/entries/" MID "-6.11.5-300.fc41.x86_64.conf",
                                     sdboot_entry);
                break;
        case 2:
                grubenv = fuzz_grubenv_block("saved_entry=" MID "-5.14.0-503.11.1.el9_5.x86_64\ntuned_params=\n");
                fuzz_host_add_string(&h, AREA_BOOT, "grub2/grubenv", grubenv);
                fuzz_host_add_string(&h, AREA_BOOT, "loader/entries/" MID "-5.14.0-503.11.1.el9_5.x86_64.conf",
                                     rhel9_entry);
                break;
        default:
                grubenv = fuzz_grubenv_block("kernelopts=root=/dev/mapper/rhel-root ro crashkernel=auto quiet\n");
                fuzz_host_add_string(&h, AREA_BOOT, "grub2/grubenv", grubenv);
                fuzz_host_add_string(&h, AREA_BOOT, "loader/entries/" MID "-4.18.0-553.16.1.el8_10.x86_64.conf",
                                     rhel8_entry);
                break;
        }
        fuzz_host_check(&h, edits, n_edits, flags);
        fuzz_host_done(&h);
        return 0;
}
