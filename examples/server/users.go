package main

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"strings"

	"github.com/postwire/postwire/sasl"
)

// scramIterations is the PBKDF2 count of the SCRAM keys derived at start
// (RFC 7677 section 4 recommends at least 4096).
const scramIterations = 4096

// mechanisms are the SASL mechanisms offered when -users is set: every
// server mechanism of the sasl package that works from a password,
// strongest first (RFC 4954 section 3 lets the client choose). The smtp
// package advertises the SCRAM -PLUS variants only over TLS with a
// channel binding (RFC 5802 section 6).
var mechanisms = []string{sasl.ScramSHA256Plus, sasl.ScramSHA1Plus, sasl.ScramSHA256, sasl.ScramSHA1,
	sasl.CramMD5, sasl.Plain, sasl.Login}

// user is one account of -users: its password, kept for PLAIN, LOGIN and
// CRAM-MD5 (which needs the clear secret), and its SCRAM keys.
type user struct {
	password         string
	scram1, scram256 sasl.ScramCredentials
}

// users are the accounts AUTH accepts, by user name.
type users map[string]*user

// parseUsers parses the -users flag: "name:password" pairs separated by
// commas. A password may hold ":" but not ","; a name may hold neither.
// Names are prepared with sasl.PrepareUsername (RFC 8265 section 3.4), as
// the SCRAM servers prepare what the client sends.
func parseUsers(list string) (users, error) {
	us := users{}
	if list == "" {
		return us, nil
	}
	for _, pair := range strings.Split(list, ",") {
		name, password, ok := strings.Cut(pair, ":")
		if !ok || name == "" || password == "" {
			return nil, fmt.Errorf("-users: %q is not name:password", pair)
		}
		prepared, err := sasl.PrepareUsername(name)
		if err != nil {
			return nil, fmt.Errorf("-users: user name %q: %w", name, err)
		}
		if _, dup := us[prepared]; dup {
			return nil, fmt.Errorf("-users: user %q is listed twice", name)
		}
		u := &user{password: password}
		if u.scram1, err = sasl.NewScramCredentials(sha1.New, password, nil, scramIterations); err != nil {
			return nil, fmt.Errorf("-users: password of %q: %w", name, err)
		}
		if u.scram256, err = sasl.NewScramCredentials(sha256.New, password, nil, scramIterations); err != nil {
			return nil, fmt.Errorf("-users: password of %q: %w", name, err)
		}
		us[prepared] = u
	}
	return us, nil
}

// server returns the server side of mech for one AUTH exchange (RFC 4954);
// hostname goes into CRAM-MD5's challenge, and cbs, the connection's
// channel bindings (none without TLS), bind SCRAM: one is required by the
// -PLUS variants, and they make the others refuse a client that was led to
// believe -PLUS is not offered (RFC 5802 section 6).
func (us users) server(mech, hostname string, cbs ...sasl.ChannelBinding) (sasl.Server, error) {
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(authzid, name, password string) error {
			// Acting as someone else (an authorization identity other
			// than one's own, RFC 4616 section 2) is not allowed here.
			if authzid != "" && authzid != name {
				return fmt.Errorf("%w: may not act as %q", sasl.ErrInvalidCredentials, authzid)
			}
			return us.check(name, password)
		}), nil
	case sasl.Login:
		return sasl.NewLoginServer(us.check), nil
	case sasl.CramMD5:
		return sasl.NewCramMD5Server(hostname, func(name string) (string, error) {
			if u := us.lookup(name); u != nil {
				return u.password, nil
			}
			return "", sasl.ErrInvalidCredentials
		}), nil
	case sasl.ScramSHA1, sasl.ScramSHA1Plus:
		return sasl.NewScramServer(mech, us.scram(func(u *user) sasl.ScramCredentials { return u.scram1 }), cbs...), nil
	case sasl.ScramSHA256, sasl.ScramSHA256Plus:
		return sasl.NewScramServer(mech, us.scram(func(u *user) sasl.ScramCredentials { return u.scram256 }), cbs...), nil
	}
	return nil, fmt.Errorf("mechanism %s is not offered", mech)
}

// scram returns a SCRAM server's credential lookup, giving keys(user).
// The SCRAM servers hand it the name already prepared with
// sasl.PrepareUsername, as the map's keys are, so it is looked up as is.
func (us users) scram(keys func(*user) sasl.ScramCredentials) func(string) (sasl.ScramCredentials, error) {
	return func(name string) (sasl.ScramCredentials, error) {
		if u := us[name]; u != nil {
			return keys(u), nil
		}
		return sasl.ScramCredentials{}, sasl.ErrInvalidCredentials
	}
}

// check compares a password in constant time.
func (us users) check(name, password string) error {
	u := us.lookup(name)
	if u == nil || subtle.ConstantTimeCompare([]byte(u.password), []byte(password)) != 1 {
		return sasl.ErrInvalidCredentials
	}
	return nil
}

// lookup finds a user by the name the client sent, prepared as the keys
// are; nil when unknown.
func (us users) lookup(name string) *user {
	prepared, err := sasl.PrepareUsername(name)
	if err != nil {
		return nil
	}
	return us[prepared]
}
