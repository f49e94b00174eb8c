package smtp

import "errors"

// settle gives each recipient that has no error of its own the message's
// error. Send and SendMany return an error only when the message was
// accepted for nobody (RFC 5321 section 3.3: the verdict on the body is
// what counts), so a recipient whose RCPT was answered 250 but whose
// message then failed, or whose reply never came because the connection
// was lost, must not read as accepted.
func (r *SendResult) settle() {
	if r.Err == nil || r.partial {
		return
	}
	var re *RecipientsError // declared here: its address escapes, and success needs none
	if errors.As(r.Err, &re) {
		return
	}
	for i := range r.Recipients {
		if r.Recipients[i].Err == nil {
			r.Recipients[i].Err = r.Err
		}
	}
}

// lostAfterDelivery records, in LMTP mode, a connection lost while the
// per-recipient verdicts were read (RFC 2033 section 4.2), at recipient
// from, after delivered verdicts of 250: the recipients before from
// without an error have the message and keep a nil Err; from on, each
// recipient without an error gets err.
func (r *SendResult) lostAfterDelivery(from, delivered int, err error) {
	if delivered == 0 {
		return
	}
	r.partial = true
	for i := from; i < len(r.Recipients); i++ {
		if r.Recipients[i].Err == nil {
			r.Recipients[i].Err = err
		}
	}
}
