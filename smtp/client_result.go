package smtp

// settle gives each recipient that has no error of its own the message's
// error. Send and SendMany return an error only when the message was
// accepted for nobody (RFC 5321 section 3.3: the verdict on the body is
// what counts), so a recipient whose RCPT was answered 250 but whose
// message then failed, or whose reply never came because the connection
// was lost, must not read as accepted.
func (r *SendResult) settle() {
	if r.Err == nil {
		return
	}
	for i := range r.Recipients {
		if r.Recipients[i].Err == nil {
			r.Recipients[i].Err = r.Err
		}
	}
}
