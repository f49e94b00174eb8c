"""Sends one message with Python's smtplib to 127.0.0.1:PORT.

usage: smtplib_send.py PORT MODE CAFILE MSGFILE SENTFILE

MODE is send_message (an EmailMessage through send_message; the octets it
put on the wire, as smtplib generates them, go to SENTFILE), starttls,
auth:MECH (STARTTLS then AUTH MECH as alice/secret) or smtputf8 (UTF-8
addresses with SMTPUTF8). Except for send_message, MSGFILE is sent as it is
and copied to SENTFILE.
"""
import email.generator
import email.message
import io
import smtplib
import ssl
import sys

port, mode, cafile, msgfile, sentfile = sys.argv[1:6]
with smtplib.SMTP("127.0.0.1", int(port), local_hostname="client.example", timeout=20) as s:
    s.set_debuglevel(1)
    if mode == "send_message":
        msg = email.message.EmailMessage()
        msg["From"] = "Alice <alice@client.example>"
        msg["To"] = "Bob <bob@test.example>"
        msg["Subject"] = "smtplib send_message"
        msg["Message-ID"] = "<smtplib.send_message@client.example>"
        msg.set_content("Hello Bob,\n.a line that starts with a dot\n.\n..\nbye\n")
        # What send_message writes: BytesGenerator with CRLF line ends.
        buf = io.BytesIO()
        email.generator.BytesGenerator(buf).flatten(msg, linesep="\r\n")
        with open(sentfile, "wb") as f:
            f.write(buf.getvalue())
        refused = s.send_message(msg)
    else:
        with open(msgfile, "rb") as f:
            raw = f.read()
        with open(sentfile, "wb") as f:
            f.write(raw)
        frm, to, opts = "alice@client.example", ["bob@test.example"], []
        if mode == "starttls" or mode.startswith("auth:"):
            s.starttls(context=ssl.create_default_context(cafile=cafile))
        if mode.startswith("auth:"):
            mech = mode[5:]
            s.user, s.password = "alice", "secret"
            s.ehlo()
            obj = {"PLAIN": s.auth_plain, "LOGIN": s.auth_login, "CRAM-MD5": s.auth_cram_md5}[mech]
            code, _ = s.auth(mech, obj, initial_response_ok=True)
            assert code == 235, code
        if mode == "smtputf8":
            frm, to, opts = "älice@clïent.example", ["bøb@tëst.example"], ["SMTPUTF8"]
        refused = s.sendmail(frm, to, raw, mail_options=opts)
    assert not refused, refused
