"""limits.bandwidth_bytes_per_second is enforced (issue 11): per session, for
downloads and uploads, in clear (splice, and buffered ASCII) and under TLS.

Each transfer moves SIZE bytes at RATE bytes per second, so it cannot take
less than (SIZE - the bucket's 200 ms cap) / RATE however fast the machine is
(the session's bucket fills while it logs in): that
lower bound is what is asserted (a slow machine only takes longer). How close
to the rate the server stays is a benchmark's business
(bench/bandwidth_accuracy.py), not a timed test's. Every byte is checked.
"""
import io
import os
import time

from clients import ClearServerCase, TlsServerCase, read_file, sha256_bytes, write_file

RATE = 2_000_000  # bytes per second
SIZE = 3_000_000
CAP = RATE // 5  # what the bucket holds at most: 200 ms of the rate
MIN_SECONDS = (SIZE - CAP) / RATE  # 1.3 s
LIMITS = "[limits]\nbandwidth_bytes_per_second = %d\n" % RATE


class LimitedTransfers:
    """The same four checks for a clear and a TLS server (mixed in)."""

    def setUp(self):
        super().setUp()
        self.data = os.urandom(SIZE)
        self.digest = write_file(self.path("big.bin"), self.data)

    def timed(self, fn):
        start = time.monotonic()
        fn()
        return time.monotonic() - start

    def test_binary_download_is_held_to_the_rate(self):
        f = self.client()
        chunks = []
        took = self.timed(lambda: f.retrbinary("RETR big.bin", chunks.append))
        self.assertEqual(sha256_bytes(b"".join(chunks)), self.digest)
        self.assertGreaterEqual(took, MIN_SECONDS, "%d bytes at %d B/s" % (SIZE, RATE))

    def test_binary_upload_is_held_to_the_rate(self):
        f = self.client()
        took = self.timed(lambda: f.storbinary("STOR up.bin", io.BytesIO(self.data)))
        self.assertEqual(sha256_bytes(read_file(self.path("up.bin"))), self.digest)
        self.assertGreaterEqual(took, MIN_SECONDS)

    def test_ascii_download_is_held_to_the_rate(self):
        text = b"line of text\n" * (SIZE // 13)
        write_file(self.path("text.txt"), text)
        f = self.client()
        lines = []
        took = self.timed(lambda: f.retrlines("RETR text.txt", lines.append))
        self.assertEqual(len(lines), SIZE // 13)
        self.assertGreaterEqual(took, (len(text) - CAP) / RATE)

    def test_every_transfer_of_a_session_is_held(self):
        # Two transfers back to back on one session: the second is held too
        # (each may start with at most the bucket's cap).
        f = self.client()
        chunks = []
        half = SIZE // 2
        write_file(self.path("half.bin"), self.data[:half])
        took = self.timed(lambda: (f.retrbinary("RETR half.bin", chunks.append),
                                   f.retrbinary("RETR half.bin", chunks.append)))
        self.assertEqual(b"".join(chunks), self.data[:half] * 2)
        self.assertGreaterEqual(took, (SIZE - 2 * CAP) / RATE)


class ClearBandwidthTest(LimitedTransfers, ClearServerCase):
    PORTS = "32400-32449"
    EXTRA = LIMITS

    def client(self):
        return self.ftp()


class TlsBandwidthTest(LimitedTransfers, TlsServerCase):
    PORTS = "32450-32499"
    EXTRA = LIMITS

    def client(self):
        return self.ftps()


if __name__ == "__main__":
    import unittest
    unittest.main()
