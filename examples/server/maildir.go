package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// writeBufferSize is how much of a message goes to the file in one write.
const writeBufferSize = 32 << 10

// maildir delivers messages into a Maildir as Dan Bernstein's spec
// (https://cr.yp.to/proto/maildir.html) describes: each message is written
// to tmp/ under a unique name, flushed to disk, then renamed into new/, so
// that a reader never sees a partial message and a crash never loses one
// that was acknowledged.
type maildir struct {
	dir  string // holds tmp/, new/ and cur/
	host string // the host part of unique names, escaped
	pid  int
	seq  atomic.Uint64 // deliveries by this process, part of unique names
	// sync flushes a file (or directory) to disk; (*os.File).Sync, or a
	// test's stand-in.
	sync func(*os.File) error
}

// openMaildir creates dir with its tmp, new and cur folders (mode 0700:
// mail is private) when they are missing.
func openMaildir(dir, hostname string) (*maildir, error) {
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, err
		}
	}
	return &maildir{dir: dir, host: escapeHost(hostname), pid: os.Getpid(), sync: (*os.File).Sync}, nil
}

// readError marks an error that came from the message's reader (the
// client's body broke a rule, or the connection ended) rather than from
// the disk.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// deliver writes header then the rest of body into a new message and
// returns its path in new/ and the number of body octets. On any error
// nothing is left behind in tmp/ or new/; an error from body is wrapped in
// a *readError.
func (m *maildir) deliver(header []byte, body io.Reader) (path string, size int64, err error) {
	f, name, err := m.create()
	if err != nil {
		return "", 0, err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close() // a no-op error when already closed
			os.Remove(tmp)
		}
	}()
	// The body arrives a few KiB a Read (what the connection has
	// buffered); gathering it, header first, into writeBufferSize writes
	// saves a write call per Read. The bare writer hides f's ReadFrom, or
	// bufio would hand the copy back to it after the first flush.
	w := bufio.NewWriterSize(struct{ io.Writer }{f}, writeBufferSize)
	w.Write(header) // an error stays in w and comes back from ReadFrom
	src := &errReader{r: body}
	if size, err = w.ReadFrom(src); err == nil {
		err = w.Flush()
	}
	if err != nil {
		if src.err != nil {
			return "", 0, &readError{src.err}
		}
		return "", 0, err
	}
	// The data must be on disk before the name appears in new/, or a
	// crash could leave an acknowledged message empty.
	if err = m.sync(f); err != nil {
		return "", 0, err
	}
	if err = f.Close(); err != nil {
		return "", 0, err
	}
	path = filepath.Join(m.dir, "new", name)
	if err = os.Rename(tmp, path); err != nil {
		return "", 0, err
	}
	// The rename must be on disk too before we answer 250.
	if err = m.syncDir(filepath.Join(m.dir, "new")); err != nil {
		os.Remove(path) // we will answer 451: the client sends it again
		return "", 0, err
	}
	return path, size, nil
}

// create opens a new file in tmp/ under a unique name, retrying on the
// (unlikely) chance that the name is taken.
func (m *maildir) create() (*os.File, string, error) {
	for range 3 {
		name, err := m.uniqueName(time.Now())
		if err != nil {
			return nil, "", err
		}
		f, err := os.OpenFile(filepath.Join(m.dir, "tmp", name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		return f, name, err
	}
	return nil, "", errors.New("maildir: could not find a unique file name in tmp/")
}

// uniqueName returns "time.MusecPpidQseqRrandom.host", the modern form of
// the spec's unique names: seconds, then microseconds, process ID, the
// delivery count of this process and 64 random bits, then the host name.
func (m *maildir) uniqueName(now time.Time) (string, error) {
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d.M%dP%dQ%dR%s.%s", now.Unix(), now.Nanosecond()/1000, m.pid,
		m.seq.Add(1), hex.EncodeToString(r[:]), m.host), nil
}

// syncDir flushes a directory, making a rename into it durable.
func (m *maildir) syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return m.sync(d)
}

// escapeHost escapes "/" and ":" in a host name as the spec asks ("\057"
// and "\072"), since they cannot appear in a unique name.
func escapeHost(host string) string {
	if host == "" {
		host = "localhost"
	}
	return strings.NewReplacer("/", `\057`, ":", `\072`).Replace(host)
}

// errReader remembers the error of the reader it wraps, so that deliver
// can tell a bad body from a bad disk.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}
