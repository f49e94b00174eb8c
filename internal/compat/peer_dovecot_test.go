package compat

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"testing"

	"github.com/postwire/postwire/smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dovecotLMTP is a private Dovecot instance serving LMTP (RFC 2033) on
// addr, delivering to Maildirs under dir: bob@test.example has room,
// carol@test.example a 1 KiB quota, so that a message is saved for one
// and refused (552 5.2.2) for the other after the same DATA, and any other
// recipient is unknown (550 5.1.1 at RCPT).
type dovecotLMTP struct {
	addr, dir string
}

// startDovecotLMTP starts Dovecot's master in the foreground with its own
// configuration (base_dir, state and log in a temporary directory) and
// stops it by PID when the test ends.
func startDovecotLMTP(t *testing.T) *dovecotLMTP {
	t.Helper()
	dovecot := needBinary(t, "dovecot")
	if _, err := os.Stat("/usr/lib/dovecot/lmtp"); err != nil {
		t.Skipf("Dovecot's LMTP server (Debian's dovecot-lmtpd) is not installed (run internal/compat/install-peers.sh): %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("a Dovecot instance needs root (it switches to the dovecot user)")
	}
	u, err := user.Lookup("dovecot")
	if err != nil {
		t.Skipf("no dovecot user: %v", err)
	}
	dir := t.TempDir()
	// Dovecot's delivery process runs as the dovecot user: it must reach
	// the Maildirs.
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o755))
	require.NoError(t, os.Chmod(dir, 0o755))
	mail := filepath.Join(dir, "mail")
	require.NoError(t, os.Mkdir(mail, 0o755))
	require.NoError(t, exec.Command("chown", "dovecot:dovecot", mail).Run())
	for _, sub := range []string{"run", "state"} {
		require.NoError(t, os.Mkdir(filepath.Join(dir, sub), 0o755))
	}
	users := fmt.Sprintf("bob:{PLAIN}x:%[1]s:%[2]s::%[3]s/bob\ncarol:{PLAIN}x:%[1]s:%[2]s::%[3]s/carol::userdb_quota_rule=*:storage=1K\n",
		u.Uid, u.Gid, mail)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "users"), []byte(users), 0o644))

	addr := freeAddr(t)
	conf := fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
instance_name = postwire-compat
protocols = lmtp
listen = 127.0.0.1
ssl = no
first_valid_uid = 1
mail_location = maildir:~/Maildir
mail_save_crlf = yes
mail_plugins = quota
auth_username_format = %%Ln
passdb {
  driver = passwd-file
  args = %[1]s/users
}
userdb {
  driver = passwd-file
  args = %[1]s/users
}
plugin {
  quota = maildir:User quota
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = %[2]s
  }
}
`, dir, portOf(addr))
	file := filepath.Join(dir, "dovecot.conf")
	require.NoError(t, os.WriteFile(file, []byte(conf), 0o644))
	startPeer(t, addr, exec.Command(dovecot, "-F", "-c", file))
	return &dovecotLMTP{addr: addr, dir: dir}
}

// stored returns the messages saved in user's new/ folder.
func (d *dovecotLMTP) stored(t *testing.T, user string) [][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(d.dir, "mail", user, "Maildir", "new", "*"))
	require.NoError(t, err)
	var msgs [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		msgs = append(msgs, b)
	}
	return msgs
}

// TestClientLMTPToDovecot sends with our LMTP client into Dovecot's LMTP
// server, with DATA and with BDAT (Dovecot offers CHUNKING), to a
// recipient with room, one over quota and one unknown: the per-recipient
// statuses (RFC 2033 section 4.2) reach SendResult, and the message saved
// for bob is the sent one byte for byte under Dovecot's trace fields
// (Return-Path, Received; mail_save_crlf keeps the CRLF line ends).
func TestClientLMTPToDovecot(t *testing.T) {
	d := startDovecotLMTP(t)
	for i, chunking := range []bool{false, true} {
		t.Run(map[bool]string{false: "data", true: "bdat"}[chunking], func(t *testing.T) {
			msg := testMessage(fmt.Sprintf("dovecot lmtp %d", i), true)
			spec := sendSpec{
				opts: smtp.DialOptions{LMTP: true, DisableChunking: !chunking},
				env:  smtp.Envelope{To: []string{"bob@test.example", "carol@test.example", "nobody@test.example"}},
			}
			res, trace, err := clientSend(t, d.addr, spec, msg)
			var partial *smtp.RecipientsError
			require.ErrorAs(t, err, &partial, "delivered to one recipient of three: %s", trace)
			assert.Equal(t, 1, partial.Accepted)
			require.Len(t, res.Recipients, 3)
			assert.NoError(t, res.Recipients[0].Err, trace)
			assertSMTPCode(t, res.Recipients[1].Err, 552, trace)
			assertSMTPCode(t, res.Recipients[2].Err, 550, trace)
			if chunking {
				assert.Contains(t, trace, "C: BDAT ")
			} else {
				assert.Contains(t, trace, "C: DATA\r\n")
			}

			saved := d.stored(t, "bob")
			require.Len(t, saved, i+1)
			var got []byte
			for _, m := range saved {
				if bytes.HasSuffix(m, msg) {
					got = m
				}
			}
			require.NotNil(t, got, "no message saved for bob ends with the one sent:\n%s", trace)
			assert.True(t, bytes.HasPrefix(got, []byte("Return-Path: <alice@client.example>\r\n")), "%.200s", got)
			requireSameBody(t, msg, got[len(got)-len(msg):])
			assert.Empty(t, d.stored(t, "carol"), "nothing saved over quota")
		})
	}
}

// assertSMTPCode checks that err is an *smtp.Error with code.
func assertSMTPCode(t *testing.T, err error, code int, msgAndArgs ...any) {
	t.Helper()
	var se *smtp.Error
	if assert.True(t, errors.As(err, &se), "%v is not an *smtp.Error", err) {
		assert.Equal(t, code, se.Code, msgAndArgs...)
	}
}
