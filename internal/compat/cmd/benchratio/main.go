// Command benchratio reads `go test -bench` output and prints, for each
// benchmark run with sub-benchmarks impl=postwire… and impl=<other>, the
// median ns/op of each and the ratio other/ours: how many times faster
// Postwire is, in the same run. It is what benchstat does not compute
// across the impl= key.
//
// usage: go run ./cmd/benchratio < bench.txt
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// targets are the ratios issue 6 asks for, by benchmark and other impl.
var targets = map[string]float64{
	"ServerPipelined|gosmtp":      2.2,
	"ServerLargeBody|gosmtp":      2,
	"Client/sink=postwire|gosmtp": 3,
	"Client/sink=gosmtp|gosmtp":   3,
	"DataDecoder|textproto":       10,
}

func main() {
	runs, order := parse(os.Stdin)
	fmt.Printf("%-26s %-19s %14s  %-10s %14s  %7s  %s\n", "benchmark", "ours", "ns/op (med)", "other", "ns/op (med)", "ratio", "target")
	for _, name := range order {
		impls := runs[name]
		var ours, others []string
		for impl := range impls {
			if strings.HasPrefix(impl, "postwire") {
				ours = append(ours, impl)
			} else {
				others = append(others, impl)
			}
		}
		slices.Sort(ours)
		slices.Sort(others)
		for _, o := range ours {
			for _, x := range others {
				mo, mx := median(impls[o]), median(impls[x])
				target := ""
				if t, ok := targets[name+"|"+x]; ok {
					verdict := "met"
					if mx/mo < t {
						verdict = "MISSED"
					}
					target = fmt.Sprintf(">= %g %s", t, verdict)
				}
				fmt.Printf("%-26s %-19s %14.0f  %-10s %14.0f  %6.2fx  %s\n", name, o, mo, x, mx, mx/mo, target)
			}
		}
	}
}

// parse collects ns/op by benchmark (impl= element removed) and impl.
func parse(r io.Reader) (map[string]map[string][]float64, []string) {
	runs := map[string]map[string][]float64{}
	var order []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || f[3] != "ns/op" {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i] // the GOMAXPROCS suffix
		}
		var parts []string
		impl := ""
		for _, p := range strings.Split(name, "/") {
			if v, ok := strings.CutPrefix(p, "impl="); ok {
				impl = v
			} else {
				parts = append(parts, p)
			}
		}
		ns, err := strconv.ParseFloat(f[2], 64)
		if impl == "" || err != nil {
			continue
		}
		base := strings.Join(parts, "/")
		if runs[base] == nil {
			runs[base] = map[string][]float64{}
			order = append(order, base)
		}
		runs[base][impl] = append(runs[base][impl], ns)
	}
	return runs, order
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
