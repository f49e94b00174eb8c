package smtp

// handleXCLIENT answers Postfix's XCLIENT command, with which a trusted
// proxy tells the client's real address, name and HELO
// (https://www.postfix.org/XCLIENT_README.html). The state table allows it
// before a transaction only.
//
// TODO(xclient): implement (with a Server setting naming the trusted
// proxies, and XCLIENT advertised in EHLO for them); until then it is not
// offered and is answered 502 5.5.1.
func (c *Conn) handleXCLIENT(args []byte) {
	c.reply(502, EnhancedCode{5, 5, 1}, "XCLIENT command not implemented")
}
