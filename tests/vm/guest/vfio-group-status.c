/* vfio-group-status: the kernel's own word on whether VFIO groups are viable.
 *
 * Guest-side helper of the real-kernel test tier (built statically by
 * mkinitramfs.sh, run by inventory.sh): for each /dev/vfio/N given, asks
 * VFIO_GROUP_GET_STATUS and prints "N viable=yes|no", or "N error=..." when
 * the node cannot be opened or asked.  This is the truth hostdevd's "viable"
 * is compared with; busybox has no way to issue the ioctl.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int print_status(char *path) {
        struct vfio_group_status status = { .argsz = sizeof(status) };
        const char *name = basename(path);
        int fd, r = 0;

        fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                printf("%s error=open:%s\n", name, strerror(errno));
                return -errno;
        }
        if (ioctl(fd, VFIO_GROUP_GET_STATUS, &status) < 0) {
                r = -errno;
                printf("%s error=ioctl:%s\n", name, strerror(errno));
        } else
                printf("%s viable=%s\n", name,
                       status.flags & VFIO_GROUP_FLAGS_VIABLE ? "yes" : "no");
        close(fd);
        return r;
}

int main(int argc, char **argv) {
        int failed = 0;

        for (int i = 1; i < argc; i++)
                if (print_status(argv[i]) < 0)
                        failed = 1;
        return failed;
}
