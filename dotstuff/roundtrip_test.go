package dotstuff

import (
	"bufio"
	"bytes"
	"io"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// randomBody mixes the octets that matter to the codec with a few letters,
// so that dots land at line starts and CR and LF come in every order.
func randomBody(rng *rand.Rand, maxLen int) []byte {
	const alphabet = "..\r\r\n\nab. \x00"
	b := make([]byte, rng.Intn(maxLen+1))
	for i := range b {
		b[i] = alphabet[rng.Intn(len(alphabet))]
	}
	return b
}

// roundTrip encodes body with a Writer in Writes of random sizes, then
// decodes it with a strict Reader over reads of random sizes, and checks
// that the body comes back normalised and that the Reader stops at the
// terminator.
func roundTrip(t testing.TB, rng *rand.Rand, body []byte) {
	var wire bytes.Buffer
	w := NewWriter(&wire)
	for p := body; len(p) > 0; {
		n := 1 + rng.Intn(len(p))
		writeAll(t, w, p[:n])
		p = p[n:]
	}
	require.NoError(t, w.Close())
	assert.Equal(t, string(refEncode(body)), wire.String(), "Writer against the model, body %q", body)

	wire.WriteString("QUIT\r\n")
	br := bufio.NewReaderSize(&wire, 16+rng.Intn(64))
	d := NewReader(br)
	var got []byte
	p := make([]byte, 1+rng.Intn(40))
	for {
		n, err := d.Read(p[:1+rng.Intn(len(p))])
		got = append(got, p[:n]...)
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "body %q", body)
	}
	assert.Equal(t, string(normalise(body)), string(got), "body %q", body)
	rest, _ := io.ReadAll(br)
	assert.Equal(t, "QUIT\r\n", string(rest), "body %q", body)
}

func TestRoundTripProperty(t *testing.T) {
	rng := rand.New(rand.NewSource(20231218)) // fixed: failures reproduce
	for range 3000 {
		roundTrip(t, rng, randomBody(rng, 60))
		if t.Failed() {
			return
		}
	}
	// A few long ones, across many buffer refills.
	for range 20 {
		roundTrip(t, rng, randomBody(rng, 20000))
	}
}

func FuzzRoundTrip(f *testing.F) {
	for _, seed := range []string{"", ".", "\r\n.\r\n", "a\n.\nb", "\r.\r", "..\r\n", "x\r", "\r\r\n.\r\r\n", "line\r\n.\x00\r\n"} {
		f.Add([]byte(seed), int64(1))
	}
	f.Fuzz(func(t *testing.T, body []byte, seed int64) {
		roundTrip(t, rand.New(rand.NewSource(seed)), body)
	})
}

// checkReader runs input through a Reader and holds it to the model: the
// same body when clean, one of the errors the model finds otherwise (after
// a clean start of the body), never more output than input, and after
// Drain exactly what follows the first terminator left unread.
func checkReader(t testing.TB, input []byte, allow bool, maxLine int, s setup) {
	want := refDecode(input, allow, maxLine)
	got := decodeWith(t, s, input, allow, maxLine)
	assert.LessOrEqual(t, len(got.body), len(input))
	switch {
	case want.errs != nil:
		errs := want.errs
		if want.consumed < 0 {
			// Input may end before the faulty octet is known to be
			// one (a CR at the very end).
			errs = append(errs, io.ErrUnexpectedEOF)
		}
		assert.Contains(t, errs, got.err, "input %q", input)
		assert.True(t, len(want.body) >= len(got.body) && want.body[:len(got.body)] == got.body,
			"delivered %q, not a start of %q", got.body, want.body)
		if !allow {
			assert.False(t, hasBare(got.body), "delivered a bare line ending: %q", got.body)
		}
	case want.consumed < 0:
		assert.Equal(t, io.ErrUnexpectedEOF, got.err)
		assert.True(t, len(want.body) >= len(got.body) && want.body[:len(got.body)] == got.body,
			"delivered %q, not a start of %q", got.body, want.body)
	default:
		assert.NoError(t, got.err, "input %q", input)
		assert.Equal(t, want.body, got.body, "input %q", input)
	}
	if want.consumed < 0 {
		assert.Equal(t, io.ErrUnexpectedEOF, got.drainErr)
		assert.Empty(t, got.rest)
	} else {
		assert.Equal(t, string(input[want.consumed:]), got.rest, "input %q", input)
	}
}

func TestReaderAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewSource(51764))
	for range 3000 {
		input := randomBody(rng, 50)
		if rng.Intn(2) == 0 {
			input = append(input, "\r\n.\r\n"[rng.Intn(3):]...)
			input = append(input, randomBody(rng, 8)...)
		}
		s := setups[rng.Intn(len(setups))]
		checkReader(t, input, rng.Intn(2) == 0, rng.Intn(8), s)
		if t.Failed() {
			return
		}
	}
}

func FuzzReader(f *testing.F) {
	for _, sm := range smuggling {
		f.Add([]byte("A"+sm.seq+"B\r\n.\r\nNOOP\r\n"), false, uint8(0), uint8(0))
	}
	for _, seed := range []string{"", ".\r\n", "..\r\n.\r\n", "a\r\n.\r\nRSET\r\n", "x\r", "\r\n.\r", "abcdef\r\n.\r\n"} {
		f.Add([]byte(seed), true, uint8(3), uint8(1))
	}
	f.Fuzz(func(t *testing.T, input []byte, allow bool, maxLine, shape uint8) {
		checkReader(t, input, allow, int(maxLine), setups[int(shape)%len(setups)])
	})
}
