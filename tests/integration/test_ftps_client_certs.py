"""Optional client certificates (draft §4.1.2 note, §15.1.2): a verified
certificate naming the user stands in for PASS (232 to USER); a certificate
from another CA fails the handshake; a client without one logs in with PASS."""
import os
import shutil
import subprocess
import tempfile
import unittest

from clients import (FULL_PASS, FULL_USER, HOST, PROC_TIMEOUT, ReusingFTP_TLS, TlsServerCase,
                     sha256_bytes, tls_client_context, write_file)

CERTS = tempfile.mkdtemp(prefix="ringftpd-client-certs-")


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True,
                   timeout=PROC_TIMEOUT, stdin=subprocess.DEVNULL)


def make_ca(name):
    key, crt = os.path.join(CERTS, name + ".key"), os.path.join(CERTS, name + ".crt")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-days", "2", "-subj", "/CN=" + name, "-keyout", key, "-out", crt)
    return key, crt


def make_client(name, cn, ca):
    key, csr, crt = (os.path.join(CERTS, name + ext) for ext in (".key", ".csr", ".crt"))
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-subj", "/CN=" + cn, "-keyout", key, "-out", csr)
    ext = os.path.join(CERTS, name + ".ext")
    with open(ext, "w") as f:  # extensions make it X.509 v3, as TLS stacks expect
        f.write("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
    openssl("x509", "-req", "-in", csr, "-CA", ca[1], "-CAkey", ca[0], "-CAcreateserial",
            "-days", "2", "-extfile", ext, "-out", crt)
    return key, crt


TRUSTED_CA = make_ca("trusted-ca")
OTHER_CA = make_ca("other-ca")
ALICE = make_client("alice", FULL_USER, TRUSTED_CA)
MALLORY = make_client("mallory", FULL_USER, OTHER_CA)


def tearDownModule():
    shutil.rmtree(CERTS, ignore_errors=True)


class ClientCertificateTest(TlsServerCase):
    PORTS = "29900-29949"
    EXTRA = '[tls]\nclient_certs = "optional"\nclient_ca = "%s"\n' % TRUSTED_CA[1]

    def client(self, cert):
        ctx = tls_client_context()
        if cert is not None:
            ctx.load_cert_chain(cert[1], cert[0])
        f = ReusingFTP_TLS(context=ctx, timeout=10)
        self.addCleanup(lambda: f.close())
        f.connect(HOST, self.port)
        f.auth()
        return f

    def test_certificate_stands_in_for_pass(self):
        f = self.client(ALICE)
        self.assertTrue(f.sendcmd("USER " + FULL_USER).startswith("232"))
        f.prot_p()
        data = os.urandom(200000)
        write_file(self.path("cert.bin"), data)
        got = bytearray()
        f.retrbinary("RETR cert.bin", got.extend)
        self.assertEqual(sha256_bytes(bytes(got)), sha256_bytes(data))
        self.assertIn('client certificate for "%s"' % FULL_USER, self.srv.stderr())

    def test_certificate_for_another_name_still_needs_pass(self):
        f = self.client(ALICE)
        self.assertTrue(f.sendcmd("USER reader").startswith("331"))

    def test_no_certificate_logs_in_with_pass(self):
        f = self.client(None)
        self.assertTrue(f.sendcmd("USER " + FULL_USER).startswith("331"))
        self.assertTrue(f.sendcmd("PASS " + FULL_PASS).startswith("230"))

    def test_certificate_from_another_ca_fails_the_handshake(self):
        # Under TLS 1.3 the server judges the certificate after the client's
        # Finished: the refusal shows at the client's next read.
        with self.assertRaises((OSError, EOFError)):
            f = self.client(MALLORY)
            f.sendcmd("NOOP")
        self.assertIn("TLS handshake failed", self.srv.stderr())

    def test_curl_with_client_certificate(self):
        write_file(self.path("curl-cert.bin"), b"x" * 5000)
        r = subprocess.run(
            ["curl", "-s", "--max-time", "20", "--ssl-reqd", "-k", "--cert", ALICE[1], "--key",
             ALICE[0], "-u", "%s:%s" % (FULL_USER, FULL_PASS),
             "ftp://%s:%d/curl-cert.bin" % (HOST, self.port)],
            capture_output=True, timeout=PROC_TIMEOUT, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"x" * 5000)


if __name__ == "__main__":
    unittest.main()
