"""ansible-test on the hostdevd.passthrough collection, offline, with
Debian's ansible-core and tools (pycodestyle, pylint, yamllint,
python3-voluptuous, pytest's xdist, forked and mock plugins).

ansible-test runs the sanity tests that have requirements (pep8, pylint,
validate-modules, yamllint, import, runtime-metadata, ansible-doc) in
virtual environments it fills with pip from PyPI, which this machine cannot
reach. Each such environment is made here instead, where ansible-test looks
for it (it names the path when it finds none): with Python's venv, without
pip, marked as complete, seeing Debian's packages (--system-site-packages);
the import test's environments see only PyYAML (and Jinja2 for plugins),
linked in, so that it still proves a module imports nothing else. The
collection is copied to a temporary ansible_collections tree first, so
nothing is written into the sources, and HOME points there too.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from ansible_harness import COLLECTION, ensure_packages

PY = "%d.%d" % sys.version_info[:2]
DIST = Path("/usr/lib/python3/dist-packages")
# venv label -> the only packages the import test's environment may see
ISOLATED = {"sanity.import.module": ["yaml", "_yaml"],
            "sanity.import.plugin": ["yaml", "_yaml", "jinja2", "markupsafe"]}
NO_VENV = re.compile(r'Python [\d.]+ at "(.+)/bin/python" does not have pip available')


def make_venv(venv):
    """The environment ansible-test asked for, without pip."""
    label = venv.parent.parent.name
    isolated = ISOLATED.get(label)
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)]
                   + ([] if isolated is not None else ["--system-site-packages"]), check=True)
    if isolated:
        site = next(venv.glob("lib/python3*/site-packages"))
        for name in isolated:
            for p in DIST.glob(name + "*"):
                if p.name == name or p.name.startswith(name + "-") or p.name.startswith(name + "."):
                    (site / p.name).symlink_to(p)
    (venv / "meta.yaml.json").write_text("true")  # PyYAML has libyaml: Debian's is built with it
    (venv / "marker.txt").touch()  # complete: ansible-test runs no pip in it


class AnsibleTest:
    def __init__(self, tmp):
        ensure_packages()
        self.root = Path(tmp) / "ansible_collections" / "hostdevd" / "passthrough"
        shutil.copytree(COLLECTION, self.root, ignore=shutil.ignore_patterns("output", "__pycache__"))
        self.env = {**os.environ, "HOME": str(Path(tmp) / "home"), "LC_ALL": "C.UTF-8",
                    "PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "PYTHONDONTWRITEBYTECODE": "1"}
        self.env.pop("ANSIBLE_COLLECTIONS_PATH", None)

    def run(self, *args):
        """ansible-test ARGS, making each environment it finds missing (a test
        may need two: the import test's own and the controller's)."""
        for _ in range(4):
            done = subprocess.run(["/usr/bin/ansible-test", *args], cwd=self.root, env=self.env,
                                  capture_output=True, text=True, timeout=600)
            out = done.stdout + done.stderr
            m = NO_VENV.search(out)
            if not m:
                return done.returncode, out
            make_venv(Path(m.group(1)))
        raise AssertionError(f"ansible-test kept asking for environments:\n{out}")

    def sanity(self, test):
        return self.run("sanity", "--python", PY, "--test", test)


@pytest.fixture(scope="module")
def at(tmp_path_factory):
    return AnsibleTest(tmp_path_factory.mktemp("ansible-test"))


def sanity_tests():
    """Every sanity test this ansible-test has (listed in a copy: it writes tests/output)."""
    ensure_packages()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "ansible_collections" / "hostdevd" / "passthrough"
        shutil.copytree(COLLECTION, copy, ignore=shutil.ignore_patterns("output", "__pycache__"))
        out = subprocess.run(["/usr/bin/ansible-test", "sanity", "--list-tests"], cwd=copy, capture_output=True,
                             text=True, env={**os.environ, "LC_ALL": "C.UTF-8"}).stdout
    tests = out.split()
    assert {"compile", "validate-modules", "pep8", "pylint", "yamllint", "import", "shebang"} <= set(tests), out
    return tests


@pytest.mark.parametrize("test", sanity_tests())
def test_sanity(at, test):
    rc, out = at.sanity(test)
    assert f'Running sanity test "{test}"' in out, out
    assert rc == 0, out
    assert "Skipping" not in out, out


def test_units(at):
    rc, out = at.run("units", "--python", PY)
    assert rc == 0, out
    m = re.search(r"(\d+) passed", out)
    assert m and int(m.group(1)) >= 15, out


def module_source(name, examples, body):
    """A module of the collection: the header every module has, EXAMPLES, then body."""
    return f'''#!/usr/bin/python
# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: {name}
short_description: broken
description: [broken]
author: [hostdevd developers (!UNKNOWN)]
options: {{}}
"""
EXAMPLES = r"""{examples}"""
RETURN = r""" # """

{body}'''


def test_sanity_finds_what_is_wrong(at, tmp_path):
    """The environments made here run the real checks: a module with an
    undocumented option, a line too long and a broken YAML block, and one
    with an import the modules may not make, are refused by each test. (The
    bad import has a file of its own: validate-modules imports a module to
    read its options, and cannot when the import fails, as it does when
    python3-requests is not installed.)"""
    bad_import = at.root / "plugins" / "modules" / "broken_import.py"
    bad_import.write_text(module_source("broken_import", " # ", "import requests\n"))
    broken = at.root / "plugins" / "modules" / "broken.py"
    broken.write_text(module_source("broken", """
- name: x
  hostdevd.passthrough.broken: {a: b: c}
""", '''from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(colour=dict(type='str')))  # ''' + "x" * 160 + '''
    module.exit_json(changed=False)


if __name__ == '__main__':
    main()
'''))
    try:
        expected = {"validate-modules": "undocumented-parameter", "pep8": "E501", "import": "requests",
                    "yamllint": "EXAMPLES: syntax error"}
        for test, message in expected.items():
            rc, out = at.sanity(test)
            assert rc != 0 and message in out, f"{test} did not find {message!r}:\n{out}"
    finally:
        broken.unlink()
        bad_import.unlink()


def test_galaxy_build_and_install(tmp_path):
    """galaxy.yml builds a collection that installs, and whose modules and
    action group ansible-core finds where it was installed."""
    env = {**os.environ, "ANSIBLE_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"}
    subprocess.run(["/usr/bin/ansible-galaxy", "collection", "build", str(COLLECTION), "--output-path",
                    str(tmp_path)], env=env, check=True, capture_output=True, cwd=tmp_path)
    archive = tmp_path / "hostdevd-passthrough-0.1.0.tar.gz"
    assert archive.exists()
    subprocess.run(["/usr/bin/ansible-galaxy", "collection", "install", str(archive), "-p", str(tmp_path / "c")],
                   env=env, check=True, capture_output=True, cwd=tmp_path)
    installed = tmp_path / "c" / "ansible_collections" / "hostdevd" / "passthrough"
    assert (installed / "playbooks" / "enable-iommu.yml").exists() and not (installed / ".gitignore").exists()
    listing = subprocess.run(["/usr/bin/ansible-doc", "-l", "hostdevd.passthrough"], capture_output=True, text=True,
                             env={**env, "ANSIBLE_COLLECTIONS_PATH": str(tmp_path / "c")}, cwd=tmp_path).stdout
    assert sorted(line.split()[0] for line in listing.splitlines() if line.strip()) == [
        "hostdevd.passthrough.device_driver", "hostdevd.passthrough.host_info", "hostdevd.passthrough.kernel_cmdline",
        "hostdevd.passthrough.maintenance", "hostdevd.passthrough.reboot"], listing
    runtime = (installed / "meta" / "runtime.yml").read_text()
    assert "action_groups:" in runtime
