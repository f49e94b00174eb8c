package compat

import "testing"

// TEMPORARY until smtp.Server lands.
func startOurs(t testing.TB, cfg recvConfig) *receiver { return startGoSMTP(t, cfg) }
