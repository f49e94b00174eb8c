package compat

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/postwire/postwire/sasl"
	"github.com/postwire/postwire/smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// eximRoot is where install-peers.sh unpacks Debian's exim4-daemon-heavy,
// exim4-base and exim4-config (apt-get download, dpkg-deb -x): Exim
// conflicts with Postfix as a package, but runs beside it from there with
// a configuration of its own (-C).
const eximRoot = "/opt/postwire-exim"

// eximUID is the uid of the Debian-exim user Exim is built to run as,
// which exists only in the passwd file bind-mounted over /etc/passwd in
// Exim's own mount namespace.
const eximUID = "4242"

// eximPeer is a private Exim daemon on addr: mail for test.example goes
// to a Maildir (dir/mail/catchall), mail for ours.example is relayed to
// our server over STARTTLS with AUTH PLAIN and CHUNKING, mail for
// plain.example to the same server in clear (so that a tap can read the
// commands), and mail for lmtp.example is handed to our LMTP server. It offers PIPELINING,
// CHUNKING, STARTTLS, AUTH PLAIN LOGIN CRAM-MD5 (alice/secret), DSN and
// SMTPUTF8, and refuses the local part "unknown".
type eximPeer struct {
	addr, dir string
}

// startExim starts Exim with relays to ours (SMTP over TLS), plain (SMTP
// in clear) and lmtp (LMTP), our servers' addresses, and stops it by PID when the test ends.
func startExim(t *testing.T, ours, plain, lmtp string) *eximPeer {
	t.Helper()
	exim := filepath.Join(eximRoot, "usr/sbin/exim4")
	if _, err := os.Stat(exim); err != nil {
		t.Skipf("Exim is not unpacked in %s (run internal/compat/install-peers.sh): %v", eximRoot, err)
	}
	if os.Geteuid() != 0 {
		t.Skip("Exim runs in a mount namespace of its own (unshare -m), which needs root")
	}
	unshare := needBinary(t, "unshare")

	dir := t.TempDir()
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o755))
	require.NoError(t, os.Chmod(dir, 0o755))
	for _, sub := range []string{"spool", "log", "mail", "sasl"} {
		require.NoError(t, os.Mkdir(filepath.Join(dir, sub), 0o755))
	}
	writeEximIdentity(t, dir)
	writeEximSASL(t, dir)
	for _, f := range [][2]string{{shared.certFile, "cert.pem"}, {shared.keyFile, "key.pem"}} {
		b, err := os.ReadFile(f[0])
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f[1]), b, 0o600))
	}
	out, err := exec.Command("chown", "-R", eximUID+":"+eximUID, filepath.Join(dir, "spool"), filepath.Join(dir, "log"),
		filepath.Join(dir, "mail"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")).CombinedOutput()
	require.NoError(t, err, string(out))

	addr := freeAddr(t)
	conf := filepath.Join(dir, "exim.conf")
	require.NoError(t, os.WriteFile(conf, []byte(eximConfig(dir, exim, portOf(addr), ours, plain, lmtp)), 0o644))
	script := fmt.Sprintf("mount --bind %[1]s/passwd /etc/passwd && mount --bind %[1]s/group /etc/group && "+
		"mount --bind %[1]s/sasl /usr/lib/sasl2 && exec %[2]s -C %[3]s -bdf -odi", dir, exim, conf)
	startPeer(t, addr, exec.Command(unshare, "-m", "sh", "-c", script))
	return &eximPeer{addr: addr, dir: dir}
}

// writeEximIdentity writes the passwd and group files Exim's namespace
// sees: the machine's, plus Debian-exim.
func writeEximIdentity(t *testing.T, dir string) {
	t.Helper()
	for _, f := range []struct{ name, line string }{
		{"passwd", "Debian-exim:x:" + eximUID + ":" + eximUID + ":Exim:/nonexistent:/usr/sbin/nologin\n"},
		{"group", "Debian-exim:x:" + eximUID + ":\n"},
	} {
		b, err := os.ReadFile("/etc/" + f.name)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f.name), append(b, f.line...), 0o644))
	}
}

// writeEximSASL makes the Cyrus SASL configuration of Exim's cyrus_sasl
// authenticators (exim.conf, after the application name Exim gives Cyrus,
// in a folder bind-mounted over /usr/lib/sasl2, one of the places Cyrus
// reads it from) and its sasldb with alice/secret
// in the realm exim.test.example, for SCRAM-SHA-1 and SCRAM-SHA-256.
func writeEximSASL(t *testing.T, dir string) {
	t.Helper()
	saslpasswd := needBinary(t, "saslpasswd2")
	db := filepath.Join(dir, "sasl", "sasldb2")
	conf := "pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: " + db + "\nmech_list: SCRAM-SHA-256 SCRAM-SHA-1\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sasl", "exim.conf"), []byte(conf), 0o644))
	runPeer(t, []byte("secret"), saslpasswd, "-p", "-f", db, "-u", "exim.test.example", "-c", "alice")
	require.NoError(t, os.Chmod(db, 0o644))
}

// eximConfig is the whole configuration of the private Exim.
func eximConfig(dir, exim, port, ours, plain, lmtp string) string {
	return fmt.Sprintf(`exim_path = %[2]s
keep_environment =
exim_user = Debian-exim
exim_group = Debian-exim
primary_hostname = exim.test.example
spool_directory = %[1]s/spool
log_file_path = %[1]s/log/%%slog
pid_file_path = %[1]s/exim.pid
daemon_smtp_ports = %[3]s
local_interfaces = 127.0.0.1
domainlist local_domains = test.example
domainlist relay_domains = ours.example : plain.example : lmtp.example
tls_advertise_hosts = *
tls_certificate = %[1]s/cert.pem
tls_privatekey = %[1]s/key.pem
chunking_advertise_hosts = *
pipelining_advertise_hosts = *
dsn_advertise_hosts = *
smtputf8_advertise_hosts = *
auth_advertise_hosts = *
acl_smtp_rcpt = acl_check_rcpt
message_size_limit = 50M
host_lookup =
rfc1413_hosts =

begin acl
acl_check_rcpt:
  deny local_parts = unknown
  accept domains = +local_domains : +relay_domains
  deny

begin routers
to_ours:
  driver = manualroute
  domains = ours.example
  route_list = * %[4]s
  self = send
  transport = ours_smtp
to_plain:
  driver = manualroute
  domains = plain.example
  route_list = * %[7]s
  self = send
  transport = ours_plain
to_lmtp:
  driver = manualroute
  domains = lmtp.example
  route_list = * %[5]s
  self = send
  transport = ours_lmtp
local:
  driver = accept
  domains = +local_domains
  transport = maildir

begin transports
maildir:
  driver = appendfile
  directory = %[1]s/mail/catchall
  maildir_format
  delivery_date_add = false
  envelope_to_add = false
  return_path_add = false
  user = Debian-exim
  group = Debian-exim
  mode = 0644
ours_smtp:
  driver = smtp
  allow_localhost
  helo_data = exim.test.example
  hosts_require_tls = *
  tls_verify_certificates = %[1]s/cert.pem
  tls_verify_hosts = *
  tls_verify_cert_hostnames = :
  hosts_require_auth = *
  hosts_try_chunking = *
ours_plain:
  driver = smtp
  allow_localhost
  helo_data = exim.test.example
  hosts_avoid_tls = *
  hosts_try_chunking = *
ours_lmtp:
  driver = smtp
  protocol = lmtp
  port = %[6]s
  allow_localhost
  helo_data = exim.test.example

begin authenticators
plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = ${if and{{eq{$auth2}{alice}}{eq{$auth3}{secret}}}}
  server_set_id = $auth2
  client_send = ^alice^secret
login:
  driver = plaintext
  public_name = LOGIN
  server_prompts = Username:: : Password::
  server_condition = ${if and{{eq{$auth1}{alice}}{eq{$auth2}{secret}}}}
  server_set_id = $auth1
cram:
  driver = cram_md5
  public_name = CRAM-MD5
  server_secret = ${if eq{$auth1}{alice}{secret}fail}
  server_set_id = $auth1
scram256:
  driver = cyrus_sasl
  public_name = SCRAM-SHA-256
  server_mech = SCRAM-SHA-256
  server_realm = exim.test.example
  server_service = smtp
  server_set_id = $auth1
scram1:
  driver = cyrus_sasl
  public_name = SCRAM-SHA-1
  server_mech = SCRAM-SHA-1
  server_realm = exim.test.example
  server_service = smtp
  server_set_id = $auth1
`, dir, exim, port, strings.Replace(ours, ":", "::", 1), strings.Replace(lmtp, ":", "::", 1), portOf(lmtp),
		strings.Replace(plain, ":", "::", 1))
}

// stored waits for the Maildir file whose header has "Subject: subject"
// and returns it; Exim stores LF line ends under its Received field.
func (e *eximPeer) stored(t *testing.T, subject string) []byte {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(e.dir, "mail", "catchall", "new", "*"))
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, []byte("\nSubject: "+subject+"\n")) {
				return b
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message %q in Exim's Maildir after 15 s; its log:\n%s", subject, e.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// log returns Exim's main log.
func (e *eximPeer) log() string {
	b, _ := os.ReadFile(filepath.Join(e.dir, "log", "mainlog"))
	return string(b)
}

// relayed waits for the message with "Subject: subject" that Exim relayed
// to recv.
func (e *eximPeer) relayed(t *testing.T, recv *receiver, subject string) received {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		for _, r := range recv.rec.all() {
			if bytes.Contains(r.Data, []byte("\r\nSubject: "+subject+"\r\n")) {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Exim did not relay %q in 15 s; its log:\n%s", subject, e.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// requireStoredByExim checks that Exim stored msg byte for byte (LF line
// ends) under its own header fields, and returns that header.
func (e *eximPeer) requireStoredByExim(t *testing.T, subject string, msg []byte) string {
	t.Helper()
	got := e.stored(t, subject)
	want := toLF(msg)
	require.True(t, bytes.HasSuffix(got, want), "stored message does not end with the sent one:\n%s", got)
	requireSameBody(t, bodyOf(want), bodyOf(got))
	return string(got[:len(got)-len(want)])
}

// TestClientToExim sends with our client into Exim's smtpd: PIPELINING
// and CHUNKING checked on the wire, STARTTLS, AUTH PLAIN, LOGIN and
// CRAM-MD5, DSN parameters, SMTPUTF8 addresses and a refused recipient;
// each stored message is the sent one byte for byte.
func TestClientToExim(t *testing.T) {
	e := startExim(t, "127.0.0.1:1", "127.0.0.1:1", "127.0.0.1:1")
	notify := []smtp.DSNNotify{smtp.DSNNotifySuccess, smtp.DSNNotifyFailure}
	cases := []struct {
		name     string
		spec     sendSpec
		tap      bool
		pipeline []string // the commands that must leave in one write
		header   string   // in Exim's Received field
		refused  int      // recipients refused
	}{
		{name: "pipelining", spec: sendSpec{opts: smtp.DialOptions{DisableChunking: true},
			env: smtp.Envelope{To: []string{"bob@test.example", "carol@test.example", "unknown@test.example"}}},
			tap: true, pipeline: []string{"MAIL FROM:", "RCPT TO:<bob@", "RCPT TO:<carol@", "RCPT TO:<unknown@", "DATA\r\n"},
			header: "with esmtp ", refused: 1},
		{name: "chunking", tap: true, pipeline: []string{"MAIL FROM:", "RCPT TO:", "BDAT "}, header: "with esmtp "},
		{name: "starttls", spec: sendSpec{startTLS: true}, header: "with esmtps "},
		{name: "auth-plain", spec: sendSpec{startTLS: true, auth: sasl.NewPlainClient("", "alice", "secret")}, header: "with esmtpsa "},
		{name: "auth-login", spec: sendSpec{startTLS: true, auth: sasl.NewLoginClient("alice", "secret")}, header: "with esmtpsa "},
		{name: "auth-cram-md5", spec: sendSpec{startTLS: true, auth: sasl.NewCramMD5Client("alice", "secret")}, header: "with esmtpsa "},
		{name: "dsn", spec: sendSpec{env: smtp.Envelope{
			MailOptions: &smtp.MailOptions{EnvelopeID: "exim-dsn-1", Return: smtp.DSNReturnHeaders},
			To:          []string{"bob@test.example"},
			RcptOptions: []*smtp.RcptOptions{{Notify: notify, OriginalRecipientType: "rfc822", OriginalRecipient: "bob@test.example"}},
		}}, header: "with esmtp "},
		{name: "smtputf8", spec: sendSpec{env: smtp.Envelope{From: "älice@client.example", To: []string{"bøb@test.example"}}},
			header: "with utf8esmtp "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := e.addr
			var wire *tap
			if tc.tap {
				wire = newTap(t, e.addr)
				addr = wire.Addr
			}
			subject := "exim " + tc.name
			msg := testMessage(subject, true)
			res, trace, err := clientSend(t, addr, tc.spec, msg)
			if tc.refused > 0 {
				var partial *smtp.RecipientsError
				require.ErrorAs(t, err, &partial, "not every recipient took it: %s", trace)
				assert.Equal(t, len(res.Recipients)-tc.refused, partial.Accepted)
			} else {
				require.NoError(t, err, trace)
			}
			assert.Equal(t, len(res.Recipients)-tc.refused, res.Accepted(), trace)
			head := e.requireStoredByExim(t, subject, msg)
			assert.Contains(t, head, tc.header, trace)
			if wire != nil {
				assert.True(t, wire.pipelined(tc.pipeline...), "not pipelined:\n%s", wire.transcript())
			}
			if tc.name == "dsn" {
				assert.Contains(t, trace, "RET=HDRS ENVID=exim-dsn-1")
				assert.Contains(t, trace, "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@test.example")
			}
		})
	}
}

// TestClientScramToExim authenticates our client with SCRAM against
// Exim's cyrus_sasl authenticators (Cyrus SASL 2.1.28, sasldb), which
// offer SCRAM-SHA-256 and SCRAM-SHA-1 without -PLUS: over STARTTLS
// Client.ScramClient picks SCRAM-SHA-256 and, having a channel binding the
// server does not offer to use, sends the gs2 flag "y" (RFC 5802 section
// 6), which Cyrus accepts; in clear SCRAM-SHA-1 sends "n". A wrong
// password is refused 535, and the server's signature is checked.
func TestClientScramToExim(t *testing.T) {
	e := startExim(t, "127.0.0.1:1", "127.0.0.1:1", "127.0.0.1:1")
	for _, tc := range []struct {
		name     string
		startTLS bool
		mech     string
		password string
		code     int
		flag     string // the gs2 header the client sends
		logged   string // Exim's log of the authentication
	}{
		{"starttls-sha256-y", true, sasl.ScramSHA256, "secret", 0, "y,,", "A=scram256:alice@exim.test.example"},
		{"clear-sha1-n", false, sasl.ScramSHA1, "secret", 0, "n,,", "P=esmtpa A=scram1:alice@exim.test.example"},
		{"wrong-password", true, sasl.ScramSHA256, "wrong", 535, "y,,", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var trace lockedBuffer
			opts := &smtp.DialOptions{LocalName: "client.example", TLSConfig: clientTLS(), Trace: &trace, AllowInsecureAuth: true}
			dial := smtp.Dial
			if tc.startTLS {
				dial = smtp.DialStartTLS
			}
			c, err := dial(ctx, e.addr, opts)
			require.NoError(t, err)
			defer c.Close()
			newClient := func() sasl.Client {
				if tc.startTLS {
					a, err := c.ScramClient(ctx, "alice", tc.password, "")
					require.NoError(t, err)
					return a
				}
				require.NoError(t, c.Hello(ctx, ""))
				return sasl.NewScramClient(tc.mech, "alice", tc.password, "", sasl.ChannelBinding{})
			}
			mech, ir, err := newClient().Start() // what Auth will send, under the trace's mask
			require.NoError(t, err)
			assert.Equal(t, tc.mech, mech)
			assert.True(t, strings.HasPrefix(string(ir), tc.flag), "%q", ir)
			err = c.Auth(ctx, newClient())
			if tc.code != 0 {
				var se *smtp.Error
				require.ErrorAs(t, err, &se, trace.String())
				assert.Equal(t, tc.code, se.Code)
				return
			}
			require.NoError(t, err, "%s\n%s", trace.String(), e.log())
			subject := "exim scram " + tc.name
			msg := testMessage(subject, false)
			_, err = c.Send(ctx, &smtp.Envelope{From: "alice@client.example", To: []string{"bob@test.example"}}, bytes.NewReader(msg))
			require.NoError(t, err, trace.String())
			require.NoError(t, c.Quit(ctx))
			head := e.requireStoredByExim(t, subject, msg)
			received := "with esmtpa "
			if tc.startTLS {
				received = "with esmtpsa "
			}
			assert.Contains(t, head, received, "Exim saw the authentication")
			assert.Contains(t, e.log(), tc.logged)
		})
	}
}

// TestEximToServer relays through Exim into our server: our client hands
// Exim a message for ours.example, and Exim's smtp transport delivers it
// to our server over STARTTLS (certificate verified), with AUTH PLAIN,
// and in clear (where a tap sees MAIL, RCPT and BDAT leave in one write);
// SMTPUTF8 and DSN parameters travel on.
// For lmtp.example Exim speaks LMTP to our LMTP server. What our server
// stored is the message byte for byte under Exim's Received field.
func TestEximToServer(t *testing.T) {
	ours := startOurs(t, recvConfig{startTLS: true, users: testUsers, dsn: true})
	lmtp := startOurs(t, recvConfig{lmtp: true})
	wire := newTap(t, ours.addr)
	e := startExim(t, ours.addr, wire.Addr, lmtp.addr)
	notify := []smtp.DSNNotify{smtp.DSNNotifySuccess}
	cases := []struct {
		name    string
		recv    *receiver
		env     smtp.Envelope
		tls     bool
		checked func(t *testing.T, m received)
	}{
		{name: "smtp-starttls-auth", recv: ours, env: smtp.Envelope{To: []string{"bob@ours.example"}}, tls: true,
			checked: func(t *testing.T, m received) { assert.Equal(t, "alice", m.AuthUser) }},
		{name: "smtputf8", recv: ours, env: smtp.Envelope{From: "älice@client.example", To: []string{"bøb@ours.example"}}, tls: true,
			checked: func(t *testing.T, m received) { assert.True(t, m.UTF8, "SMTPUTF8 on MAIL") }},
		{name: "dsn", recv: ours, env: smtp.Envelope{
			MailOptions: &smtp.MailOptions{EnvelopeID: "exim-relay-1", Return: smtp.DSNReturnFull},
			To:          []string{"bob@ours.example"},
			RcptOptions: []*smtp.RcptOptions{{Notify: notify, OriginalRecipientType: "rfc822", OriginalRecipient: "bob@ours.example"}},
		}, tls: true, checked: func(t *testing.T, m received) {
			assert.Equal(t, "exim-relay-1", m.EnvID)
			assert.Equal(t, "FULL", m.Ret)
			assert.Equal(t, []string{"SUCCESS"}, m.Notify)
			require.Len(t, m.ORCPT, 1)
			assert.Equal(t, "rfc822;bob@ours.example", strings.ToLower(m.ORCPT[0]), "Exim upper-cases the type")
		}},
		{name: "pipelined-bdat", recv: ours, env: smtp.Envelope{To: []string{"bob@plain.example", "carol@plain.example"}},
			checked: func(t *testing.T, m received) {
				assert.True(t, wire.pipelined("MAIL FROM:", "RCPT TO:<bob@", "RCPT TO:<carol@", "BDAT "),
					"Exim did not pipeline BDAT:\n%s", wire.transcript())
			}},
		{name: "lmtp", recv: lmtp, env: smtp.Envelope{To: []string{"bob@lmtp.example", "carol@lmtp.example"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			subject := "exim relay " + tc.name
			msg := testMessage(subject, true)
			if tc.env.From == "" {
				tc.env.From = "alice@client.example"
			}
			_, trace, err := clientSend(t, e.addr, sendSpec{env: tc.env}, msg)
			require.NoError(t, err, trace)
			m := e.relayed(t, tc.recv, subject)
			require.True(t, bytes.HasSuffix(m.Data, msg), "relayed message does not end with the sent one:\n%s", m.Data)
			assert.True(t, bytes.HasPrefix(m.Data, []byte("Received: from ")), "Exim's trace field first")
			requireSameBody(t, msg, m.Data[len(m.Data)-len(msg):])
			assert.Equal(t, tc.env.From, m.From)
			assert.Equal(t, tc.env.To, m.To)
			assert.Equal(t, tc.tls, m.TLS)
			if tc.checked != nil {
				tc.checked(t, m)
			}
		})
	}
}
