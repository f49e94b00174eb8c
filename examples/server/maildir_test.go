package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newTestMaildir opens a Maildir in a fresh directory.
func newTestMaildir(t *testing.T) *maildir {
	t.Helper()
	m, err := openMaildir(filepath.Join(t.TempDir(), "Maildir"), "mx.test.example")
	require.NoError(t, err)
	return m
}

// entries lists the file names in one folder of the Maildir.
func entries(t *testing.T, m *maildir, sub string) []string {
	t.Helper()
	des, err := os.ReadDir(filepath.Join(m.dir, sub))
	require.NoError(t, err)
	var names []string
	for _, d := range des {
		names = append(names, d.Name())
	}
	return names
}

func TestOpenMaildirCreatesPrivateFolders(t *testing.T) {
	m := newTestMaildir(t)
	for _, sub := range []string{"tmp", "new", "cur"} {
		fi, err := os.Stat(filepath.Join(m.dir, sub))
		require.NoError(t, err, sub)
		assert.True(t, fi.IsDir(), sub)
		assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), sub)
	}
	_, err := openMaildir(m.dir, "again") // an existing Maildir is fine
	require.NoError(t, err)
}

func TestDeliverMovesTheMessageFromTmpIntoNew(t *testing.T) {
	m := newTestMaildir(t)
	header := []byte("Return-Path: <a@example.org>\r\n")
	body := []byte("Subject: hi\r\n\r\n.a dot\r\nbye\r\n")
	path, size, err := m.deliver(header, bytes.NewReader(body))
	require.NoError(t, err)
	assert.Equal(t, int64(len(body)), size)
	assert.Equal(t, filepath.Join(m.dir, "new"), filepath.Dir(path))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(header)+string(body), string(got))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	assert.Empty(t, entries(t, m, "tmp"))
	assert.Empty(t, entries(t, m, "cur"))
}

func TestDeliverGivesUniqueNames(t *testing.T) {
	m := newTestMaildir(t)
	const n = 200
	var wg sync.WaitGroup
	paths := make([]string, n)
	for i := range n {
		wg.Go(func() {
			p, _, err := m.deliver(nil, strings.NewReader("x\r\n"))
			assert.NoError(t, err)
			paths[i] = p
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, p := range paths {
		assert.False(t, seen[p], "name used twice: %s", p)
		seen[p] = true
	}
	assert.Len(t, entries(t, m, "new"), n)
}

func TestUniqueNameFollowsTheMaildirSpec(t *testing.T) {
	m, err := openMaildir(t.TempDir(), "mx/one:two")
	require.NoError(t, err)
	name, err := m.uniqueName(time.Unix(1700000000, 123456789))
	require.NoError(t, err)
	left, rest, _ := strings.Cut(name, ".")
	middle, host, _ := strings.Cut(rest, ".")
	assert.Equal(t, "1700000000", left)
	assert.True(t, strings.HasPrefix(middle, "M123456P"+strconv.Itoa(os.Getpid())+"Q1R"), middle)
	assert.Len(t, middle[strings.IndexByte(middle, 'R')+1:], 16, "64 random bits in hex")
	assert.Equal(t, `mx\057one\072two`, host, "/ and : escaped as the spec asks")
	assert.NotContains(t, name, "/")
	assert.NotContains(t, name, ":")
}

func TestDeliverSyncsTheFileBeforeTheRenameAndNewAfter(t *testing.T) {
	m := newTestMaildir(t)
	body := "Subject: durable\r\n\r\nbody\r\n"
	var calls []string
	m.sync = func(f *os.File) error {
		fi, err := f.Stat()
		require.NoError(t, err)
		if fi.IsDir() {
			// The rename is done: new/ holds the message.
			assert.Equal(t, filepath.Join(m.dir, "new"), f.Name())
			assert.Len(t, entries(t, m, "new"), 1)
			calls = append(calls, "dir")
		} else {
			// Still in tmp/, complete, and not yet visible in new/.
			assert.Equal(t, filepath.Join(m.dir, "tmp"), filepath.Dir(f.Name()))
			got, err := os.ReadFile(f.Name())
			require.NoError(t, err)
			assert.Equal(t, "H: 1\r\n"+body, string(got))
			assert.Empty(t, entries(t, m, "new"))
			calls = append(calls, "file")
		}
		return f.Sync()
	}
	_, _, err := m.deliver([]byte("H: 1\r\n"), strings.NewReader(body))
	require.NoError(t, err)
	assert.Equal(t, []string{"file", "dir"}, calls)
}

// failingReader yields some bytes, then fails as a body that broke a rule.
type failingReader struct{ sent bool }

var errBody = errors.New("body broke a rule")

func (r *failingReader) Read(p []byte) (int, error) {
	if !r.sent {
		r.sent = true
		return copy(p, "Subject: partial\r\n"), nil
	}
	return 0, errBody
}

func TestDeliverLeavesNothingBehindOnError(t *testing.T) {
	cases := []struct {
		name     string
		body     io.Reader
		prepare  func(m *maildir)
		wantRead bool
	}{
		{"body fails", &failingReader{}, nil, true},
		{"file sync fails", strings.NewReader("x\r\n"), func(m *maildir) {
			m.sync = func(*os.File) error { return errors.New("disk on fire") }
		}, false},
		{"directory sync fails", strings.NewReader("x\r\n"), func(m *maildir) {
			m.sync = func(f *os.File) error {
				if fi, _ := f.Stat(); fi.IsDir() {
					return errors.New("disk on fire")
				}
				return nil
			}
		}, false},
		{"rename fails", strings.NewReader("x\r\n"), func(m *maildir) {
			// new/ replaced by a file: the rename into it cannot work,
			// whatever the permissions (the tests may run as root).
			require.NoError(t, os.Remove(filepath.Join(m.dir, "new")))
			require.NoError(t, os.WriteFile(filepath.Join(m.dir, "new"), nil, 0o600))
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestMaildir(t)
			if tc.prepare != nil {
				tc.prepare(m)
			}
			path, _, err := m.deliver([]byte("H: 1\r\n"), tc.body)
			require.Error(t, err)
			assert.Empty(t, path)
			var rerr *readError
			assert.Equal(t, tc.wantRead, errors.As(err, &rerr), "%v", err)
			if tc.wantRead {
				assert.ErrorIs(t, err, errBody)
			}
			assert.Empty(t, entries(t, m, "tmp"), "a partial file is left in tmp/")
			if fi, err := os.Stat(filepath.Join(m.dir, "new")); err == nil && fi.IsDir() {
				assert.Empty(t, entries(t, m, "new"))
			}
		})
	}
}

// chunkReader hands out its body at most 4 KiB a Read, as the Server's
// body reader does (it returns what the connection's 4 KiB buffer holds).
type chunkReader struct{ rest []byte }

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.rest) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 4096)], r.rest)
	r.rest = r.rest[n:]
	return n, nil
}

// BenchmarkDeliver stores a 1 MiB message read 4 KiB at a time, with the
// real fsyncs and with them stubbed out (the writes alone).
func BenchmarkDeliver(b *testing.B) {
	header := []byte("Return-Path: <a@example.org>\r\nReceived: from x\r\n")
	body := bytes.Repeat([]byte(strings.Repeat("x", 78)+"\r\n"), 1<<20/80)
	for _, fsync := range []bool{true, false} {
		b.Run(map[bool]string{true: "fsync", false: "nosync"}[fsync], func(b *testing.B) {
			m, err := openMaildir(b.TempDir(), "mx.test.example")
			require.NoError(b, err)
			if !fsync {
				m.sync = func(*os.File) error { return nil }
			}
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				path, _, err := m.deliver(header, &chunkReader{rest: body})
				if err != nil {
					b.Fatal(err)
				}
				os.Remove(path)
			}
		})
	}
}
