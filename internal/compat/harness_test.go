package compat

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// peerTimeout bounds every peer program a test runs.
const peerTimeout = 60 * time.Second

// shared holds what every test of the binary may use: a directory with a
// self-signed certificate (cert.pem, key.pem) for localhost, 127.0.0.1 and
// mx.test.example.
var shared struct {
	dir      string
	certFile string
	keyFile  string
	cert     tls.Certificate
	pool     *x509.CertPool
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pw-compat-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := writeCert(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// writeCert creates the shared self-signed certificate in dir.
func writeCert(dir string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(6),
		Subject:               pkix.Name{CommonName: "mx.test.example"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost", "mx.test.example"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	shared.dir = dir
	shared.certFile = filepath.Join(dir, "cert.pem")
	shared.keyFile = filepath.Join(dir, "key.pem")
	if err := os.WriteFile(shared.certFile, certPEM, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(shared.keyFile, keyPEM, 0o600); err != nil {
		return err
	}
	if shared.cert, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return err
	}
	shared.pool = x509.NewCertPool()
	shared.pool.AppendCertsFromPEM(certPEM)
	return nil
}

// serverTLS is the TLS configuration of the servers under test.
func serverTLS() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{shared.cert}}
}

// clientTLS trusts the shared certificate, for 127.0.0.1.
func clientTLS() *tls.Config {
	return &tls.Config{RootCAs: shared.pool, ServerName: "127.0.0.1"}
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	return freeAddrOn(t, "127.0.0.1")
}

// freeAddrOn is freeAddr on the loopback address ip; the test is skipped
// when ip is IPv6 and this machine has no IPv6 loopback.
func freeAddrOn(t testing.TB, ip string) string {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil && strings.Contains(ip, ":") {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// portOf returns the port of a host:port address.
func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// needBinary skips the test when a peer program is not installed.
func needBinary(t testing.TB, path string) string {
	t.Helper()
	p, err := exec.LookPath(path)
	if err != nil {
		t.Skipf("peer %s is not installed (run internal/compat/install-peers.sh): %v", path, err)
	}
	return p
}

// needRoot skips the test when it is not run as root (Postfix needs it).
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("Postfix instances need root (its daemons switch to the postfix user)")
	}
}

// runPeer runs a peer program to completion within peerTimeout, with stdin,
// and returns its combined output; it fails the test on a non-zero exit.
func runPeer(t testing.TB, stdin []byte, name string, args ...string) string {
	t.Helper()
	out, err := runPeerErr(stdin, name, args...)
	require.NoError(t, err, "%s %s\n%s", name, strings.Join(args, " "), out)
	return out
}

// runPeerErr is runPeer that returns the error instead of failing.
func runPeerErr(stdin []byte, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// startPeer starts a long-running peer program, waits until addr accepts
// connections, and stops the program by its PID when the test ends.
func startPeer(t testing.TB, addr string, cmd *exec.Cmd) *lockedBuffer {
	t.Helper()
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start(), "start %s", cmd.Path)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	if addr != "" {
		waitListening(t, addr, done, &out)
	}
	return &out
}

// waitListening waits up to 15 s for addr to accept a connection.
func waitListening(t testing.TB, addr string, exited <-chan struct{}, out *lockedBuffer) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("peer exited before listening on %s:\n%s", addr, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s after 15 s:\n%s", addr, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lockedBuffer is a bytes.Buffer safe for a process's writes and our reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// sum is the hex SHA-256 of b, for comparing bodies in failure messages.
func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// requireSameBody fails unless got is byte for byte want, comparing SHA-256
// digests and showing both ends when they differ.
func requireSameBody(t testing.TB, want, got []byte, msgAndArgs ...any) {
	t.Helper()
	if sum(want) == sum(got) {
		return
	}
	require.Equal(t, string(want), string(got), msgAndArgs...)
	t.Fatalf("bodies differ: sha256 %s (sent) vs %s (stored)", sum(want), sum(got))
}

// testMessage builds a message of CRLF lines that exercises transparency:
// dots at line starts, a lone dot, a line of dots, 8-bit text when eightBit
// is set, and a long (but under 998 octets) line.
func testMessage(subject string, eightBit bool) []byte {
	var b strings.Builder
	b.WriteString("From: Alice <alice@client.example>\r\n")
	b.WriteString("To: Bob <bob@test.example>\r\n")
	b.WriteString("Subject: " + subject + "\r\n")
	b.WriteString("Date: Mon, 23 Nov 2026 03:00:00 +0000\r\n")
	b.WriteString("Message-ID: <" + strings.ReplaceAll(subject, " ", ".") + "@client.example>\r\n")
	b.WriteString("MIME-Version: 1.0\r\n")
	if eightBit {
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\n")
		b.WriteString("Content-Transfer-Encoding: 8bit\r\n")
	} else {
		b.WriteString("Content-Type: text/plain; charset=us-ascii\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString("Hello Bob,\r\n")
	b.WriteString(".a line that starts with a dot\r\n")
	b.WriteString(".\r\n")
	b.WriteString("..\r\n")
	b.WriteString("...three dots\r\n")
	b.WriteString(" .not at the start\r\n")
	if eightBit {
		b.WriteString("Grüße aus Zürich, ça va? 日本語\r\n")
	}
	b.WriteString(strings.Repeat("0123456789", 90) + "\r\n")
	b.WriteString("\r\n")
	b.WriteString("-- \r\nAlice\r\n")
	return []byte(b.String())
}

// bodyOf returns the part of a message after its header (the first empty
// line), or nil when it has none. Line ends are whatever the message uses.
func bodyOf(msg []byte) []byte {
	for _, sep := range []string{"\r\n\r\n", "\n\n"} {
		if i := bytes.Index(msg, []byte(sep)); i >= 0 {
			return msg[i+len(sep):]
		}
	}
	return nil
}

// toLF turns CRLF line ends into LF, as Postfix stores a Maildir file.
func toLF(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")) }

// toCRLF turns LF line ends into CRLF.
func toCRLF(b []byte) []byte { return bytes.ReplaceAll(toLF(b), []byte("\n"), []byte("\r\n")) }

// netDial connects to addr with a short timeout.
func netDial(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, time.Second) }
