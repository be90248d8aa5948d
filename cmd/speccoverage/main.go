// Command speccoverage checks that the test suite exercised the spec: every
// (operation, documented status) pair of openapi.yaml was answered by at
// least one test, and no test saw an operation answer a status the spec
// does not document. Its input is the file the test servers append to
// (connvaulttest.CoverageEnv). It prints the table and exits 1 on a gap.
package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/connvault/connvault/gen"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: speccoverage STATUS_FILE")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "speccoverage:", err)
		os.Exit(1)
	}
}

type pair struct{ op, status string }

func run(file string) error {
	spec, err := gen.GetSpec()
	if err != nil {
		return err
	}
	spec.Servers = nil
	router, err := gorillamux.NewRouter(spec)
	if err != nil {
		return err
	}
	documented := map[pair]bool{}
	var ops []string
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			name := op.OperationID + " (" + method + " " + path + ")"
			ops = append(ops, name)
			for code := range op.Responses.Map() {
				documented[pair{name, code}] = true
			}
		}
	}
	sort.Strings(ops)

	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	seen := map[pair]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			continue
		}
		req, _ := http.NewRequest(fields[0], "http://x"+fields[1], nil)
		route, _, err := router.FindRoute(req)
		if err != nil {
			continue // unknown routes and methods belong to no operation
		}
		name := route.Operation.OperationID + " (" + fields[0] + " " + route.Path + ")"
		seen[pair{name, fields[2]}]++
	}
	if err := sc.Err(); err != nil {
		return err
	}

	var gaps []string
	fmt.Printf("%-82s %-6s %s\n", "operation", "status", "answers in tests")
	for _, op := range ops {
		var codes []string
		for p := range documented {
			if p.op == op {
				codes = append(codes, p.status)
			}
		}
		for p := range seen {
			if p.op == op && !documented[p] {
				codes = append(codes, p.status)
			}
		}
		sort.Slice(codes, func(i, j int) bool { a, _ := strconv.Atoi(codes[i]); b, _ := strconv.Atoi(codes[j]); return a < b })
		for _, code := range codes {
			p := pair{op, code}
			mark := strconv.Itoa(seen[p])
			switch {
			case !documented[p]:
				mark += "  UNDOCUMENTED"
				gaps = append(gaps, op+" answered "+code+", which the spec does not document")
			case seen[p] == 0:
				mark = "0  GAP: no test produces it"
				gaps = append(gaps, op+" "+code+" is produced by no test")
			}
			fmt.Printf("%-82s %-6s %s\n", op, code, mark)
		}
	}
	if len(gaps) > 0 {
		return fmt.Errorf("%d gaps:\n  %s", len(gaps), strings.Join(gaps, "\n  "))
	}
	fmt.Printf("spec coverage: all %d documented (operation, status) pairs produced; nothing undocumented\n", len(documented))
	return nil
}
