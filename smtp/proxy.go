package smtp

import "errors"

// errProxyNotImplemented is returned while the PROXY protocol is a stub.
var errProxyNotImplemented = errors.New("smtp: PROXY protocol is not implemented yet")

// readProxyHeader reads the PROXY protocol header (HAProxy's proxy-protocol
// text, versions 1 and 2) that precedes the greeting when
// Server.ProxyProtocol is set, and records the client's address in
// c.remote (under c.mu) and the proxy's destination in c.local. An error
// closes the connection without a greeting.
//
// It runs on the connection's goroutine before anything else: c.r is nil
// and c.nc is the raw connection; it may read c.nc directly (with a read
// deadline), and must leave any octets it read past the header in
// c.in.pending (and take c.r from srv.readerPool primed with them, as
// waitForInput does) so that they are not lost.
//
// TODO(proxy): implement; until then a server with ProxyProtocol set
// closes every connection.
func (c *Conn) readProxyHeader() error {
	return errProxyNotImplemented
}
