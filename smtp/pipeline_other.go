//go:build !unix

package smtp

import "net"

// socketHasInput cannot peek on this platform: replies are flushed before
// every read that may block.
func socketHasInput(net.Conn) bool { return false }
