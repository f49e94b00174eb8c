package compat

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/postwire/postwire/smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dovecot is a private Dovecot instance serving LMTP on loopback, with the
// mailboxes bob@test.example and carol@test.example in Maildirs under dir.
type dovecot struct {
	addr string
	dir  string
}

// startDovecot runs Dovecot in the foreground with a configuration of its
// own (no system files), and stops it by PID when the test ends.
func startDovecot(t *testing.T) *dovecot {
	t.Helper()
	needRoot(t)
	bin := needBinary(t, "dovecot")
	if _, err := os.Stat("/usr/lib/dovecot/lmtp"); err != nil {
		t.Skip("Dovecot's LMTP server is not installed (dovecot-lmtpd; run internal/compat/install-peers.sh): ", err)
	}
	// Not t.TempDir: Dovecot delivers as uid 65534, which must reach the
	// Maildirs.
	dir, err := os.MkdirTemp("", "pw-dc-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	for _, d := range []string{"run", "state", "mail"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	require.NoError(t, os.Chown(filepath.Join(dir, "mail"), 65534, 65534))
	users := ""
	for _, u := range []string{"bob", "carol"} {
		users += fmt.Sprintf("%s@test.example::65534:65534::%s/mail/%s::\n", u, dir, u)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "users"), []byte(users), 0o644))
	d := &dovecot{addr: freeAddr(t), dir: dir}
	conf := fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols = lmtp
listen = 127.0.0.1
ssl = no
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = %[1]s/users
}
userdb {
  driver = passwd-file
  args = %[1]s/users
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = %[2]s
  }
}
`, dir, portOf(d.addr))
	file := filepath.Join(dir, "dovecot.conf")
	require.NoError(t, os.WriteFile(file, []byte(conf), 0o644))
	startPeer(t, d.addr, exec.Command(bin, "-c", file, "-F"))
	return d
}

// messages returns what Dovecot stored in user's Maildir (new/).
func (d *dovecot) messages(t *testing.T, user string) [][]byte {
	t.Helper()
	dir := filepath.Join(d.dir, "mail", user, "Maildir", "new")
	entries, _ := os.ReadDir(dir)
	var msgs [][]byte
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		msgs = append(msgs, b)
	}
	return msgs
}

// TestDeploymentLMTPIntoDovecot is the README's LMTP delivery into Dovecot: our
// client in LMTP mode, with DATA and with BDAT (Dovecot offers CHUNKING),
// one reply per recipient. An unknown recipient is refused at RCPT; each
// known one gets its own 250 and the message in its Maildir, body byte for
// byte under the fields Dovecot adds.
func TestDeploymentLMTPIntoDovecot(t *testing.T) {
	d := startDovecot(t)
	for _, chunking := range []bool{false, true} {
		name := "data"
		if chunking {
			name = "bdat"
		}
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := smtp.Dial(ctx, d.addr, &smtp.DialOptions{LMTP: true, LocalName: "mx1.test.example", DisableChunking: !chunking})
			require.NoError(t, err)
			defer c.Quit(ctx)
			msg := testMessage("dovecot lmtp "+name, true)
			res, err := c.Send(ctx, &smtp.Envelope{From: "alice@client.example",
				To: []string{"bob@test.example", "nobody@test.example", "carol@test.example"}}, bytes.NewReader(msg))
			var partial *smtp.RecipientsError
			require.ErrorAs(t, err, &partial, "delivered to two recipients of three")
			assert.Equal(t, 2, partial.Accepted)
			require.Len(t, res.Recipients, 3)
			assert.NoError(t, res.Recipients[0].Err)
			var se *smtp.Error
			require.ErrorAs(t, res.Recipients[1].Err, &se)
			assert.Equal(t, 550, se.Code)
			assert.NoError(t, res.Recipients[2].Err)
			assert.Contains(t, res.Reply, "Saved")

			for _, user := range []string{"bob", "carol"} {
				var found []byte
				for _, m := range d.messages(t, user) {
					if bytes.Contains(m, []byte("dovecot lmtp "+name)) {
						found = m
					}
				}
				require.NotNil(t, found, "nothing in %s's Maildir", user)
				requireSameBody(t, bodyOf(toCRLF(msg)), bodyOf(toCRLF(found)))
				assert.Contains(t, string(found), "Received: from mx1.test.example ([127.0.0.1])\n\tby ", "Dovecot stamps what it took over LMTP")
				assert.Contains(t, string(found), " with LMTP\n")
			}
		})
	}
}
