#!/bin/sh
# The whole test suite, as the README and CI run it, on Debian 12 as root:
# installs what the tests need, then builds twice from this tree — once with
# -Werror, once with AddressSanitizer and UndefinedBehaviorSanitizer — and
# runs `make check` (unit tests and the integration suite against fixture
# trees and real kernel snapshots) in both, every fuzz target briefly under
# libFuzzer (tests/fuzz/fuzz.sh, clang), a 5-minute soak against the
# sanitized build, the real-kernel tier (Debian's kernel under QEMU,
# `make check-vm`) once, the benchmarks briefly, and `make distcheck` once;
# then the Debian package is built, linted, installed
# and purged and the RPM spec built (tests/packaging), and the Ansible
# collection is checked and driven against real agents (tests/ansible).
# Ends with the line "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

started=$(date +%s)
stage() { # a stage's heading, with the minutes and seconds since the start
        t=$(($(date +%s) - started))
        printf '=== %s  [%d:%02d]\n' "$1" $((t / 60)) $((t % 60))
}

if [ "${HOSTDEVD_SKIP_DEPS:-0}" != 1 ]; then
        packaging/install-deps.sh --test || exit 1
fi
./autogen.sh >/dev/null 2>&1 || { echo "autogen.sh failed"; exit 1; }

passed=0
failed=0
skipped=0
count() { # $1: build dir; adds its unit (TAP) and integration (JUnit) results
        p=$(cat "$1"/tests/unit/*.trs "$1"/tests/fuzz/*.trs 2>/dev/null | grep -c '^:test-result: PASS') || true
        f=$(cat "$1"/tests/unit/*.trs "$1"/tests/fuzz/*.trs 2>/dev/null | grep -c -E '^:test-result: (FAIL|ERROR|XPASS)') || true
        passed=$((passed + p))
        failed=$((failed + f))
        count_junit "$1/tests/integration/junit.xml"
}

count_junit() { # $1: a JUnit report; a missing one counts as a failure
        if [ ! -f "$1" ]; then
                failed=$((failed + 1))
                echo "no test results in $1"
                return
        fi
        set -- $(/usr/bin/python3 - "$1" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
t = sum(int(s.get("tests", 0)) for s in suites)
bad = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
skip = sum(int(s.get("skipped", 0)) for s in suites)
print(t - bad - skip, bad, skip)
PY
)
        passed=$((passed + $1))
        failed=$((failed + $2))
        skipped=$((skipped + $3))
}

variant() { # $1: name, then configure options
        name=$1
        shift
        dir="$top/build-$name"
        rm -rf "$dir"
        mkdir -p "$dir"
        stage "$name: configure $*"
        if ! (cd "$dir" && ../configure --enable-werror "$@" >configure.out 2>&1); then
                tail -n 30 "$dir/configure.out"
                failed=$((failed + 1))
                return
        fi
        stage "$name: build"
        if ! make -C "$dir" -j2 >"$dir/build.out" 2>&1; then
                tail -n 40 "$dir/build.out"
                failed=$((failed + 1))
                return
        fi
        stage "$name: make check"
        make -C "$dir" -j2 check >"$dir/check.out" 2>&1
        grep -a -E '^(PASS|FAIL|ERROR|XPASS|SKIP):' "$dir/check.out" | grep -v '^PASS' || true
        grep -a -E '^# (TOTAL|PASS|FAIL|ERROR)' "$dir/check.out" || true
        if grep -a -q '^FAIL: tests/integration' "$dir/check.out"; then
                grep -a -E '^(FAILED|ERROR) ' "$dir/tests/integration/run-pytest.log" | head -n 40
        fi
        count "$dir"
}

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

variant plain
variant sanitize --enable-asan --enable-ubsan

# Every fuzz target under libFuzzer (ASan, UBSan) for 15 seconds, two at a
# time: one pass per target that ran clean, one failure per target that
# found something (the reproducer is left under build-fuzz/fuzz-work). The
# long run is in the README (Tests, Fuzzing).
stage "fuzzing, briefly: tests/fuzz/fuzz.sh --time 15 --jobs 2"
rm -rf "$top/build-fuzz"
mkdir -p "$top/build-fuzz"
tests/fuzz/fuzz.sh --time 15 --jobs 2 --build-dir "$top/build-fuzz" >"$top/build-fuzz/fuzz.out" 2>&1
fuzz_summary=$(grep -a '^fuzz.sh: [0-9]* targets clean, [0-9]* with findings' "$top/build-fuzz/fuzz.out")
if [ -n "$fuzz_summary" ]; then
        sed -n '/^target /,$p' "$top/build-fuzz/fuzz.out"
        set -- $fuzz_summary
        passed=$((passed + $2))
        failed=$((failed + $5))
else
        tail -n 30 "$top/build-fuzz/fuzz.out" # it did not build or run
        failed=$((failed + 1))
fi

# The soak (tests/soak/soak.py) for 5 minutes against the sanitized build:
# mixed reads and changes, event streams, reloads and restarts, then no
# sanitizer report, flat RSS, descriptors back. One pass or one failure.
stage "soak: 5 minutes under ASan+UBSan"
if /usr/bin/python3 "$top/tests/soak/soak.py" --binary "$top/build-sanitize/hostdevd" --duration 300 \
        >"$top/build-sanitize/soak.out" 2>&1; then
        passed=$((passed + 1))
        grep -a -E '^(soak| +(run|errors))' "$top/build-sanitize/soak.out"
else
        failed=$((failed + 1))
        echo "soak.py failed:"
        tail -n 40 "$top/build-sanitize/soak.out"
fi

stage "real-kernel tier: make check-vm"
make -C "$top/build-plain" check-vm >"$top/build-plain/check-vm.out" 2>&1
grep -a -E '(PASSED|FAILED|ERROR|SKIPPED)' "$top/build-plain/check-vm.out" | grep -a -v PASSED | head -n 40 || true
grep -a -E '^=+ .*(passed|failed|skipped).* =+$' "$top/build-plain/check-vm.out" || tail -n 20 "$top/build-plain/check-vm.out"
count_junit "$top/build-plain/tests/vm/junit.xml"

# The benchmarks print figures and never fail on speed; here they run
# briefly, to show they still work (full runs: README, Benchmark).
stage "benchmarks, briefly"
for b in bench bench-events; do
        if /usr/bin/python3 "$top/tests/bench/$b.py" --binary "$top/build-plain/hostdevd" --quick \
                >"$top/build-plain/$b.out" 2>&1; then
                passed=$((passed + 1))
                grep -a -v -E '^(tree|functions|installing)' "$top/build-plain/$b.out" | tail -n 12
        else
                failed=$((failed + 1))
                echo "$b.py --quick failed:"
                tail -n 30 "$top/build-plain/$b.out"
        fi
done

stage "packages: .deb built, linted, installed, run, purged; RPM spec built"
HOSTDEVD_SRCDIR="$top" HOSTDEVD_BUILDDIR="$top/build-plain" PYTHONDONTWRITEBYTECODE=1 \
        /usr/bin/python3 -m pytest -q -p no:cacheprovider -rs "$top/tests/packaging" \
        --junitxml="$top/build-plain/packaging-junit.xml" >"$top/build-plain/packaging.out" 2>&1
tail -n 15 "$top/build-plain/packaging.out"
count_junit "$top/build-plain/packaging-junit.xml"

stage "Ansible collection: ansible-test sanity and units, playbooks against real agents"
HOSTDEVD="$top/build-plain/hostdevd" HOSTDEVD_SRCDIR="$top" HOSTDEVD_BUILDDIR="$top/build-plain" \
        PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -m pytest -q -p no:cacheprovider -rs "$top/tests/ansible" \
        --junitxml="$top/build-plain/ansible-junit.xml" >"$top/build-plain/ansible.out" 2>&1
tail -n 15 "$top/build-plain/ansible.out"
count_junit "$top/build-plain/ansible-junit.xml"

# distcheck builds and checks the tarball. The integration suite has run
# twice above, so from the tarball only a part of it runs, to show that it
# runs there; that the tarball holds every file of the tree (and so all
# the tests and their data) is checked against git instead.
stage "distcheck"
if HOSTDEVD_PYTEST_SELECT="test_http or test_snapshots or test_mksysfs" \
        make -C "$top/build-plain" distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror \
        >"$top/build-plain/distcheck.out" 2>&1; then
        passed=$((passed + 1))
        echo "distcheck: ok"
else
        failed=$((failed + 1))
        tail -n 40 "$top/build-plain/distcheck.out"
fi
if [ -d "$top/.git" ] && command -v git >/dev/null; then
        tarball=$(ls -t "$top"/build-plain/hostdevd-*.tar.gz 2>/dev/null | head -n 1)
        missing=$( (git -C "$top" ls-files | grep -v -E '(^\.ci/|(^|/)\.gitignore$)' | sort >"$top/build-plain/tree.list"
                    tar tzf "$tarball" | sed 's,^[^/]*/,,' | sort | comm -23 "$top/build-plain/tree.list" -) 2>&1)
        if [ -n "$tarball" ] && [ -z "$missing" ]; then
                passed=$((passed + 1))
                echo "dist: every file of the tree is in $(basename "$tarball")"
        else
                failed=$((failed + 1))
                echo "dist: not in the tarball (add them to EXTRA_DIST or a _SOURCES list):"
                echo "${missing:-no tarball}" | head -n 40
        fi
fi

stage "done"
[ "$skipped" -gt 0 ] && echo "($skipped skipped: see the reasons above)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
