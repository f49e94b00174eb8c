package smtp

import (
	"context"

	"github.com/postwire/postwire/textproto"
)

// readStatus reads one reply for the hot path of a transaction, through
// textproto.ReplyReader.ReadStatus: a single-line 2xx or 3xx reply that is
// already buffered is taken without allocating, r then having its Code and
// Enhanced but no Lines, and text (valid until the next read) its text;
// any other reply is read whole, r complete and text nil. A protocol error
// or an I/O error closes the connection, as in readReply.
func (c *Client) readStatus(ctx context.Context) (r textproto.Reply, text []byte, err error) {
	r, text, err = c.rr.ReadStatus()
	if err != nil {
		return r, nil, c.replyFail(ctx, err)
	}
	return r, text, nil
}

// clientStatusText returns the text of a reply read by readStatus.
func clientStatusText(r textproto.Reply, text []byte) string {
	if r.Lines == nil {
		return string(text)
	}
	return clientJoin(r.Lines)
}
