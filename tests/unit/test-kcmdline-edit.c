/* Unit test of the command-line edits (kcmdline-edit.h): rpm-ostree kargs
 * semantics on parsed (key, value) pairs, errors, ret_changed, order, the
 * untouched init section and noise. Each case starts from a parsed line,
 * applies one edit and compares the formatted result. Prints TAP. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "kernel-cmdline/kcmdline-edit.h"
#include "kernel-cmdline/kcmdline.h"
#include "tap.h"


typedef int (*EditFunc)(KCmdline *c, const char *spec, bool *ret_changed);

typedef struct Op {
        EditFunc func;
        const char *name;
} Op;

#define OP(f) ((Op) { f, #f })
#define APPEND OP(kcmdline_append)
#define APPEND_IF_MISSING OP(kcmdline_append_if_missing)
#define DELETE OP(kcmdline_delete)
#define DELETE_IF_PRESENT OP(kcmdline_delete_if_present)
#define REPLACE OP(kcmdline_replace)

/* Applies op(spec) to the parsed line before. want_r < 0: that error, and
 * the line unchanged. Otherwise success, *ret_changed == want_changed and
 * the formatted line is want_after. */
static void edit(const char *before, Op op, const char *spec, int want_r, bool want_changed,
                 const char *want_after) {
        _cleanup_(kcmdline_freep) KCmdline *c = NULL, *orig = NULL;
        _cleanup_free_ char *after = NULL;
        bool changed = !want_changed, ok;
        int r;

        if (kcmdline_parse(before, &c) < 0 || kcmdline_parse(before, &orig) < 0)
                abort();

        r = op.func(c, spec, &changed);
        if (kcmdline_format_full(c, &after) < 0)
                after = NULL;

        if (want_r < 0)
                ok = r == want_r && kcmdline_equal(c, orig) && changed == !want_changed;
        else
                ok = r == 0 && changed == want_changed && after && streq(after, want_after);

        if (!tap_check(ok, "'%s' %s '%s' -> %s", before, op.name + strlen("kcmdline_"), spec,
                   want_r < 0 ? strerror(-want_r) : want_after))
                printf("# got r=%d (%s) changed=%d after='%s'\n", r, r < 0 ? strerror(-r) : "ok",
                       changed, after ? after : "(unformattable)");
}

static void ok_edit(const char *before, Op op, const char *spec, const char *after) {
        edit(before, op, spec, 0, true, after);
}

static void no_change(const char *before, Op op, const char *spec) {
        _cleanup_(kcmdline_freep) KCmdline *c = NULL;
        _cleanup_free_ char *text = NULL;

        if (kcmdline_parse(before, &c) < 0 || kcmdline_format_full(c, &text) < 0)
                abort();
        edit(before, op, spec, 0, false, text);
}

static void fails(const char *before, Op op, const char *spec, int r) {
        edit(before, op, spec, r, false, NULL);
}

static void test_append(void) {
        ok_edit("root=/r ro", APPEND, "intel_iommu=on", "root=/r ro intel_iommu=on");
        ok_edit("root=/r ro -- single", APPEND, "iommu=pt", "root=/r ro iommu=pt -- single");
        ok_edit("-- single", APPEND, "iommu=pt", "iommu=pt -- single");
        ok_edit("console=tty0", APPEND, "console=ttyS0", "console=tty0 console=ttyS0");
        ok_edit("quiet", APPEND, "quiet=", "quiet quiet=");
        ok_edit("rd.break=", APPEND, "rd.break", "rd.break= rd.break");
        ok_edit("", APPEND, "dyndbg=\"module vfio_pci +p\"", "dyndbg=\"module vfio_pci +p\"");
        ok_edit("a", APPEND, "\"dyndbg=module vfio_pci +p\"", "a dyndbg=\"module vfio_pci +p\"");
        ok_edit("a", APPEND, "  k=v\n", "a k=v");
        /* The spec is read as the kernel reads it: 0xa0 (the end of UTF-8
         * "à") splits an unquoted token. */
        ok_edit("a", APPEND, "k=\"caf\xc3\xa0\"", "a k=\"caf\xc3\xa0\"");
        ok_edit("a", APPEND, "k=caf\xc3\xa0", "a k=caf\xc3");
        ok_edit("root=/r", APPEND, "initrd=/x", "root=/r initrd=/x");
        ok_edit("initrd=/i root=/r", APPEND, "initrd=/i", "initrd=/i root=/r initrd=/i");
        fails("console=tty0", APPEND, "console=tty0", -EEXIST);
        fails("vfio-pci.ids=a", APPEND, "vfio_pci.ids=a", -EEXIST);
        fails("dyndbg=\"a b\"", APPEND, "\"dyndbg=a b\"", -EEXIST);
        fails("BOOT_IMAGE=/k", APPEND, "initrd=/x", -EINVAL);
        fails("x \"a b\"\"", APPEND, "y", -EINVAL);

        /* Specs that are not one plain argument. */
        static const char *const bad[] = {
                "", "  ", "a b", "foo=\"a b", "foo=a\\\"b", "foo=\"a b\"c", "foo=a\"b\"",
                "--", "\"--\"", "-- x", "BOOT_IMAGE=/x", "BOOT_IMAGE", "k=a\tb",
                "k=\"a\tb\"", "k=\"a\nb\"", "=x", "\"a b\"", "\"\"", "a\x7f",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                fails("root=/r", APPEND, bad[i], -EINVAL);
}

static void test_append_if_missing(void) {
        no_change("console=tty0", APPEND_IF_MISSING, "console=tty0");
        no_change("console=tty0", APPEND_IF_MISSING, "console=\"tty0\"");
        no_change("dyndbg=\"module vfio_pci +p\"", APPEND_IF_MISSING, "\"dyndbg=module vfio_pci +p\"");
        no_change("kvm-intel.nested=1", APPEND_IF_MISSING, "kvm_intel.nested=1");
        ok_edit("console=tty0", APPEND_IF_MISSING, "console=ttyS0", "console=tty0 console=ttyS0");
        /* rpm-ostree #4718: the pair decides, not the key. */
        ok_edit("crashkernel=1G", APPEND_IF_MISSING, "crashkernel=auto", "crashkernel=1G crashkernel=auto");
        ok_edit("a -- iommu=pt", APPEND_IF_MISSING, "iommu=pt", "a iommu=pt -- iommu=pt");
        ok_edit("BOOT_IMAGE=/k root=/r", APPEND_IF_MISSING, "quiet", "BOOT_IMAGE=/k root=/r quiet");
        fails("foo=a\"b", APPEND_IF_MISSING, "foo=a\"b", -EINVAL);
}

static void test_delete(void) {
        ok_edit("root=/r quiet ro", DELETE, "quiet", "root=/r ro");
        ok_edit("a=1 b a=2 a=1", DELETE, "a=1", "b a=2");
        ok_edit("vfio-pci.ids=x c", DELETE, "vfio_pci.ids=x", "c");
        ok_edit("quiet=", DELETE, "quiet", "");
        ok_edit("root=/r ro", DELETE, "root", "ro");
        ok_edit("console=tty0 x console=tty0", DELETE, "console", "x");
        ok_edit("foo foo=1", DELETE, "foo", "foo=1");
        ok_edit("a -- a", DELETE, "a", "-- a");
        ok_edit("hugepagesz=1G hugepages=16 hugepagesz=2M hugepages=1024", DELETE, "hugepages=16",
                "hugepagesz=1G hugepagesz=2M hugepages=1024");
        ok_edit("root=/r foo=a\" b\" next", DELETE, "foo=a\" b\"", "root=/r next");
        ok_edit("dyndbg=\"a b\" x", DELETE, "\"dyndbg=a b\"", "x");
        fails("quiet", DELETE, "quiet=", -ENOENT);
        fails("quiet=", DELETE, "quiet=1", -ENOENT);
        fails("-- a", DELETE, "a", -ENOENT);
        fails("BOOT_IMAGE=/k root=/r", DELETE, "BOOT_IMAGE=/k", -ENOENT);
        fails("initrd=/i root=/r", DELETE, "initrd", -ENOENT);
        fails("console=tty0 console=ttyS0", DELETE, "console", -ENOTUNIQ);
        fails("a", DELETE, "a b", -EINVAL);
        fails("a", DELETE, "\"a", -EINVAL);
}

static void test_delete_if_present(void) {
        no_change("quiet", DELETE_IF_PRESENT, "splash");
        no_change("crashkernel=1G", DELETE_IF_PRESENT, "crashkernel=auto"); /* rpm-ostree #4718 */
        no_change("-- single", DELETE_IF_PRESENT, "single");
        ok_edit("quiet splash", DELETE_IF_PRESENT, "splash", "quiet");
        fails("console=tty0 console=ttyS0", DELETE_IF_PRESENT, "console", -ENOTUNIQ);
        fails("a", DELETE_IF_PRESENT, "", -EINVAL);
}

static void test_replace(void) {
        ok_edit("crashkernel=auto ro", REPLACE, "crashkernel=auto=1G-4G:192M,4G-64G:256M,64G-:512M",
                "crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M ro");
        ok_edit("a=1 b a=2", REPLACE, "a=2=3", "a=1 b a=3");
        ok_edit("a=1 b a=1", REPLACE, "a=1=3", "a=3 b a=3");
        ok_edit("a=1", REPLACE, "a=3", "a=3");
        ok_edit("a=1 b a=1", REPLACE, "a=3", "a=3 b a=3");
        ok_edit("quiet x", REPLACE, "quiet=1", "quiet=1 x");
        ok_edit("a b", REPLACE, "a=", "a= b");
        ok_edit("a= b", REPLACE, "a==z", "a=z b");
        ok_edit("vfio-pci.ids=a", REPLACE, "vfio_pci.ids=a=b", "vfio-pci.ids=b");
        ok_edit("root=UUID=a", REPLACE, "root=\"UUID=a\"=\"UUID=b\"", "root=UUID=b");
        ok_edit("root=UUID=a", REPLACE, "root=\"UUID=b\"", "root=UUID=b");
        ok_edit("dyndbg=x", REPLACE, "dyndbg=x=\"module vfio_pci +p\"", "dyndbg=\"module vfio_pci +p\"");
        ok_edit("a=1 -- a=1", REPLACE, "a=1=2", "a=2 -- a=1");
        no_change("a=1", REPLACE, "a=1=1");
        no_change("a=1", REPLACE, "a=1");
        fails("root=UUID=a", REPLACE, "root=UUID=b", -ENOENT); /* OLD "UUID", NEW "b" */
        fails("a=1", REPLACE, "a=5=3", -ENOENT);
        fails("b=1", REPLACE, "a=3", -ENOENT);
        fails("a=1 a=2", REPLACE, "a=3", -ENOTUNIQ);
        fails("a=1 a", REPLACE, "a=3", -ENOTUNIQ);
        fails("a", REPLACE, "a", -EINVAL);
        fails("a=1", REPLACE, "=1", -EINVAL);
        fails("a=1", REPLACE, "a=1=\"x", -EINVAL);
        fails("a=1", REPLACE, "a=1=x\"y\"", -EINVAL);
        fails("a=1", REPLACE, "a=1=x y", -EINVAL);
        fails("a=1", REPLACE, "\"a=1=2\"", -EINVAL);
        fails("initrd root=/r", REPLACE, "initrd=/x", -EINVAL);
        fails("BOOT_IMAGE root=/r", REPLACE, "BOOT_IMAGE=/x", -EINVAL);
        fails("BOOT_IMAGE root=/r", REPLACE, "BOOT-IMAGE=/x", -EINVAL);
}

/* Noise is recomputed: what a re-read of the formatted line would say. */
static void test_noise(void) {
        _cleanup_(kcmdline_freep) KCmdline *c = NULL;
        bool changed = false;

        if (kcmdline_parse("root=/r initrd=/i", &c) < 0)
                abort();
        tap_check(kcmdline_get(c, "initrd") != NULL, "initrd= after root= is no noise");
        tap_check(kcmdline_delete(c, "root=/r", &changed) == 0 && changed, "delete root=");
        tap_check(c->n_args == 1 && c->args[0].noise && !kcmdline_get(c, "initrd"),
              "the initrd= left leading is noise now");
        tap_check(kcmdline_append(c, "quiet", NULL) == 0 && c->n_args == 2, "ret_changed may be NULL");
}

static void test_karg_parse(void) {
        _cleanup_(karg_done) KArg a = {}, b = {};

        tap_check(karg_parse(" \"rd.break=\" \n", &a) == 0 && streq(a.key, "rd.break") && streq_ptr(a.value, ""),
              "karg_parse: quoted empty value");
        tap_check(karg_parse("x y", &b) == -EINVAL && !b.key, "karg_parse: two arguments refused, *ret untouched");
        tap_check(karg_check_new(&a) == 0, "karg_check_new: rd.break= is plain");
}

int main(void) {
        test_append();
        test_append_if_missing();
        test_delete();
        test_delete_if_present();
        test_replace();
        test_noise();
        test_karg_parse();

        return tap_done();
}
