/* vfio_holders_scan() over a procfs made by hand: fd links to group nodes
 * (as the kernel shows them, and under the root), the container, other
 * files, a process without a readable fd directory; QEMU's -name forms. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/macro.h"
#include "fixture.h"
#include "host/vfio-holders.h"
#include "tap.h"

static void test_qemu_names(void) {
        static const struct {
                const char *cmdline;
                size_t size;
                const char *want;
        } cases[] = {
#define C(s, w) { s, sizeof(s) - 1, w }
                C("qemu-system-x86_64\0-name\0guest=win10,debug-threads=on\0-m\0" "4096\0", "win10"),
                C("qemu-system-x86_64\0-name\0plain\0", "plain"),
                C("qemu-system-x86_64\0-name\0a,,b,process=x\0", "a,b"),
                C("qemu-system-x86_64\0-name\0process=x,guest=late\0", "late"),
                C("qemu-system-x86_64\0-name\0process=x\0", NULL),
                C("qemu-system-x86_64\0-m\0" "1024\0", NULL),
                C("qemu-system-x86_64\0-name\0", NULL),
                C("qemu-system-x86_64\0--name\0guest=dashes\0", "dashes"),
#undef C
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *name = NULL;
                int r = qemu_cmdline_vm_name(cases[i].cmdline, cases[i].size, &name);

                if (cases[i].want)
                        is_str(r >= 0 ? name : NULL, cases[i].want, "qemu -name case %zu", i);
                else
                        is_int(r, -ENOENT, "qemu -name case %zu: no name", i);
        }
}

static void put_cmdline(const char *root, const char *pid, const char *cmd, size_t size) {
        char *p;
        FILE *f;

        if (asprintf(&p, "%s/proc/%s/cmdline", root, pid) < 0)
                abort();
        f = fopen(p, "we");
        if (!f || fwrite(cmd, 1, size, f) != size || fclose(f) != 0)
                abort();
        free(p);
}

static void test_scan(void) {
        char tmpl[] = "/tmp/hostdevd-holders-XXXXXX", *root_vfio = NULL;
        _cleanup_(hostroot_freep) HostRoot *root = NULL;
        VfioHolder *h = NULL;
        size_t n = 0;
        int r;

        if (!mkdtemp(tmpl))
                abort();
        if (asprintf(&root_vfio, "%s/dev/vfio/3", tmpl) < 0)
                abort();
        fixture_put(tmpl, "proc/100/comm", "qemu-system-x86\n", NULL);
        {
                static const char cmd[] = "/usr/bin/qemu-system-x86_64\0-name\0guest=win10,debug-threads=on\0";
                put_cmdline(tmpl, "100", cmd, sizeof cmd - 1);
        }
        fixture_put(tmpl, "proc/100/fd/3", NULL, "/dev/vfio/9");
        fixture_put(tmpl, "proc/100/fd/4", NULL, "/dev/vfio/9"); /* twice: reported once */
        fixture_put(tmpl, "proc/100/fd/5", NULL, "/dev/vfio/vfio");
        fixture_put(tmpl, "proc/100/fd/6", NULL, "socket:[1234]");
        fixture_put(tmpl, "proc/200/comm", "vfio-user\n", NULL);
        fixture_put(tmpl, "proc/200/fd/7", NULL, "/dev/vfio/12");
        fixture_put(tmpl, "proc/200/fd/8", NULL, "/dev/vfio/9");
        fixture_put(tmpl, "proc/200/fd/9", NULL, "/dev/vfio12"); /* not the group dir */
        fixture_put(tmpl, "proc/300/comm", "gone\n", NULL);    /* no fd dir: vanished */
        fixture_put(tmpl, "proc/400/fd/1", NULL, root_vfio);   /* under the root, no comm */
        fixture_put(tmpl, "proc/self", NULL, "100");
        fixture_put(tmpl, "proc/sys/kernel/osrelease", "6.1\n", NULL);
        fixture_put(tmpl, "proc/500/fd/3", NULL, "/dev/vfio/devices/vfio0"); /* iommufd cdev */
        fixture_put(tmpl, "sys/class/vfio-dev/vfio0", NULL, "../../devices/pci0000:00/0000:00:03.0/vfio-dev/vfio0");
        fixture_put(tmpl, "sys/devices/pci0000:00/0000:00:03.0/iommu_group", NULL, "../../../kernel/iommu_groups/5");
        fixture_put(tmpl, "sys/devices/pci0000:00/0000:00:03.0/vfio-dev/vfio0/device", NULL, "../../../0000:00:03.0");
        fixture_put(tmpl, "sys/kernel/iommu_groups/5/type", "DMA\n", NULL);
        fixture_put(tmpl, "proc/500/comm", "cloud-hypervisor\n", NULL);

        ok(hostroot_new(tmpl, &root) >= 0, "root");
        r = vfio_holders_scan(root, &h, &n);
        is_int(r, 0, "scan");
        is_int(n, 5, "five (group, process) pairs");
        if (n == 5) {
                is_int(h[0].group, 3, "group 3 first");
                is_int(h[0].pid, 400, "held by 400 through a root-prefixed link");
                is_str(h[0].comm, NULL, "no comm for 400");
                is_int(h[1].group, 5, "iommufd device node: group of its device");
                is_int(h[1].pid, 500, "held by 500");
                is_int(h[2].group, 9, "group 9");
                is_int(h[2].pid, 100, "by 100 first");
                is_str(h[2].comm, "qemu-system-x86", "comm");
                is_str(h[2].vm_name, "win10", "VM name from -name guest=");
                is_int(h[3].pid, 200, "then 200");
                is_str(h[3].vm_name, NULL, "not QEMU: no VM name");
                is_int(h[4].group, 12, "group 12 last");
                ok(vfio_holders_find(h, n, 9) == &h[2], "find gives the first holder of 9");
                ok(vfio_holders_find(h, n, 7) == NULL, "find: nobody holds 7");
                {
                        _cleanup_free_ char *s = vfio_holder_describe(&h[2]);
                        is_str(s, "process 100 (qemu-system-x86, VM 'win10')", "describe");
                }
        }
        vfio_holders_free(h, n);
        free(root_vfio);
        {
                _cleanup_(hostroot_freep) HostRoot *empty = NULL;
                char tmpl2[] = "/tmp/hostdevd-holders-XXXXXX";
                if (!mkdtemp(tmpl2) || hostroot_new(tmpl2, &empty) < 0)
                        abort();
                h = (VfioHolder *) 1;
                is_int(vfio_holders_scan(empty, &h, &n), 0, "no procfs: nobody");
                ok(h == NULL && n == 0, "empty result");
                rmdir(tmpl2);
        }
        {
                char *dir; /* fixture_free() removes the parent of what it is given */
                if (asprintf(&dir, "%s/x", tmpl) < 0)
                        abort();
                fixture_free(dir);
        }
}

int main(void) {
        test_qemu_names();
        test_scan();
        return tap_done();
}
