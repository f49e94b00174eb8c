//go:build unix

package smtp

import (
	"net"
	"syscall"
)

// socketHasInput peeks at the socket under nc (MSG_PEEK with MSG_DONTWAIT):
// true when at least one octet is waiting.
func socketHasInput(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var buf [1]byte
	ready := false
	raw.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ready = err == nil && n > 0
		return true // never wait: this is a question, not a read
	})
	return ready
}
