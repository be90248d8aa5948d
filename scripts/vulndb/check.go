package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"
)

// message is one value of the stream `govulncheck -format json` writes
// (golang.org/x/vuln/internal/govulncheck), with the fields check reads.
type message struct {
	Config *struct {
		GoVersion string `json:"go_version"`
		DB        string `json:"db"`
	} `json:"config"`
	OSV *struct {
		ID      string `json:"id"`
		Summary string `json:"summary"`
	} `json:"osv"`
	Finding *struct {
		OSV          string  `json:"osv"`
		FixedVersion string  `json:"fixed_version"`
		Trace        []frame `json:"trace"`
	} `json:"finding"`
}

// frame is one step of a finding's trace, from the vulnerable symbol (first)
// to the entry point in this module (last).
type frame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
	Receiver string `json:"receiver"`
	Position *struct {
		Filename string `json:"filename"`
		Line     int    `json:"line"`
		Column   int    `json:"column"`
	} `json:"position"`
}

// name is the function as govulncheck prints it: pkg.Recv.Func.
func (f frame) name() string {
	dir, pkg := path.Split(f.Package)
	if strings.HasPrefix(pkg, "v") && strings.Trim(pkg[1:], "0123456789") == "" && dir != "" {
		pkg = path.Base(dir) // echo/v4 is package echo
	}
	if f.Receiver != "" {
		pkg += "." + strings.TrimPrefix(f.Receiver, "*")
	}
	return pkg + "." + f.Function
}

func (f frame) at() string {
	if f.Position == nil || f.Position.Line == 0 {
		return ""
	}
	return fmt.Sprintf("%s:%d:%d: ", f.Position.Filename, f.Position.Line, f.Position.Column)
}

// check fails, as govulncheck's text mode does, when the code calls a
// vulnerable symbol (a finding whose trace reaches a function), unless the
// vulnerability's id is accepted. Findings only in imported packages or
// required modules are counted, not failed.
func check(r io.Reader, w io.Writer, accepted []string) error {
	summaries := map[string]string{}
	type call struct {
		trace []frame
		fixed string
	}
	called := map[string]call{}
	notCalled := map[string]bool{}
	scanned := false
	dec := json.NewDecoder(r)
	for {
		var m message
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("reading govulncheck -format json: %v", err)
		}
		switch {
		case m.Config != nil:
			scanned = true
			fmt.Fprintf(w, "govulncheck with %s, database %s\n", m.Config.GoVersion, m.Config.DB)
		case m.OSV != nil:
			summaries[m.OSV.ID] = m.OSV.Summary
		case m.Finding != nil && len(m.Finding.Trace) > 0:
			f := m.Finding
			if f.Trace[0].Function == "" {
				notCalled[f.OSV] = true
			} else if c, ok := called[f.OSV]; !ok || shorter(f.Trace, c.trace) {
				called[f.OSV] = call{f.Trace, f.FixedVersion} // the shortest trace is the example
			}
		}
	}
	if !scanned {
		return errors.New("no govulncheck output")
	}
	ids := make([]string, 0, len(called))
	for id := range called {
		ids = append(ids, id)
		delete(notCalled, id)
	}
	sort.Strings(ids)
	var failed []string
	for _, id := range ids {
		c := called[id]
		verdict := "accepted in the Makefile"
		if !slices.Contains(accepted, id) {
			verdict, failed = "CALLED", append(failed, id)
		}
		fixed := "fixed in " + c.fixed
		if c.fixed == "" {
			fixed = "no fixed version"
		}
		v := c.trace[0]
		fmt.Fprintf(w, "%s (%s) %s@%s, %s: %s\n", id, verdict, v.Module, v.Version, fixed, summaries[id])
		entry := c.trace[len(c.trace)-1]
		fmt.Fprintf(w, "    e.g. %s%s calls ... %s\n", entry.at(), entry.name(), v.name())
	}
	for _, id := range accepted {
		if _, ok := called[id]; !ok {
			fmt.Fprintf(w, "%s is accepted but no longer called: drop it from the Makefile\n", id)
		}
	}
	fmt.Fprintf(w, "%d vulnerabilities called, %d accepted; %d more in imported packages or required modules, not called (-show verbose lists them)\n",
		len(ids), len(ids)-len(failed), len(notCalled))
	if len(failed) > 0 {
		return fmt.Errorf("the code calls vulnerable symbols: %s", strings.Join(failed, ", "))
	}
	return nil
}

func shorter(a, b []frame) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	ea, eb := a[len(a)-1], b[len(b)-1]
	return ea.at()+ea.name() < eb.at()+eb.name()
}
