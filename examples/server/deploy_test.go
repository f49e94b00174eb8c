package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/postwire/postwire/smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The flags for running behind proxies and limits: -proxy-protocol,
// -xclient, -max-conns-per-ip, -banner, -log-level.

// Behind a PROXY header the log and the Received field name the client
// the header carried, not the proxy.
func TestServeProxyProtocolLogsTheClientTheHeaderCarried(t *testing.T) {
	r := startServer(t, "-proxy-protocol", "127.0.0.0/8,::1")
	nc, err := net.DialTimeout("tcp", r.addr, 5*time.Second)
	require.NoError(t, err)
	_, err = io.WriteString(nc, "PROXY TCP4 192.0.2.8 127.0.0.1 5555 25\r\n")
	require.NoError(t, err)
	c, err := smtp.NewClient(nc, &smtp.DialOptions{LocalName: "client.example"})
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msg := testMessage("behind a proxy")
	_, err = c.Send(ctx, &smtp.Envelope{From: "alice@client.example", To: []string{"bob@test.example"}}, bytes.NewReader(msg))
	require.NoError(t, err)
	require.NoError(t, c.Quit(ctx))

	assert.Contains(t, r.log.String(), "remote=192.0.2.8:5555")
	assert.Contains(t, r.storedOne(t, msg), "[192.0.2.8]")
}

// A connection without the header is closed without a greeting.
func TestServeProxyProtocolRefusesAConnectionWithoutTheHeader(t *testing.T) {
	r := startServer(t, "-proxy-protocol", "127.0.0.1/32")
	nc, err := net.DialTimeout("tcp", r.addr, 5*time.Second)
	require.NoError(t, err)
	defer nc.Close()
	io.WriteString(nc, "EHLO client.example\r\n")
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, _ := io.ReadAll(nc)
	assert.NotContains(t, string(got), "220 ")
}

// A trusted relay announces its client with XCLIENT; the log names it.
func TestServeXCLIENTLogsTheAnnouncedClient(t *testing.T) {
	r := startServer(t, "-xclient", "127.0.0.0/8")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := smtp.Dial(ctx, r.addr, nil)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.XCLIENT(ctx, smtp.XCLIENTAttributes{Addr: "192.0.2.9", Port: "4711", HELO: "far.example", Login: "alice"}))
	msg := testMessage("via XCLIENT")
	_, err = c.Send(ctx, &smtp.Envelope{From: "alice@client.example", To: []string{"bob@test.example"}}, bytes.NewReader(msg))
	require.NoError(t, err)
	require.NoError(t, c.Quit(ctx))

	log := r.log.String()
	assert.Contains(t, log, "remote=192.0.2.9:4711")
	assert.Contains(t, log, "auth=alice mechanism=XCLIENT")
	assert.Contains(t, r.storedOne(t, msg), "from far.example")
}

// Without -xclient the command is not offered.
func TestServeXCLIENTOffByDefault(t *testing.T) {
	r := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := smtp.Dial(ctx, r.addr, nil)
	require.NoError(t, err)
	defer c.Close()
	require.ErrorIs(t, c.XCLIENT(ctx, smtp.XCLIENTAttributes{Addr: "192.0.2.9"}), smtp.ErrNotAdvertised)
}

// -max-conns-per-ip 1 (and -max-conns 1): a second connection from the
// same address gets 421.
func TestServeMaxConnsPerIP(t *testing.T) {
	for _, flag := range []string{"-max-conns-per-ip", "-max-conns"} {
		t.Run(flag, func(t *testing.T) { testSecondConnRefused(t, flag) })
	}
}

func testSecondConnRefused(t *testing.T, flag string) {
	r := startServer(t, flag, "1")
	first, err := net.DialTimeout("tcp", r.addr, 5*time.Second)
	require.NoError(t, err)
	defer first.Close()
	first.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(first).ReadString('\n')
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(line, "220 "), line)

	second, err := net.DialTimeout("tcp", r.addr, 5*time.Second)
	require.NoError(t, err)
	defer second.Close()
	second.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err = bufio.NewReader(second).ReadString('\n')
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(line, "421 4.7.0"), line)
}

// -banner names the software in the greeting.
func TestServeBanner(t *testing.T) {
	r := startServer(t, "-banner", "ESMTP Postwire")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := smtp.Dial(ctx, r.addr, nil)
	require.NoError(t, err)
	defer c.Close()
	assert.Equal(t, "mx.test.example ESMTP Postwire", c.Greeting())
}

func TestDeployFlagsRefuseNonsense(t *testing.T) {
	_, err := parseFlags([]string{"-log-level", "loud"}, io.Discard)
	require.Error(t, err)
	cfg, err := parseFlags([]string{"-log-level", "debug", "-discard"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "DEBUG", cfg.level.String())
	for _, flags := range [][]string{{"-proxy-protocol", "10.0.0.0/33"}, {"-xclient", "nowhere"}} {
		cfg, err := parseFlags(append(flags, "-discard"), io.Discard)
		require.NoError(t, err)
		_, err = newServer(cfg, nil)
		require.Error(t, err, "%v", flags)
	}
	got, err := parsePrefixes("-xclient", "10.0.0.1/8, ::1")
	require.NoError(t, err)
	assert.Equal(t, "[10.0.0.0/8 ::1/128]", strings.Join([]string{"[", got[0].String(), " ", got[1].String(), "]"}, ""))
}

// The 250 to the final dot names the stored file, as a queue id that a
// relay in front logs.
func TestServeRepliesWithTheStoredFileAsQueueID(t *testing.T) {
	r := startServer(t)
	res, err := send(t, r.addr, how{}, testMessage("queue id"))
	require.NoError(t, err)
	des, err := os.ReadDir(filepath.Join(r.maildir, "new"))
	require.NoError(t, err)
	require.Len(t, des, 1)
	assert.Equal(t, "OK: queued as "+des[0].Name(), res.Reply)
}
