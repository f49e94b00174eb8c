package compat

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readmeProgram returns the Go program the README shows after marker.
func readmeProgram(t *testing.T, marker string) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	_, after, ok := strings.Cut(string(readme), marker)
	require.True(t, ok, "README.md has no %q", marker)
	_, code, ok := strings.Cut(after, "```go\n")
	require.True(t, ok)
	code, _, ok = strings.Cut(code, "```")
	require.True(t, ok)
	return code
}

// TestREADMEDeliveryProgram runs the README's delivery program as a new
// user would, changed in nothing but the address of the validating
// resolver: built as a module of its own against this tree, it delivers to
// a DANE domain and an MTA-STS domain of the signed zone, with the system's
// own ways of finding things, inside a mount namespace whose resolv.conf
// names the chain's Unbound and with the chain's CA as the system roots
// (SSL_CERT_FILE). Our server is every MX host, on port 25 as in the
// world, and the policy host serves on port 443.
func TestREADMEDeliveryProgram(t *testing.T) {
	needMountNamespace(t)
	chain := startDNSSEC(t, dnssecOptions{MXPort: 25, Port53: true})
	if chain.Resolver53 == "" {
		t.Skip("port 53 cannot be bound on a loopback address here")
	}
	mx := startPostwire(t, chain.mxConfig())
	chain.startSTSPolicy(t, "enforce")

	program := readmeProgram(t, "<!-- delivery-program")
	require.Contains(t, program, `"127.0.0.1:53"`)
	program = strings.Replace(program, `"127.0.0.1:53"`, `"`+chain.Resolver53+`"`, 1)
	bin := buildProgram(t, program)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	launcher := chainResolverLauncher(t, chain)
	args := append(launcher[1:], bin, "bob@"+domainDANEEE, "carol@"+domainSTS)
	cmd := exec.CommandContext(ctx, launcher[0], args...)
	cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+chain.Certs.CAFile)
	msg := toCRLF(testMessage("the README's delivery program", false))
	cmd.Stdin = bytes.NewReader(msg)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s\n%s", out, chain.UnboundLog())
	t.Logf("the program printed:\n%s", out)

	// RFC 7672: a signed MX with a matching TLSA record is delivered over
	// authenticated TLS; RFC 8461: an enforce policy listing the MX, with a
	// certificate valid for its name, likewise.
	assert.Contains(t, string(out), "bob@"+domainDANEEE+" delivered tlsa true <nil>\n")
	assert.Contains(t, string(out), "carol@"+domainSTS+" delivered sts true <nil>\n")
	got := mx.rec.wait(t, 2, 10*time.Second)
	for _, m := range got {
		assert.Equal(t, msg, m.Data, "stored byte for byte")
	}
}

// buildProgram builds a main package whose source is src as a module of
// its own that requires this tree, offline, and returns the binary.
func buildProgram(t *testing.T, src string) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	dir := t.TempDir()
	gomod := "module readmeprogram\n\ngo 1.26\n\nrequire github.com/postwire/postwire v0.0.0\n\n" +
		"replace github.com/postwire/postwire => " + root + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644))
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644))
	bin := filepath.Join(dir, "program")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}
