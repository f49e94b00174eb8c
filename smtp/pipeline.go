package smtp

import "net"

// This file holds the rule of RFC 2920 section 3.2 for when replies leave:
// the replies to a group of pipelined commands go out together, in one
// write, once the server has read every command of the group.
//
// The server cannot see where a client's group ends; it can see when its
// input runs dry. Replies are therefore flushed before the server blocks
// for more input, unless more input is already waiting: the last network
// read filled the buffer it read into (so the group may go on beyond it)
// and the socket still holds octets. Only then does the server read on
// without flushing. The check costs one non-blocking peek, made only in
// that case, so lock-step clients and the idle path pay nothing.

// flushUnlessMoreInput sends the buffered replies before a read that may
// block, unless the client's group continues in octets already received
// by the socket.
func (c *Conn) flushUnlessMoreInput() error {
	if c.w != nil && c.w.Buffered() > 0 && c.in.lastFull && inputReady(c.raw) {
		return nil
	}
	return c.flush()
}

// noteRead records whether a network read filled its buffer.
func (r *connReader) noteRead(n, size int) { r.lastFull = n == size }

// inputReady reports whether the connection has octets waiting to be
// read, without reading them or blocking. It looks through wrappers that
// expose the connection below them with a NetConn method, as *tls.Conn
// does; a connection it cannot see into has none.
func inputReady(nc net.Conn) bool {
	for {
		u, ok := nc.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		nc = u.NetConn()
	}
	return socketHasInput(nc)
}
