package smtp

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParseETRNNode: the node argument of RFC 1985 section 5, with its
// option characters, and what is refused.
func TestParseETRNNode(t *testing.T) {
	for arg, want := range map[string]ETRNNode{
		"example.org":      {Kind: ETRNHost, Name: "example.org"},
		"Mail.Example.ORG": {Kind: ETRNHost, Name: "Mail.Example.ORG"},
		"@example.org":     {Kind: ETRNSubdomains, Name: "example.org"},
		"#queue-1":         {Kind: ETRNQueue, Name: "queue-1"},
		"#@odd!":           {Kind: ETRNQueue, Name: "@odd!"},
	} {
		got, err := ParseETRNNode(arg)
		require.NoError(t, err, arg)
		assert.Equal(t, want, got, arg)
		assert.Equal(t, arg, got.String(), "String writes it back as it came")
	}
	for _, arg := range []string{
		"", "@", "#", "localname", "@localname", ".example.org", "example.org.", "example..org",
		"-a.example", "[192.0.2.1]", "@[192.0.2.1]", "a b.example", "#a b", "#a\tb",
		"bücher.example", "example.org\r\n", "a@b.example", "#" + string(make([]byte, 300)),
	} {
		_, err := ParseETRNNode(arg)
		assert.Error(t, err, "%q", arg)
	}
}
