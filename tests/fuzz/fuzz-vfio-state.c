/* libFuzzer target for the binding records (host/vfio-state.h): whatever
 * parses has the fields the format requires (a group, a strict requested
 * address, members with strict addresses and a kind), formats to text that
 * parses to the same table, and formatting is then stable; a member line
 * before any binding, or a binding without group or requested, is refused. */

#include "basic/macro.h"
#include "basic/strv.h"
#include "fuzz.h"
#include "host/vfio-state.h"

static void assert_same(const BindingTable *a, const BindingTable *b) {
        FUZZ_ASSERT(a->n == b->n);
        for (size_t i = 0; i < a->n; i++) {
                const Binding *x = a->items + i, *y = b->items + i;

                FUZZ_ASSERT(x->group == y->group && streq(x->requested, y->requested));
                FUZZ_ASSERT(x->persistent == y->persistent && streq_ptr(x->boot_id, y->boot_id));
                FUZZ_ASSERT(x->created_usec == y->created_usec && x->n_members == y->n_members);
                for (size_t k = 0; k < x->n_members; k++) {
                        const BindingMember *m = x->members + k, *n = y->members + k;

                        FUZZ_ASSERT(streq(m->address, n->address) && m->bridge == n->bridge);
                        FUZZ_ASSERT(m->vendor_id == n->vendor_id && m->device_id == n->device_id);
                        FUZZ_ASSERT(streq_ptr(m->driver, n->driver) && streq_ptr(m->override, n->override));
                }
        }
}

static void format_parse(const BindingTable *t, char **ret_text, BindingTable *ret) {
        _cleanup_fclose_ FILE *f = NULL;
        size_t size;

        FUZZ_ASSERT(binding_table_format(t, ret_text, &size) == 0);
        f = fuzz_fmemopen(*ret_text, size);
        FUZZ_ASSERT(binding_table_load_file(f, ret) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *t1 = NULL, *t2 = NULL;
        BindingTable t = {}, u = {}, v = {};
        int r;

        if (size > 64 * 1024)
                return 0;
        f = fuzz_fmemopen(data, size);
        r = binding_table_load_file(f, &t);
        if (r < 0) {
                FUZZ_ASSERT(r == -EBADMSG);
                return 0;
        }
        for (size_t i = 0; i < t.n; i++) {
                const Binding *b = t.items + i;

                FUZZ_ASSERT(b->group >= 0 && pci_addr_is_valid(b->requested));
                for (size_t k = 0; k < b->n_members; k++)
                        FUZZ_ASSERT(pci_addr_is_valid(b->members[k].address));
        }
        format_parse(&t, &t1, &u);
        assert_same(&t, &u);
        format_parse(&u, &t2, &v);
        FUZZ_ASSERT(streq(t1, t2));
        binding_table_done(&t);
        binding_table_done(&u);
        binding_table_done(&v);
        return 0;
}
