/* The base layer: the path builder, string lists, number parsing, file
 * helpers, and finding the PCI device above a sysfs path. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/hostroot.h"
#include "basic/macro.h"
#include "basic/parse-util.h"
#include "basic/strv.h"
#include "host/pci-device.h"
#include "tap.h"

static void test_hostroot(const char *tmp) {
        HostRoot *r = NULL;
        char *p;

        ok(hostroot_new("/", &r) == 0 && hostroot_is_host(r), "/ is the host");
        p = hostroot_path(r, AREA_SYS, "bus/pci/devices/%s", "0000:00:00.0");
        is_str(p, "/sys/bus/pci/devices/0000:00:00.0", "sys path under /");
        free(p);
        p = hostroot_path(r, AREA_STATE, "%s", "");
        is_str(p, "/var/lib/hostdevd", "state area");
        free(p);
        hostroot_free(r);

        ok(hostroot_new(tmp, &r) == 0 && !hostroot_is_host(r), "a directory is not the host");
        p = hostroot_path(r, AREA_PROC, "cmdline");
        ok(p && strncmp(p, tmp, strlen(tmp)) == 0 && streq(p + strlen(tmp), "/proc/cmdline"), "proc under root: %s", p);
        ok(hostroot_strip(r, p) && streq(hostroot_strip(r, p), "/proc/cmdline"), "strip gives the host path");
        ok(hostroot_strip(r, "/elsewhere/proc") == NULL, "strip refuses paths outside the root");
        free(p);
        hostroot_free(r);

        is_int(hostroot_new("relative/dir", &r), -EINVAL, "a relative root is refused");
        is_int(hostroot_new("/nonexistent/hostdevd-root", &r), -ENOENT, "a missing root is refused");
}

static void test_strv(void) {
        char **l = NULL;

        ok(strv_split("  pm  bus flr ", " ", &l) == 0 && strv_length(l) == 3, "split drops empty fields");
        is_str(l[0], "pm", "first");
        is_str(l[2], "flr", "last");
        ok(strv_contains(l, "bus") && !strv_contains(l, "bu"), "contains whole words");
        strv_free(l);
        ok(strv_split("", " ", &l) == 0 && l && !l[0], "empty string gives an empty list");
        strv_free(l);

        /* No names is a NULL list: sorting it is a no-op (UBSan checks qsort's argument). */
        strv_sort(NULL);
        ok(strv_split("c a b", " ", &l) == 0, "split three");
        strv_sort(l);
        ok(streq(l[0], "a") && streq(l[1], "b") && streq(l[2], "c") && !l[3], "sorted");
        strv_free(l);
}

static void test_parse(void) {
        int i;
        uint32_t u;
        uint64_t v;

        ok(safe_atoi("42\n", &i) == 0 && i == 42, "sysfs newline accepted");
        is_int(safe_atoi("42x", &i), -EINVAL, "trailing junk refused");
        is_int(safe_atoi("", &i), -EINVAL, "empty refused");
        is_int(safe_atoi("99999999999", &i), -ERANGE, "overflow refused");
        is_int(safe_atoi("99999999999x", &i), -EINVAL, "not a number, however long");
        is_int(safe_atou64("ffffffffffffffffffff\r", 16, &v), -EINVAL, "not a number either, for u64");
        ok(safe_atoi("-1", &i) == 0 && i == -1, "negative numbers parse (numa_node -1)");
        is_int(safe_atoi(" 42", &i), -EINVAL, "leading blank refused");
        is_int(safe_atoi("\n\n2\n", &i), -EINVAL, "leading newlines refused");
        is_int(safe_atoi("\v8", &i), -EINVAL, "leading vertical tab refused");
        ok(parse_hex_u32("0x8086\n", &u) == 0 && u == 0x8086, "sysfs vendor");
        ok(parse_hex_u32("0x030000", &u) == 0 && u == 0x030000, "sysfs class");
        is_int(safe_atou64("-1", 10, &v), -EINVAL, "unsigned refuses a sign");
}

static void test_ancestor(void) {
        char a[PCI_ADDR_STRLEN];

        ok(sysfs_path_pci_ancestor("/sys/devices/pci0000:00/0000:00:04.0/0000:03:00.0/nvme/nvme0/nvme0n1/nvme0n1p2", a) == 0,
           "partition resolves");
        is_str(a, "0000:03:00.0", "nearest PCI function above a partition");
        ok(sysfs_path_pci_ancestor("/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/host0", a) == 0 &&
           streq(a, "0000:00:14.0"), "USB disk resolves to its controller");
        is_int(sysfs_path_pci_ancestor("/sys/devices/virtual/block/dm-0", a), -ENOENT, "dm has no PCI ancestor");
        is_int(sysfs_path_pci_ancestor("/sys/devices/pci0000:00", a), -ENOENT, "a host bridge root is no function");
}

static void test_files(const char *tmp) {
        _cleanup_free_ char *path = NULL, *s = NULL;
        struct stat st;

        ok(asprintf(&path, "%s/state.json", tmp) > 0, "path");
        ok(write_file_atomic(path, "{\"a\":1}\n", 8, 0600) == 0, "atomic write");
        ok(read_one_line_file(path, &s) == 0 && streq(s, "{\"a\":1}"), "read back");
        ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "mode applied");
        free(s);
        s = NULL;
        ok(write_file_atomic(path, "new\n", 4, 0600) == 0 && read_one_line_file(path, &s) == 0 && streq(s, "new"),
           "replaced whole");
        is_int(read_one_line_file("/nonexistent/x", &s), -ENOENT, "missing file is -ENOENT");
}

static int collect_line(char *line, unsigned number, void *userdata) {
        char *seen = userdata;
        size_t l = strlen(seen);

        snprintf(seen + l, 64 - l, "%u:%s|", number, line);
        return streq(line, "stop") ? -EBADMSG : 0;
}

static void test_lines(void) {
        char text[] = "a\n\nb c\nlast", bad[] = "x\nstop\ny\n", seen[64] = "";

        is_int(parse_lines(text, collect_line, seen), 0, "parse_lines");
        is_str(seen, "1:a|2:|3:b c|4:last|", "every line with its number, the last without a newline");
        seen[0] = 0;
        is_int(parse_lines(bad, collect_line, seen), -EBADMSG, "a callback's error stops the walk");
        is_str(seen, "1:x|2:stop|", "nothing after it");
}

static void test_secret_file(const char *tmp) {
        _cleanup_free_ char *path = NULL, *s = NULL, *why = NULL;
        const unsigned rw = S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH;

        ok(asprintf(&path, "%s/secret", tmp) > 0, "path");
        is_int(read_secret_file(path, 16, S_IWGRP | S_IWOTH, 0600, &s, NULL, &why), -ENOENT,
               "absent secret is -ENOENT");
        ok(!why, "no refusal for an absent file");
        ok(write_file_atomic(path, "k", 1, 0600) == 0, "secret written");
        ok(read_secret_file(path, 16, rw, 0600, &s, NULL, &why) == 0 && !why, "0600 is accepted");
        ok(s && streq(s, "k"), "read whole");
        free(s);
        s = NULL;
        ok(chmod(path, 0640) == 0, "chmod");
        is_int(read_secret_file(path, 16, S_IRGRP | S_IWOTH, 0600, &s, NULL, &why), -EPERM, "group-readable refused");
        ok(why && strstr(why, "is readable or writable by its group or others (mode 0640): refused. Fix: chmod 0600 ") &&
           !s, "its mode reported, with the fix, nothing read");
        free(why);
        why = NULL;
        ok(read_secret_file(path, 16, S_IWGRP | S_IWOTH, 0600, &s, NULL, &why) == 0 && !why,
           "allowed when only writing is forbidden");
        is_int(read_secret_file(tmp, 16, S_IWOTH, 0600, &s, NULL, &why), -EBADFD, "a directory is not a secret file");
        ok(why && streq(why, "is not a regular file."), "and says so");
        unlink(path);
}

int main(void) {
        char tmpl[] = "/tmp/hostdevd-test-XXXXXX";
        char *tmp = mkdtemp(tmpl);

        ok(tmp != NULL, "temporary directory");
        test_hostroot(tmp);
        test_strv();
        test_parse();
        test_ancestor();
        test_files(tmp);
        test_lines();
        test_secret_file(tmp);
        {
                _cleanup_free_ char *f = NULL;
                if (asprintf(&f, "%s/state.json", tmp) > 0)
                        unlink(f);
        }
        rmdir(tmp);
        return tap_done();
}
