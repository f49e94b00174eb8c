package main

import (
	"crypto/subtle"
	"fmt"
	"strings"

	"github.com/postwire/postwire/sasl"
	"github.com/postwire/postwire/smtp"
)

// mechanisms are the SASL mechanisms the relay offers, strongest first
// (RFC 4954 section 3 lets the client choose); all need TLS, which the
// relay requires for AUTH.
var mechanisms = []string{sasl.CramMD5, sasl.Plain, sasl.Login}

// account is one user of -users: its password and the envelope senders
// it may use.
type account struct {
	password string
	senders  []string // addresses, compared by senderMatches
}

// accounts are the users that may submit, by name as given in -users.
type accounts map[string]*account

// parseAccounts reads -users ("name:password,...") and -senders
// ("user=addr+addr,..."). A user whose name is an address may send as
// that address; -senders adds others.
func parseAccounts(users, senders string) (accounts, error) {
	as := accounts{}
	for _, pair := range strings.Split(users, ",") {
		name, password, ok := strings.Cut(pair, ":")
		if !ok || name == "" || password == "" {
			return nil, fmt.Errorf("-users: %q is not name:password", pair)
		}
		if as[name] != nil {
			return nil, fmt.Errorf("-users: user %q is listed twice", name)
		}
		a := &account{password: password}
		if strings.Contains(name, "@") {
			a.senders = append(a.senders, name)
		}
		as[name] = a
	}
	if senders == "" {
		return as, nil
	}
	for _, item := range strings.Split(senders, ",") {
		name, list, ok := strings.Cut(item, "=")
		a := as[name]
		if !ok || a == nil || list == "" {
			return nil, fmt.Errorf("-senders: %q is not user=addr+addr with a user of -users", item)
		}
		for _, addr := range strings.Split(list, "+") {
			if !strings.Contains(addr, "@") {
				return nil, fmt.Errorf("-senders: %q is not an address", addr)
			}
			a.senders = append(a.senders, addr)
		}
	}
	return as, nil
}

// mayUse reports whether user may give from as the envelope sender: one of
// its addresses, the domain compared without regard to case (RFC 5321
// section 2.4), the local part exactly. The null sender "" is for bounces,
// which a submission client does not send.
func (as accounts) mayUse(user, from string) bool {
	a := as[user]
	if a == nil || from == "" {
		return false
	}
	for _, s := range a.senders {
		if senderMatches(s, from) {
			return true
		}
	}
	return false
}

func senderMatches(owned, from string) bool {
	ol, od, _ := strings.Cut(owned, "@")
	fl, fd, ok := strings.Cut(from, "@")
	return ok && ol == fl && strings.EqualFold(od, fd)
}

// errNotOwned refuses an envelope sender the user does not own (RFC 6409
// section 6.1; RFC 3463 5.7.1, delivery not authorized).
func errNotOwned(user, from string) *smtp.Error {
	return &smtp.Error{Code: 553, Enhanced: smtp.EnhancedCode{5, 7, 1},
		Message: fmt.Sprintf("Sender address <%s> not owned by user %s", from, user)}
}

// server returns the server side of mech for one AUTH exchange.
func (as accounts) server(mech, hostname string) (sasl.Server, error) {
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(authzid, name, password string) error {
			if authzid != "" && authzid != name {
				return fmt.Errorf("%w: may not act as %q", sasl.ErrInvalidCredentials, authzid)
			}
			return as.check(name, password)
		}), nil
	case sasl.Login:
		return sasl.NewLoginServer(as.check), nil
	case sasl.CramMD5:
		return sasl.NewCramMD5Server(hostname, func(name string) (string, error) {
			if a := as[name]; a != nil {
				return a.password, nil
			}
			return "", sasl.ErrInvalidCredentials
		}), nil
	}
	return nil, fmt.Errorf("mechanism %s is not offered", mech)
}

// check compares a password in constant time.
func (as accounts) check(name, password string) error {
	a := as[name]
	if a == nil || subtle.ConstantTimeCompare([]byte(a.password), []byte(password)) != 1 {
		return sasl.ErrInvalidCredentials
	}
	return nil
}
