"""An aiosmtpd server for Postwire's interoperability tests.

usage: aiosmtpd_server.py PORT DIR CERT KEY

Listens on 127.0.0.1:PORT with STARTTLS (CERT, KEY) and AUTH PLAIN and
LOGIN for alice / secret (only after STARTTLS, aiosmtpd's default). Each
message accepted is written to DIR/N.eml as received (unstuffed) and its
envelope to DIR/N.json. Runs until interrupted.
"""
import json
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, out, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]


class Recorder:
    def __init__(self):
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        base = os.path.join(out, str(self.n))
        with open(base + ".json", "w") as f:
            json.dump({
                "from": envelope.mail_from,
                "to": envelope.rcpt_tos,
                "tls": session.ssl is not None,
                "auth": session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else "",
            }, f)
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 stored"


def authenticate(server, session, envelope, mechanism, auth_data):
    if isinstance(auth_data, LoginPassword) and auth_data.login == b"alice" and auth_data.password == b"secret":
        return AuthResult(success=True, auth_data=auth_data)
    return AuthResult(success=False, handled=False)


ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
controller = Controller(Recorder(), hostname="127.0.0.1", port=port, server_hostname="aiosmtpd.test.example",
                        tls_context=ctx, require_starttls=False, authenticator=authenticate,
                        auth_require_tls=True, decode_data=False)
controller.start()
print("ready", flush=True)
stop = threading.Event()
signal.signal(signal.SIGINT, lambda *a: stop.set())
signal.signal(signal.SIGTERM, lambda *a: stop.set())
stop.wait()
controller.stop()
