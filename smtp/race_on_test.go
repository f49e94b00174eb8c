//go:build race

package smtp

// raceEnabled is true when the tests run under the race detector, whose
// instrumentation makes stacks about twice as deep.
const raceEnabled = true
