package compat

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// examples holds the example programs built once per test binary.
var examples struct {
	mu   sync.Mutex
	dir  string
	bins map[string]string
}

// buildExample builds github.com/postwire/postwire/examples/<name> once
// and returns the binary's path; it skips the test when the example does
// not exist in the tree.
func buildExample(t testing.TB, name string) string {
	t.Helper()
	src := filepath.Join("..", "..", "examples", name)
	if _, err := os.Stat(filepath.Join(src, "main.go")); err != nil {
		t.Skipf("examples/%s is not in the tree: %v", name, err)
	}
	examples.mu.Lock()
	defer examples.mu.Unlock()
	if bin, ok := examples.bins[name]; ok {
		return bin
	}
	if examples.bins == nil {
		examples.bins = map[string]string{}
		examples.dir = filepath.Join(shared.dir, "bin")
	}
	bin := filepath.Join(examples.dir, name)
	out, err := exec.Command("go", "build", "-o", bin, "github.com/postwire/postwire/examples/"+name).CombinedOutput()
	require.NoError(t, err, "go build examples/%s: %s", name, out)
	examples.bins[name] = bin
	return bin
}
