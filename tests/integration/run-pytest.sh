#!/bin/sh
# Runs the integration suite with pytest (from make check). Writes a JUnit
# report next to the build so the suite runner can count the cases.
# HOSTDEVD_PYTEST_SELECT, if set, is a pytest -k expression: only the
# matching tests run (the suite's distcheck, which only shows that the
# tests run from the tarball).
set -u
: "${HOSTDEVD_SRCDIR:?}" "${HOSTDEVD_BUILDDIR:?}" "${PYTHON:=python3}"
mkdir -p "$HOSTDEVD_BUILDDIR/tests/integration"
exec "$PYTHON" -m pytest -q -p no:cacheprovider \
        --junitxml="$HOSTDEVD_BUILDDIR/tests/integration/junit.xml" \
        -o junit_family=xunit2 \
        --basetemp="$HOSTDEVD_BUILDDIR/tests/integration/tmp" \
        ${PYTEST_ARGS:-} \
        ${HOSTDEVD_PYTEST_SELECT:+-k "$HOSTDEVD_PYTEST_SELECT"} \
        "$HOSTDEVD_SRCDIR/tests/integration" "$HOSTDEVD_SRCDIR/tests/fixtures"
