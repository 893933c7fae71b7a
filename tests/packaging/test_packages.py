"""The packages, built and installed on this machine: the Debian package is
built from the `make dist` tarball, checked by lintian, installed, looked
over (files, conffile, tokens file, state directory, enabled unit, manual
pages), its unit verified and scored by systemd-analyze, its daemon started
from the installed files and asked over HTTP, and it is purged, leaving
nothing behind; and in a Debian 12 container booted by systemd-nspawn the
unit itself is started, asked and reloaded by a real systemd. The RPM spec is parsed and built (with Debian's rpm and
libraries: the nearest check this machine allows) and its file list read.

Run as root on Debian 12:
    HOSTDEVD_SRCDIR=/path/to/src HOSTDEVD_BUILDDIR=/path/to/configured/build \
        python3 -m pytest -q -p no:cacheprovider tests/packaging
It installs the Debian packages it needs. It refuses to run (skips) where
hostdevd is already installed from a package, or where /etc/hostdevd or
/var/lib/hostdevd already exist: those are someone's. With
HOSTDEVD_PACKAGING_SET_ASIDE=1 it moves such directories aside for its run
(to DIR.set-aside-PID) and puts them back afterwards.
"""
import gzip
import hashlib
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

SRCDIR = Path(os.environ.get("HOSTDEVD_SRCDIR", Path(__file__).resolve().parent.parent.parent))
BUILDDIR = Path(os.environ["HOSTDEVD_BUILDDIR"]) if os.environ.get("HOSTDEVD_BUILDDIR") else None
MAX_EXPOSURE = 3.0

# What the test needs: building (debhelper pulls dh-autoreconf), checking,
# the package's own build and run dependencies, and the RPM tools.
NEEDED_PACKAGES = [
    "build-essential", "debhelper", "dh-autoreconf", "dpkg-dev", "autoconf", "automake", "pkg-config",
    "libmicrohttpd-dev", "libjson-c-dev", "libpci-dev", "libsystemd-dev", "libgnutls28-dev", "zlib1g-dev",
    "libzstd-dev", "lintian", "systemd", "man-db", "curl", "pci.ids", "kmod", "rpm",
]
PRIVATE_DIRS = [Path("/etc/hostdevd"), Path("/var/lib/hostdevd")]
UNIT_LINK = Path("/etc/systemd/system/multi-user.target.wants/hostdevd.service")
UNIT = Path("/lib/systemd/system/hostdevd.service")

# Stand-ins for systemd-rpm-macros, which Debian does not have: the same
# scriptlets as systemd's macros.systemd, calling systemd-update-helper.
RPM_SYSTEMD_MACROS = """\
%_unitdir /usr/lib/systemd/system
%systemd_requires Requires(post): systemd\\
Requires(preun): systemd\\
Requires(postun): systemd
%systemd_post() if [ $1 -eq 1 ] && [ -x /usr/lib/systemd/systemd-update-helper ]; then /usr/lib/systemd/systemd-update-helper install-system-units %{?*} || :; fi
%systemd_preun() if [ $1 -eq 0 ] && [ -x /usr/lib/systemd/systemd-update-helper ]; then /usr/lib/systemd/systemd-update-helper remove-system-units %{?*} || :; fi
%systemd_postun_with_restart() if [ $1 -ge 1 ] && [ -x /usr/lib/systemd/systemd-update-helper ]; then /usr/lib/systemd/systemd-update-helper mark-restart-system-units %{?*} || :; fi
"""


def run(cmd, check=True, **kw):
    """Runs cmd, output captured as text; fails the test with it if check."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if check and p.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited {p.returncode}:\n{p.stdout[-6000:]}")
    return p


def apt_get(*args):
    """apt-get, waiting while someone else holds the dpkg lock."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for _ in range(60):
        p = run(["apt-get", "-o", "DPkg::Lock::Timeout=60", *args], check=False, env=env)
        if p.returncode == 0 or "lock" not in p.stdout.lower():
            break
        time.sleep(5)
    if p.returncode != 0:
        pytest.fail(f"apt-get {' '.join(args)} exited {p.returncode}:\n{p.stdout[-6000:]}")
    return p


def dpkg_status(package):
    p = run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}", package], check=False)
    return p.stdout.strip() if p.returncode == 0 else ""


def token_lines(text):
    return [l for l in text.splitlines() if l.strip() and not l.lstrip().startswith("#")]


@pytest.fixture(scope="module")
def tools():
    if os.geteuid() != 0:
        pytest.skip("needs root: it builds, installs and purges a package")
    if not Path("/etc/debian_version").exists():
        pytest.skip("needs Debian (dpkg, apt)")
    if BUILDDIR is None or not (BUILDDIR / "Makefile").exists():
        pytest.skip("HOSTDEVD_BUILDDIR must name a configured build directory (make dist runs there)")
    missing = [p for p in NEEDED_PACKAGES if not dpkg_status(p).startswith("ii")]
    if missing:
        apt_get("update", "-qq")
        apt_get("install", "-y", "-qq", "--no-install-recommends", *missing)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("packages")


@pytest.fixture(scope="module")
def tarball(tools, work):
    """The `make dist` tarball, copied out of the build directory."""
    before = time.time()
    for _ in range(3):  # the tree may be mid-edit for a moment
        p = run(["make", "-C", str(BUILDDIR), "dist"], check=False)
        if p.returncode == 0:
            break
        time.sleep(10)
    assert p.returncode == 0, f"make dist failed:\n{p.stdout[-6000:]}"
    made = [t for t in BUILDDIR.glob("hostdevd-*.tar.gz") if t.stat().st_mtime >= before - 1]
    assert len(made) == 1, f"make dist made {made}"
    return Path(shutil.copy(made[0], work))


@pytest.fixture(scope="module")
def deb(tarball, work):
    """dpkg-buildpackage -b at the top of the unpacked tarball, debian/ copied from packaging/."""
    top = work / "deb"
    top.mkdir()
    with tarfile.open(tarball) as t:
        t.extractall(top)
    src = next(top.iterdir())
    assert (src / "packaging" / "debian" / "control").exists(), "make dist left out packaging/debian"
    shutil.copytree(src / "packaging" / "debian", src / "debian")
    run(["dpkg-checkbuilddeps"], cwd=src)
    env = dict(os.environ, DEB_BUILD_OPTIONS="parallel=2 nocheck")
    run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, env=env)
    debs = [d for d in top.glob("hostdevd_*.deb")]
    changes = list(top.glob("hostdevd_*.changes"))
    assert len(debs) == 1 and len(changes) == 1, f"built {list(top.iterdir())}"
    return debs[0], changes[0]


def test_lintian(deb, record_testsuite_property):
    """No error; warnings are recorded (the package overrides the two it cannot fix)."""
    p = run(["lintian", "--tag-display-limit", "0", "--display-info", "--show-overrides", str(deb[0]), str(deb[1])],
            check=False)
    tags = [l for l in p.stdout.splitlines() if re.match(r"^[EWIXOP]: ", l)]
    errors = [l for l in tags if l.startswith("E: ")]
    warnings = [l for l in tags if l.startswith("W: ")]
    record_testsuite_property("lintian_warnings", "\n".join(warnings) or "none")
    print("lintian:", *(tags or ["no tags"]), sep="\n  ")
    assert not errors, "lintian errors:\n" + "\n".join(errors)
    assert p.returncode == 0, f"lintian exited {p.returncode}:\n{p.stdout}"


def test_deb_contents(deb):
    """The package's own view of itself, before it is installed."""
    listing = run(["dpkg-deb", "-c", str(deb[0])]).stdout
    for path in ["./usr/sbin/hostdevd", "./lib/systemd/system/hostdevd.service", "./etc/hostdevd/hostdevd.conf",
                 "./usr/share/man/man8/hostdevd.8.gz", "./usr/share/man/man5/hostdevd.conf.5.gz"]:
        assert re.search(rf" {re.escape(path)}$", listing, re.M), f"{path} is not in the package:\n{listing}"
    # The tokens are the administrator's: made by postinst, never shipped.
    assert "etc/hostdevd/tokens" not in listing
    depends = run(["dpkg-deb", "-f", str(deb[0]), "Depends"]).stdout
    assert re.search(r"\bpci\.ids\b|\bpciutils\b", depends), depends
    assert "libmicrohttpd" in depends, depends  # ${shlibs:Depends} was filled


@pytest.fixture(scope="module")
def installed(deb, work):
    """The package installed with apt-get; purged again at the end if a test left it."""
    status = dpkg_status("hostdevd")
    if status and not status.startswith(("un", "pn")):
        pytest.skip(f"hostdevd is already known to dpkg here ({status!r}): not purging someone's install")
    present = [d for d in PRIVATE_DIRS if d.exists() or d.is_symlink()]
    set_aside = {}
    if present and os.environ.get("HOSTDEVD_PACKAGING_SET_ASIDE") != "1":
        pytest.skip(f"{', '.join(map(str, present))} already exist(s) here and would be replaced and purged; "
                    "set HOSTDEVD_PACKAGING_SET_ASIDE=1 to move them aside for the test")
    for d in present:
        set_aside[d] = d.with_name(f"{d.name}.set-aside-{os.getpid()}")
        d.rename(set_aside[d])
    try:
        apt_get("install", "-y", "--no-install-recommends", str(deb[0]))
        yield
    finally:
        if dpkg_status("hostdevd").startswith(("ii", "rc", "iU", "iF")):
            run(["dpkg", "--purge", "hostdevd"], check=False)
        for d, aside in set_aside.items():
            if d.exists():
                shutil.rmtree(d)  # the package's leftovers: the original is aside
            aside.rename(d)


def test_installed_files(installed, deb):
    assert dpkg_status("hostdevd") == "ii"
    binary = Path("/usr/sbin/hostdevd")
    assert binary.is_file() and os.access(binary, os.X_OK)
    version = re.match(r"hostdevd_([^-_]+)", deb[0].name).group(1)
    assert run([str(binary), "--version"]).stdout.strip() == f"hostdevd {version}"

    assert UNIT.is_file()
    assert UNIT_LINK.is_symlink(), "the unit is not enabled"
    assert Path(os.path.realpath(UNIT_LINK)) == Path(os.path.realpath(UNIT))
    assert "ExecStart=/usr/sbin/hostdevd" in UNIT.read_text()

    conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}", "hostdevd"]).stdout
    assert re.search(r"^\s*/etc/hostdevd/hostdevd\.conf [0-9a-f]{32}$", conffiles, re.M), conffiles
    assert "/etc/hostdevd/tokens" not in conffiles, "the tokens file must not be a conffile"
    conf = Path("/etc/hostdevd/hostdevd.conf").read_text()
    assert "metrics_listen" in conf and not token_lines(conf), "the installed configuration sets keys"

    tokens = Path("/etc/hostdevd/tokens")
    st = tokens.lstat()
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    assert st.st_uid == 0 and st.st_gid == 0
    text = tokens.read_text()
    assert not token_lines(text), f"the tokens file holds a token:\n{text}"
    assert "hostdevd --new-token=ROLE:NAME" in text
    assert run(["dpkg", "-S", str(tokens)], check=False).returncode != 0, "dpkg owns the tokens file"

    state = Path("/var/lib/hostdevd")
    st = state.lstat()
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700, oct(st.st_mode)

    for page, title in [("/usr/share/man/man8/hostdevd.8.gz", ".TH HOSTDEVD 8"),
                        ("/usr/share/man/man5/hostdevd.conf.5.gz", ".TH HOSTDEVD.CONF 5")]:
        assert title in gzip.open(page, "rt").read(), page
    for section, name in [("8", "hostdevd"), ("5", "hostdevd.conf")]:
        p = subprocess.run(["man", "--warnings", section, name], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True, env=dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat"))
        assert p.returncode == 0 and not p.stderr, f"man {section} {name}: {p.stderr}"


def test_unit_verify(installed):
    p = run(["systemd-analyze", "verify", str(UNIT)], check=False)
    complaints = [l for l in p.stdout.splitlines() if "hostdevd" in l]
    assert p.returncode == 0 and not complaints, p.stdout


def test_unit_exposure(installed, record_testsuite_property):
    p = run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(UNIT)])
    m = re.search(r"Overall exposure level for hostdevd\.service: (\d+\.\d)", p.stdout)
    assert m, p.stdout
    record_testsuite_property("exposure", m.group(1))
    assert float(m.group(1)) <= MAX_EXPOSURE, p.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def curl_status(url, token=None):
    cmd = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", url]
    if token:
        cmd[1:1] = ["-H", f"Authorization: Bearer {token}"]
    return int(run(cmd).stdout)


def test_daemon_from_package(installed, work):
    """The installed binary with the installed configuration and a token made
    the way the tokens file tells the administrator to."""
    p = subprocess.run(["/usr/sbin/hostdevd", "--new-token=reader:test"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    assert p.returncode == 0, p.stderr
    token = p.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", token), p.stdout
    assert "/etc/hostdevd/tokens" in p.stderr, p.stderr
    tokens = Path("/etc/hostdevd/tokens")
    lines = token_lines(tokens.read_text())
    assert lines == [f"reader {hashlib.sha256(token.encode()).hexdigest()} test"], lines
    assert stat.S_IMODE(tokens.stat().st_mode) == 0o600

    port = free_port()
    log = open(work / "daemon.log", "w+")
    daemon = subprocess.Popen(["/usr/sbin/hostdevd", "--listen", f"127.0.0.1:{port}"], stdout=log,
                              stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 30
        while time.time() < deadline and daemon.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        log.seek(0)
        assert daemon.poll() is None, f"the daemon exited {daemon.returncode}:\n{log.read()}"
        base = f"http://127.0.0.1:{port}"
        for path in ["/v1/host", "/v1/capabilities"]:
            assert curl_status(base + path, token) == 200, path
            assert curl_status(base + path) == 401, path
            assert curl_status(base + path, "0" * 64) == 401, path
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=20) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    log.seek(0)
    text = log.read()
    assert "Loaded 1 tokens from /etc/hostdevd/tokens" in text, text
    assert "State in /var/lib/hostdevd" in text, text


def test_purge_leaves_nothing(installed):
    apt_get("purge", "-y", "hostdevd")
    assert not dpkg_status("hostdevd").startswith(("ii", "rc"))
    assert run(["dpkg", "-L", "hostdevd"], check=False).returncode != 0
    for path in [*PRIVATE_DIRS, UNIT_LINK, UNIT, Path("/usr/sbin/hostdevd")]:
        assert not (path.exists() or path.is_symlink()), f"{path} is left after the purge"


@pytest.fixture(scope="module")
def rpm_macros(tools, work):
    path = work / "macros.systemd"
    path.write_text(RPM_SYSTEMD_MACROS)
    return path


def rpm_defines(topdir, macros):
    return ["--load", str(macros), "--define", f"_topdir {topdir}", "--define", "debug_package %{nil}"]


def test_rpm_spec_parses(tarball, rpm_macros, work):
    spec = SRCDIR / "packaging" / "rpm" / "hostdevd.spec"
    p = run(["rpmspec", "-P", *rpm_defines(work / "rpm-parse", rpm_macros), str(spec)])
    text = p.stdout
    version = re.search(r"hostdevd-([0-9.]+)\.tar\.gz$", tarball.name).group(1)
    assert re.search(rf"^Version:\s+{re.escape(version)}$", text, re.M), "the spec's Version is not the tarball's"
    for needed in ["libmicrohttpd-devel", "json-c-devel", "pciutils-devel", "systemd-devel", "gnutls-devel",
                   "zlib-devel", "libzstd-devel", "systemd-rpm-macros"]:
        assert re.search(rf"^BuildRequires:\s+{re.escape(needed)}$", text, re.M), needed
    assert "systemd-update-helper install-system-units hostdevd.service" in text  # %systemd_post
    assert "mark-restart-system-units hostdevd.service" in text  # %systemd_postun_with_restart


def test_rpm_build(tarball, rpm_macros, work):
    top = work / "rpmbuild"
    (top / "SOURCES").mkdir(parents=True)
    shutil.copy(tarball, top / "SOURCES")
    spec = SRCDIR / "packaging" / "rpm" / "hostdevd.spec"
    run(["rpmbuild", "-bb", "--nodeps", "--nocheck", *rpm_defines(top, rpm_macros),
         "--define", "_smp_mflags -j2", str(spec)])
    rpms = [r for r in (top / "RPMS").rglob("hostdevd-[0-9]*.rpm")]
    assert len(rpms) == 1, rpms
    files = run(["rpm", "-qlp", str(rpms[0])]).stdout.split()
    for path in ["/usr/sbin/hostdevd", "/usr/lib/systemd/system/hostdevd.service", "/etc/hostdevd/hostdevd.conf",
                 "/etc/hostdevd/tokens", "/var/lib/hostdevd"]:
        assert path in files, f"{path} is not in {files}"
    assert any(re.fullmatch(r"/usr/share/man/man8/hostdevd\.8(\.gz)?", f) for f in files), files
    assert any(re.fullmatch(r"/usr/share/man/man5/hostdevd\.conf\.5(\.gz)?", f) for f in files), files
    attrs = run(["rpm", "-qp", "--qf", "[%{FILEFLAGS:fflags} %{FILEMODES:perms} %{FILENAMES}\n]",
                 str(rpms[0])]).stdout
    entries = {l.split()[-1]: l.split()[:-1] for l in attrs.splitlines() if l.strip()}
    flags = lambda path: entries[path][0] if len(entries[path]) == 2 else ""  # noqa: E731
    assert "c" in flags("/etc/hostdevd/hostdevd.conf") and "n" in flags("/etc/hostdevd/hostdevd.conf")
    assert "g" in flags("/etc/hostdevd/tokens"), entries["/etc/hostdevd/tokens"]
    assert entries["/etc/hostdevd/tokens"][-1] == "-rw-------"
    assert entries["/var/lib/hostdevd"][-1] == "drwx------"
    scripts = run(["rpm", "-qp", "--scripts", str(rpms[0])]).stdout
    assert "umask 077" in scripts and "--new-token=ROLE:NAME" in scripts, scripts


# ---- the unit under a real systemd ----------------------------------------
# This machine's PID 1 is not systemd, so the package's unit is started by
# the systemd of a Debian 12 container: debootstrap a minimal bookworm with
# systemd, install the .deb there, boot it with systemd-nspawn and let a
# oneshot unit start hostdevd.service, ask it over HTTP, add a token and
# `systemctl reload`, then power off. What a container cannot show (sysfs
# is read-only there, and device or IP filters may be inert in it) stays
# unproven by this test.

CHECK_SCRIPT = r"""#!/bin/sh
exec >/root/check.log 2>&1
systemctl start hostdevd.service
sleep 2
echo "active=$(systemctl is-active hostdevd.service)"
echo "result=$(systemctl show -p Result --value hostdevd.service)"
T=$(cat /root/token)
echo "host=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $T" http://127.0.0.1:8427/v1/host)"
echo "anonymous=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8427/v1/host)"
T2=$(hostdevd --new-token=reader:later)
echo "before_reload=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $T2" http://127.0.0.1:8427/v1/host)"
systemctl reload hostdevd.service && echo reload=ok
sleep 1
echo "after_reload=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $T2" http://127.0.0.1:8427/v1/host)"
curl -s -H "Authorization: Bearer $T" http://127.0.0.1:8427/v1/metrics | grep '^hostdevd_config_reloads_total'
echo "still_active=$(systemctl is-active hostdevd.service)"
journalctl -b -u hostdevd.service --no-pager -o cat | sed 's/^/journal: /'
systemctl poweroff
"""

CHECK_UNIT = """[Unit]
Description=Checks hostdevd.service from inside
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/root/check.sh
[Install]
WantedBy=multi-user.target
"""


@pytest.fixture(scope="module")
def container(tools, deb, work):
    for p in ("debootstrap", "systemd-container"):
        if not dpkg_status(p).startswith("ii"):
            apt_get("install", "-y", "-qq", "--no-install-recommends", p)
    root = work / "bookworm"
    p = run(["debootstrap", "--variant=minbase", "--include=systemd,systemd-sysv,dbus,curl,kmod,pci.ids,procps",
             "bookworm", str(root), "http://deb.debian.org/debian"], check=False)
    if p.returncode != 0:
        pytest.fail(f"debootstrap failed (the Debian mirror must be reachable):\n{p.stdout[-3000:]}")
    shutil.copy(deb[0], root / "root")
    run(["chroot", str(root), "apt-get", "install", "-y", "-qq", f"/root/{deb[0].name}"])
    token = subprocess.run(["chroot", str(root), "hostdevd", "--new-token=admin:container"], check=True,
                           stdout=subprocess.PIPE, text=True).stdout.strip()  # the log line goes to stderr
    (root / "root/token").write_text(token + "\n")
    (root / "root/check.sh").write_text(CHECK_SCRIPT)
    (root / "root/check.sh").chmod(0o755)
    (root / "etc/systemd/system/hostdevd-check.service").write_text(CHECK_UNIT)
    os.symlink("/etc/systemd/system/hostdevd-check.service",
               root / "etc/systemd/system/multi-user.target.wants/hostdevd-check.service")
    boot = run(["timeout", "300", "systemd-nspawn", "-q", "-D", str(root), "-b", "--private-network",
                "--register=no", "--keep-unit", "--console=pipe"], check=False, stdin=subprocess.DEVNULL)
    log = root / "root/check.log"
    assert log.exists(), f"the container's check did not run (nspawn exited {boot.returncode}):\n{boot.stdout[-3000:]}"
    return dict(line.split("=", 1) for line in log.read_text().splitlines() if "=" in line and " " not in
                line.split("=", 1)[0]), log.read_text()


def test_unit_runs_under_systemd(container):
    values, text = container
    assert values.get("active") == "active" and values.get("result") == "success", text
    assert values.get("host") == "200" and values.get("anonymous") == "401", text
    assert values.get("before_reload") == "401" and values.get("after_reload") == "200", text
    assert values.get("reload") == "ok" and values.get("still_active") == "active", text
    assert 'hostdevd_config_reloads_total{result="applied"} 1' in text, text
    assert "Reload: token 'later' (reader) added." in text, text
