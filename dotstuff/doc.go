// Package dotstuff is the DATA body codec of RFC 5321 section 4.5.2
// (transparency) and section 4.1.1.4 (the end of mail data).
//
// A Reader unstuffs a body as it arrives and ends it exactly at CRLF.CRLF;
// by default a bare CR or LF is an error, never a line end nor an end of data
// (SMTP smuggling, CVE-2023-51764 and its kin). A Writer stuffs, normalises
// line endings to CRLF and terminates. Both stream in constant memory.
package dotstuff
