package smtp

import (
	"bufio"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/postwire/postwire/sasl"
)

func clientPlain(user, pass string) sasl.Client { return sasl.NewPlainClient("", user, pass) }

// clientFakePipe runs script over net.Pipe: the client's peer address is
// then not a loopback address.
func clientFakePipe(t *testing.T, script func(s *clientScript)) net.Conn {
	cc, sc := net.Pipe()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer sc.Close()
		script(&clientScript{t: t, conn: sc, br: bufio.NewReader(sc)})
	}()
	t.Cleanup(func() {
		cc.Close()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("fake server script did not finish")
		}
	})
	return cc
}

func TestClientAuthChallengeAfterPlainInitialResponse(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO("AUTH PLAIN LOGIN")
		s.expect("AUTH PLAIN AHVzZXIAc2VjcmV0")
		// PLAIN is done after its initial response; a challenge now is
		// the server fishing for more: the client cancels.
		s.send("334 VXNlcm5hbWU6\r\n")
		s.expect("*")
		s.send("501 5.7.0 cancelled\r\n")
		s.expect("NOOP")
		s.send("250 ok\r\n")
	})
	c, err := Dial(clientCtx(t), addr, nil)
	require.NoError(t, err)
	defer c.Close()
	require.Error(t, c.Auth(clientCtx(t), clientPlain("user", "secret")))
	require.NoError(t, c.Noop(clientCtx(t)), "the session stays in step")
}

func TestClientAuthMalformedChallenge(t *testing.T) {
	for _, chal := range []string{"334 !!not base64!!\r\n", "334-YQ==\r\n334 Yg==\r\n"} {
		addr := clientFake(t, func(s *clientScript) {
			s.greetEHLO("AUTH CRAM-MD5")
			s.expect("AUTH CRAM-MD5")
			s.send(chal)
			s.expect("*")
			s.send("501 5.7.0 cancelled\r\n")
		})
		c, err := Dial(clientCtx(t), addr, nil)
		require.NoError(t, err)
		err = c.Auth(clientCtx(t), sasl.NewCramMD5Client("u", "p"))
		require.ErrorContains(t, err, "malformed challenge")
		c.Close()
	}
}

func TestClientAuthExchange(t *testing.T) {
	// LOGIN without initial response: two challenges, two answers.
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO("AUTH LOGIN")
		s.expect("AUTH LOGIN")
		s.send("334 VXNlcm5hbWU6\r\n")
		s.expect("dXNlcg==")
		s.send("334 UGFzc3dvcmQ6\r\n")
		s.expect("c2VjcmV0")
		s.send("235 2.7.0 ok\r\n")
	})
	c, err := Dial(clientCtx(t), addr, nil)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Auth(clientCtx(t), sasl.NewLoginClient("user", "secret")))
}

func TestClientAuthRefusedAndNotOffered(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO("AUTH PLAIN")
		s.expect("AUTH PLAIN AHUAYmFk")
		s.send("535 5.7.8 bad credentials\r\n")
		assert.Equal(t, "", s.rest())
	})
	c, err := Dial(clientCtx(t), addr, nil)
	require.NoError(t, err)
	defer c.Close()
	var se *Error
	require.ErrorAs(t, c.Auth(clientCtx(t), clientPlain("u", "bad")), &se)
	assert.Equal(t, 535, se.Code)
	require.ErrorIs(t, c.Auth(clientCtx(t), sasl.NewLoginClient("u", "p")), ErrNotAdvertised)
}

func TestClientAuthInsecure(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mech   sasl.Client
		allow  bool
		refuse bool
	}{
		{"PLAIN refused", clientPlain("u", "p"), false, true},
		{"LOGIN refused", sasl.NewLoginClient("u", "p"), false, true},
		{"XOAUTH2 refused", sasl.NewXOAuth2Client("u", "tok"), false, true},
		{"PLAIN allowed when told", clientPlain("u", "p"), true, false},
		{"CRAM-MD5 fine", sasl.NewCramMD5Client("u", "p"), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := clientFakePipe(t, func(s *clientScript) {
				s.greetEHLO("AUTH PLAIN LOGIN XOAUTH2 CRAM-MD5")
				if tc.refuse {
					assert.Equal(t, "", s.rest())
					return
				}
				line := s.line()
				assert.Contains(t, line, "AUTH ")
				s.send("535 5.7.8 no\r\n")
			})
			c, err := NewClient(conn, &DialOptions{AllowInsecureAuth: tc.allow})
			require.NoError(t, err)
			defer c.Close()
			err = c.Auth(clientCtx(t), tc.mech)
			if tc.refuse {
				require.ErrorIs(t, err, ErrInsecureAuth)
				c.Close()
				return
			}
			var se *Error
			require.ErrorAs(t, err, &se)
		})
	}
}
