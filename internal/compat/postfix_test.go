package compat

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// postfix is a private Postfix instance (PEERS.md): its own configuration,
// queue and log under dir, its master run in the foreground by us and
// stopped when the test ends.
type postfix struct {
	dir string // everything of the instance
	etc string // its config_directory
	log string // its maillog_file
	// launcher, when set, is the command that runs "postfix start-fg"
	// (given as its last arguments), e.g. to give the instance a mount
	// namespace of its own.
	launcher []string
}

// postfixBase is main.cf for every instance; %[1]s is the instance's
// directory.
const postfixBase = `compatibility_level = 3.6
queue_directory = %[1]s/spool
data_directory = %[1]s/lib
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = loopback-only
mynetworks = 127.0.0.0/8 [::1]/128
mydestination =
alias_maps =
alias_database =
maillog_file = %[1]s/maillog
maillog_file_prefixes = /var, /dev/stdout, %[1]s
smtp_tls_loglevel = 1
smtpd_tls_loglevel = 1
`

// postfixReceiver is main.cf for an instance that receives: virtual
// Maildir delivery of anything @test.example into vmail/catchall, STARTTLS,
// AUTH through a Cyrus sasldb (alice / secret); nobody@test.example is
// refused.
const postfixReceiver = `myhostname = mx.test.example
virtual_mailbox_domains = test.example
virtual_mailbox_base = %[1]s/vmail
virtual_mailbox_maps = static:catchall/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
virtual_mailbox_limit = 0
smtpd_tls_cert_file = %[1]s/etc/cert.pem
smtpd_tls_key_file = %[1]s/etc/key.pem
smtpd_tls_security_level = may
smtpd_sasl_auth_enable = yes
smtpd_sasl_local_domain = test.example
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions = check_recipient_access inline:{ nobody@test.example=REJECT }
`

// needPostfix skips the test when Postfix cannot be run here.
func needPostfix(t testing.TB) {
	t.Helper()
	needRoot(t)
	needBinary(t, "postfix")
	needBinary(t, "postconf")
	if _, err := os.Stat("/etc/postfix/master.cf.proto"); err != nil {
		t.Skip("Postfix's master.cf.proto is missing: ", err)
	}
}

// newPostfix builds and starts an instance with main.cf made of the base,
// then mainCF (both formatted with the instance's directory), and master.cf
// services added with "postconf -Me" (the default smtp/inet is removed).
func newPostfix(t testing.TB, mainCF string, services ...string) *postfix {
	t.Helper()
	return newPostfixLaunched(t, nil, mainCF, services...)
}

// newPostfixLaunched is newPostfix with the master run by launcher (see
// postfix.launcher); nil runs it directly.
func newPostfixLaunched(t testing.TB, launcher []string, mainCF string, services ...string) *postfix {
	t.Helper()
	needPostfix(t)
	// Not t.TempDir: Postfix's daemons run as the postfix user and must
	// reach the queue, and its sockets' paths must stay short.
	dir, err := os.MkdirTemp("", "pw-pf-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	p := &postfix{dir: dir, etc: filepath.Join(dir, "etc"), log: filepath.Join(dir, "maillog"), launcher: launcher}
	for _, d := range []string{"etc/sasl", "spool", "lib", "vmail"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	run := func(name string, args ...string) {
		out, err := runPeerErr(nil, name, args...)
		require.NoError(t, err, "%s %v: %s", name, args, out)
	}
	run("chown", "postfix", filepath.Join(dir, "lib"))
	run("chown", "65534:65534", filepath.Join(dir, "vmail"))
	run("cp", "/etc/postfix/master.cf.proto", filepath.Join(p.etc, "master.cf"))
	copyFile(t, shared.certFile, filepath.Join(p.etc, "cert.pem"), 0o644)
	copyFile(t, shared.keyFile, filepath.Join(p.etc, "key.pem"), 0o600)
	mainText := fmt.Sprintf(postfixBase+mainCF, dir)
	require.NoError(t, os.WriteFile(filepath.Join(p.etc, "main.cf"), []byte(mainText), 0o644))
	run("postconf", "-c", p.etc, "-M#", "smtp/inet")
	for _, s := range services {
		run("postconf", "-c", p.etc, "-Me", s)
	}
	run("postconf", "-c", p.etc, "-F", "*/*/chroot = n")
	if strings.Contains(mainCF, "smtpd_sasl_auth_enable = yes") {
		sasl := fmt.Sprintf("pwcheck_method: auxprop\nauxprop_plugin: sasldb\n"+
			"mech_list: PLAIN LOGIN CRAM-MD5\nsasldb_path: %s/sasl/sasldb2\n", p.etc)
		require.NoError(t, os.WriteFile(filepath.Join(p.etc, "sasl", "smtpd.conf"), []byte(sasl), 0o644))
		db := filepath.Join(p.etc, "sasl", "sasldb2")
		out, err := runPeerErr([]byte("secret"), "saslpasswd2", "-p", "-c", "-f", db, "-u", "test.example", "alice")
		require.NoError(t, err, out)
		run("chown", "root:postfix", db)
		run("chmod", "640", db)
	}
	run("postfix", "-c", p.etc, "check")
	p.start(t)
	return p
}

func copyFile(t testing.TB, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, b, mode))
}

// start runs the master in the foreground and arranges for "postfix stop"
// when the test ends, killing what is left by PID after a bound.
func (p *postfix) start(t testing.TB) {
	t.Helper()
	args := append(append([]string{}, p.launcher...), "postfix", "-c", p.etc, "start-fg")
	cmd := exec.Command(args[0], args[1:]...)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		runPeerErr(nil, "postfix", "-c", p.etc, "stop")
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			if pid := p.masterPID(); pid > 0 {
				if proc, err := os.FindProcess(pid); err == nil {
					proc.Kill()
				}
			}
			cmd.Process.Kill()
			<-done
		}
	})
	// The master writes its PID file once it runs.
	deadline := time.Now().Add(15 * time.Second)
	for p.masterPID() == 0 {
		select {
		case <-done:
			t.Fatalf("postfix start-fg exited:\n%s\n%s", out.String(), p.maillog())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("postfix master not running after 15 s:\n%s", p.maillog())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// masterPID is the PID in the master's PID file, 0 if none yet.
func (p *postfix) masterPID() int {
	b, err := os.ReadFile(filepath.Join(p.dir, "spool", "pid", "master.pid"))
	if err != nil {
		return 0
	}
	var pid int
	fmt.Sscan(strings.TrimSpace(string(b)), &pid)
	return pid
}

// maillog returns the instance's log so far.
func (p *postfix) maillog() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// waitLog waits until the log holds n lines containing want, failing
// early when it shows a delivery that was deferred or bounced.
func (p *postfix) waitLog(t testing.TB, want string, n int, timeout time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		log := p.maillog()
		if strings.Count(log, want) >= n {
			return log
		}
		if strings.Contains(log, "status=deferred") || strings.Contains(log, "status=bounced") {
			t.Fatalf("Postfix could not deliver:\n%s", log)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no %d× %q in Postfix's log after %v:\n%s", n, want, timeout, log)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// sendmail injects msg into the instance with its sendmail command.
func (p *postfix) sendmail(t testing.TB, msg []byte, from string, to ...string) {
	t.Helper()
	args := append([]string{"-C", p.etc, "-f", from, "-i", "--"}, to...)
	runPeer(t, msg, "sendmail", args...)
}

// maildir returns the messages delivered to vmail/catchall/new, waiting
// until there are n of them.
func (p *postfix) maildir(t testing.TB, n int, timeout time.Duration) [][]byte {
	t.Helper()
	deadline := time.Now().Add(timeout)
	dir := filepath.Join(p.dir, "vmail", "catchall", "new")
	for {
		entries, _ := os.ReadDir(dir)
		if len(entries) >= n {
			var msgs [][]byte
			for _, e := range entries {
				b, err := os.ReadFile(filepath.Join(dir, e.Name()))
				require.NoError(t, err)
				msgs = append(msgs, b)
			}
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d message(s) in the Maildir after %v, want %d:\n%s", len(entries), timeout, n, p.maillog())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
