"""The client side of test_scale_out.py, run inside the clients' network
namespace (`ip netns exec <ns> python3 scale_out_client.py <scenario> ...`).

Each scenario prints one JSON object per line on stdout (flushed, so the test can
act between lines) and exits 0; anything unexpected is an exception (exit 1).
Every socket has a timeout.
"""
import ftplib
import hashlib
import json
import socket
import ssl
import sys
import time

from clients import FULL_PASS, FULL_USER, ReusingFTP_TLS, tls_client_context

TIMEOUT = 10


def emit(**fields):
    print(json.dumps(fields), flush=True)


class ScaleOutFTP(ReusingFTP_TLS):
    # Data connections go straight to the host that the 227 names, not to the
    # balancer's address (ftplib's default replaces it with the control peer).
    trust_server_pasv_ipv4_address = True


def login(lb, port, source, version=None, context=None):
    f = ScaleOutFTP(context=context or tls_client_context(version), timeout=TIMEOUT,
                    source_address=(source, 0))
    banner = f.connect(lb, port)
    f.auth()
    f.login(FULL_USER, FULL_PASS)
    f.prot_p()
    return f, banner


def retr(f, name, pace=0.0):
    """sha256 of `name`, the final reply, whether the data TLS resumed and
    which host the 227 named. pace: seconds to sleep per 256 KiB read."""
    h = hashlib.sha256()
    f.voidcmd("TYPE I")
    host = ftplib.parse227(f.sendcmd("PASV"))[0]
    conn, _ = f.ntransfercmd("RETR " + name)
    with conn:
        unpaced = 0
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            h.update(chunk)
            unpaced += len(chunk)
            if pace and unpaced >= 256 << 10:
                time.sleep(pace)
                unpaced = 0
        if isinstance(conn, ssl.SSLSocket):
            try:
                conn.unwrap()
            except (OSError, ssl.SSLError):
                pass
    reply = f.voidresp()
    return {"sha": h.hexdigest(), "reply": reply[:3], "resumed": f.last_data_resumed,
            "data_host": host}


def scenario_download(lb, port, source, name, version, count):
    for _ in range(int(count)):
        f, banner = login(lb, port, source, version)
        emit(banner=banner, **retr(f, name))
        f.quit()


def scenario_slow_download(lb, port, source, name):
    f, banner = login(lb, port, source)
    emit(banner=banner, started=True)
    emit(banner=banner, **retr(f, name, pace=0.02))
    f.quit()


def scenario_foreign(lb, port, source, name, version):
    # OpenSSL resumes a session only within the context that made it: share one.
    ctx = tls_client_context(version)
    a, banner_a = login(lb, port, source, context=ctx)
    b, banner_b = login(lb, port, source, context=ctx)
    own = retr(b, name)
    a.data_session = b.sock.session  # A's data connection resumes B's session
    # On B's host the session is known and of another origin; on another
    # host it is unknown (no shared ticket keys) and the handshake is full.
    # Either way: no data, and 522.
    try:
        foreign_reply = retr(a, name)["reply"]
    except ftplib.error_perm as e:
        foreign_reply = str(e)[:3]
    except (ssl.SSLError, OSError):  # refused during the handshake
        try:
            foreign_reply = a.voidresp()[:3]
        except ftplib.error_perm as e:
            foreign_reply = str(e)[:3]
    a.data_session = None
    again = retr(a, name)
    emit(banner_a=banner_a, banner_b=banner_b, own=own["reply"], foreign=foreign_reply,
         again=again["reply"], again_sha=again["sha"])


def scenario_sessions(lb, port, source, count):
    """Opens `count` control connections from `source` at once; reports each
    first reply, then closes them all."""
    socks = []
    for _ in range(int(count)):
        s = socket.socket()
        s.settimeout(TIMEOUT)
        s.bind((source, 0))
        s.connect((lb, int(port)))
        line = b""
        while not line.endswith(b"\r\n"):
            chunk = s.recv(1)
            if not chunk:
                break
            line += chunk
        socks.append(s)
        emit(source=source, reply=line.decode(errors="replace").strip())
    for s in socks:
        s.close()


def scenario_bad_password(lb, port, source):
    f = ftplib.FTP_TLS(context=tls_client_context(), timeout=TIMEOUT, source_address=(source, 0))
    banner = f.connect(lb, int(port))
    f.auth()
    try:
        f.login(FULL_USER, "wrong-password")
        emit(banner=banner, reply="230")
    except ftplib.error_perm as e:
        emit(banner=banner, reply=str(e)[:3])
    f.close()


SCENARIOS = {
    "download": scenario_download,
    "slow_download": scenario_slow_download,
    "foreign": scenario_foreign,
    "sessions": scenario_sessions,
    "bad_password": scenario_bad_password,
}

if __name__ == "__main__":
    scenario, lb, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    SCENARIOS[scenario](lb, port, *sys.argv[4:])
