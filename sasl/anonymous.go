package sasl

import "unicode/utf8"

// ANONYMOUS (RFC 4505): the client sends optional trace information, an
// email address or an opaque token without "@", at most 255 characters of
// UTF-8 (RFC 4505 section 2). This package also refuses control characters
// in the trace, since servers log it.

// anonymousMaxTrace is the most characters a trace may have (RFC 4505
// section 2: token = 1*255TCHAR; section 3: the server fails longer ones).
const anonymousMaxTrace = 255

// AnonymousIdentity is what an ANONYMOUS server reports as Authentication.
const AnonymousIdentity = "anonymous"

type anonymousClient struct {
	trace string
	done  bool
}

// NewAnonymousClient returns an ANONYMOUS client sending trace (which may
// be "") as the initial response; Start fails with ErrMalformed for a
// trace the server would refuse.
func NewAnonymousClient(trace string) Client {
	return &anonymousClient{trace: trace}
}

func (c *anonymousClient) Start() (string, []byte, error) {
	if !validTrace(c.trace) {
		return "", nil, malformed(Anonymous, "trace is not at most 255 characters of UTF-8 text")
	}
	return Anonymous, []byte(c.trace), nil
}

// Next answers the server's empty challenge (when the initial response was
// not sent) with the trace, once.
func (c *anonymousClient) Next(challenge []byte) ([]byte, error) {
	if len(challenge) != 0 || c.done {
		return nil, malformed(Anonymous, "unexpected server challenge")
	}
	c.done = true
	return []byte(c.trace), nil
}

func validTrace(trace string) bool {
	if !utf8.ValidString(trace) || utf8.RuneCountInString(trace) > anonymousMaxTrace {
		return false
	}
	for _, r := range trace {
		if r < 0x20 || r == 0x7f || (0x80 <= r && r < 0xa0) {
			return false
		}
	}
	return true
}

type anonymousServer struct {
	outcome
	check func(trace string) error
	asked bool
}

// NewAnonymousServer returns an ANONYMOUS server. It validates the trace
// and calls check with it (check may log it and decide whether anonymous
// access is allowed now: nil to accept, an error wrapping
// ErrInvalidCredentials to refuse). Identity reports AnonymousIdentity as
// Authentication.
func NewAnonymousServer(check func(trace string) error) Server {
	return &anonymousServer{outcome: outcome{mech: Anonymous}, check: check}
}

func (s *anonymousServer) Next(response []byte) ([]byte, bool, error) {
	if err := s.finished(); err != nil {
		return nil, false, err
	}
	if response == nil && !s.asked {
		s.asked = true
		return []byte{}, false, nil
	}
	trace := string(response)
	if !validTrace(trace) {
		return s.fail(malformed(Anonymous, "trace is not at most 255 characters of UTF-8 text"))
	}
	if err := s.check(trace); err != nil {
		return s.fail(err)
	}
	return s.succeed(Identity{Authentication: AnonymousIdentity})
}
