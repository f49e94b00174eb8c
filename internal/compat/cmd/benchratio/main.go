// Command benchratio reads `go test -bench` output and prints, for each
// benchmark that measured Postwire beside another implementation in the
// same run, the median of each and the ratio other/ours: how many times
// faster (or cheaper) Postwire is. It is what benchstat does not compute
// across implementations. Two shapes are understood:
//
//   - sub-benchmarks impl=postwire… and impl=<other>: their ns/op;
//   - one benchmark reporting <impl>-cpu-µs/op for each implementation
//     (BenchmarkServerPipelinedCPU, BenchmarkClientCPU): those CPU times,
//     measured in turn in each op.
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

// targets are the ratios over go-smtp that Postwire sets itself (the
// Figures table of internal/compat/README.md), by benchmark, other impl
// and unit.
var targets = map[string]float64{
	"ServerPipelined|gosmtp|ns/op":                 2.2,
	"ServerPipelinedCPU/conns=1|gosmtp|cpu-µs/op":  2.2,
	"ServerPipelinedCPU/conns=10|gosmtp|cpu-µs/op": 2.2,
	"ServerLargeBody|gosmtp|ns/op":                 2,
	"Client/sink=postwire|gosmtp|ns/op":            3,
	"Client/sink=gosmtp|gosmtp|ns/op":              3,
	"ClientCPU/sink=postwire|gosmtp|cpu-µs/op":     3,
	"ClientCPU/sink=gosmtp|gosmtp|cpu-µs/op":       3,
	"DataDecoder|textproto|ns/op":                  10,
}

// cpuSuffix marks a per-implementation CPU metric: <impl>-cpu-µs/op.
const cpuSuffix = "-cpu-µs/op"

// samples are one benchmark's values, by implementation, then unit.
type samples map[string]map[string][]float64

func main() {
	runs, order := parse(os.Stdin)
	fmt.Printf("%-30s %-10s %-19s %12s  %-10s %12s  %7s  %s\n",
		"benchmark", "unit", "ours", "ours (med)", "other", "other (med)", "ratio", "target")
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
				for _, unit := range []string{"ns/op", "cpu-µs/op"} {
					vo, vx := impls[o][unit], impls[x][unit]
					if len(vo) > 0 && len(vx) > 0 {
						fmt.Println(row(name, unit, o, x, median(vo), median(vx)))
					}
				}
			}
		}
	}
}

// row is one line of the table: the medians of ours and of the other
// implementation, their ratio and, where the targets set one, the target
// and whether it is met.
func row(name, unit, ours, other string, mo, mx float64) string {
	ratio, target := "-", "(too short a run to measure)" // a CPU time under one tick
	if mo != 0 {
		ratio, target = fmt.Sprintf("%6.2fx", mx/mo), ""
		if t, ok := targets[name+"|"+other+"|"+unit]; ok {
			verdict := "met"
			if mx/mo < t {
				verdict = fmt.Sprintf("MISSED by %.0f%%", 100*(1-mx/mo/t))
			}
			target = fmt.Sprintf(">= %g %s", t, verdict)
		}
	}
	return fmt.Sprintf("%-30s %-10s %-19s %12s  %-10s %12s  %7s  %s",
		name, unit, ours, format(mo), other, format(mx), ratio, target)
}

// parse collects the values by benchmark (impl= element removed), impl and
// unit, keeping the order in which benchmarks first appear.
func parse(r io.Reader) (map[string]samples, []string) {
	runs := map[string]samples{}
	var order []string
	add := func(base, impl, unit string, v float64) {
		if runs[base] == nil {
			runs[base] = samples{}
			order = append(order, base)
		}
		if runs[base][impl] == nil {
			runs[base][impl] = map[string][]float64{}
		}
		runs[base][impl][unit] = append(runs[base][impl][unit], v)
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
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
		base := strings.Join(parts, "/")
		// After the name and the iteration count come value-unit pairs.
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			unit := f[i+1]
			switch {
			case impl != "" && unit == "ns/op":
				add(base, impl, unit, v)
			case impl == "" && strings.HasSuffix(unit, cpuSuffix):
				add(base, strings.TrimSuffix(unit, cpuSuffix), "cpu-µs/op", v)
			}
		}
	}
	return runs, order
}

// format prints a median with three significant digits at least.
func format(v float64) string {
	if v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
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
