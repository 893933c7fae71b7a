"""A throw-away PKI for the TLS tests, made with GnuTLS's certtool: a CA, a
server certificate for 127.0.0.1 and localhost, client certificates per role,
and the bad ones (another CA, expired, not valid yet, a server-only purpose).
ECDSA keys, so a whole PKI takes a fraction of a second."""
import shutil
import subprocess
from pathlib import Path

CERTTOOL = shutil.which("certtool") or "certtool"
ORG = "hostdevd-test"


class Pki:
    def __init__(self, directory):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)

    def _run(self, *args):
        subprocess.run([CERTTOOL, *args], check=True, capture_output=True)

    def _key(self, name):
        key = self.dir / f"{name}.key"
        self._run("--generate-privkey", "--key-type=ecdsa", "--outfile", str(key))
        key.chmod(0o600)  # the agent refuses a key its group or others can read
        return key

    def _template(self, name, lines):
        t = self.dir / f"{name}.tmpl"
        t.write_text("\n".join(lines) + "\n")
        return t

    def ca(self, name, cn):
        """A self-signed CA: returns (certificate, key)."""
        key = self._key(name)
        tmpl = self._template(name, [f'cn = "{cn}"', f'organization = "{ORG}"', "ca", "cert_signing_key",
                                     "expiration_days = 30"])
        cert = self.dir / f"{name}.pem"
        self._run("--generate-self-signed", "--load-privkey", str(key), "--template", str(tmpl),
                  "--outfile", str(cert))
        return cert, key

    def issue(self, name, ca, cn, purpose="tls_www_client", dates=("expiration_days = 30",), extra=()):
        """A certificate signed by ca (certificate, key): returns (certificate, key)."""
        key = self._key(name)
        tmpl = self._template(name, [f'cn = "{cn}"', f'organization = "{ORG}"', purpose, "signing_key",
                                     "encryption_key", *dates, *extra])
        cert = self.dir / f"{name}.pem"
        self._run("--generate-certificate", "--load-privkey", str(key), "--load-ca-certificate", str(ca[0]),
                  "--load-ca-privkey", str(ca[1]), "--template", str(tmpl), "--outfile", str(cert))
        return cert, key


def subject(cn):
    """A test certificate's subject as the agent prints it (RFC 4514)."""
    return f"CN={cn},O={ORG}"


def make_pki(directory):
    """Everything the TLS tests use, by name -> (certificate, key)."""
    pki = Pki(directory)
    ca = pki.ca("ca", "hostdevd test CA")
    other = pki.ca("other-ca", "another CA")
    certs = {
        "ca": ca,
        "other-ca": other,
        "server": pki.issue("server", ca, "localhost", purpose="tls_www_server",
                            extra=('dns_name = "localhost"', 'ip_address = "127.0.0.1"')),
        "expired": pki.issue("expired", ca, "expired",
                             dates=('activation_date = "2020-01-01 00:00:00"',
                                    'expiration_date = "2021-01-01 00:00:00"')),
        "future": pki.issue("future", ca, "future",
                            dates=('activation_date = "2099-01-01 00:00:00"',
                                   'expiration_date = "2100-01-01 00:00:00"')),
        # The reader's subject, from a CA the agent does not trust.
        "wrong-ca": pki.issue("wrong-ca", other, "reader"),
        # Signed by the right CA, but for servers only (extended key usage).
        "server-only": pki.issue("server-only", ca, "server-only", purpose="tls_www_server"),
    }
    for cn in ("reader", "operator", "admin", "engine", "unmapped"):
        certs[cn] = pki.issue(cn, ca, cn)
    return certs
