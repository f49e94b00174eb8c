package textproto

// DecodeXtext decodes xtext (RFC 3461 section 4). Any decoded control
// character is an error.
func DecodeXtext(s string) (string, error) { return "", nil } // TODO(foundation)

// EncodeXtext encodes s as xtext (RFC 3461 section 4).
func EncodeXtext(s string) string { return "" } // TODO(foundation)

// DecodeUTF8AddrXtext decodes utf-8-addr-xtext (RFC 6533 section 3).
func DecodeUTF8AddrXtext(s string) (string, error) { return "", nil } // TODO(foundation)

// EncodeUTF8AddrXtext encodes s as utf-8-addr-xtext (RFC 6533 section 3).
func EncodeUTF8AddrXtext(s string) string { return "" } // TODO(foundation)

// DecodeUTF8AddrUnitext decodes utf-8-addr-unitext (RFC 6533 section 3).
func DecodeUTF8AddrUnitext(s string) (string, error) { return "", nil } // TODO(foundation)

// EncodeUTF8AddrUnitext encodes s as utf-8-addr-unitext (RFC 6533 section 3).
func EncodeUTF8AddrUnitext(s string) string { return "" } // TODO(foundation)
