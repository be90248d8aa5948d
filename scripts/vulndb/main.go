// Command vulndb builds the offline Go vulnerability database that `make verify`
// hands to govulncheck, and judges govulncheck's findings.
//
//	go run ./scripts/vulndb golang.org/x/vulndb@VERSION [CACHE]
//	govulncheck -format json ./... | go run ./scripts/vulndb check [ACCEPTED-ID...]
//
// The first form fetches that version of the golang.org/x/vulndb module through the module
// proxy (go mod download). The module holds the reports as one OSV file per entry
// in data/osv but not the v1 index govulncheck's -db file://DIR needs
// (https://go.dev/security/vuln/database#api), so this writes it:
//
//	index/db.json       {"modified": the module version's commit time}
//	index/modules.json  [{"path": module, "vulns": [{"id", "modified"}]}]
//	index/vulns.json    [{"id", "modified", "aliases"}]
//	ID/<id>.json        the OSV entry, byte for byte
//
// into DIR = CACHE/VERSION (CACHE defaults to .data/vulndb) and prints DIR. A DIR
// already built is reused; other versions in CACHE are removed.
//
// modules.json leaves out the optional "fixed" version, so govulncheck reads every
// entry of a module in the build and decides by the entry's own version ranges,
// as it does for any entry without a fix.
//
// check is in check.go.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

type entry struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases,omitempty"`
	Affected []struct {
		Package struct {
			Name string `json:"name"`
		} `json:"package"`
	} `json:"affected"`
}

type moduleVuln struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
}

type module struct {
	Path  string       `json:"path"`
	Vulns []moduleVuln `json:"vulns"`
}

type vuln struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases,omitempty"`
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("vulndb: ")
	if len(os.Args) >= 2 && os.Args[1] == "check" {
		if err := check(os.Stdin, os.Stdout, os.Args[2:]); err != nil {
			log.Fatal(err)
		}
		return
	}
	if len(os.Args) < 2 || len(os.Args) > 3 {
		log.Fatal("usage: go run ./scripts/vulndb golang.org/x/vulndb@VERSION [CACHE]\n" +
			"       govulncheck -format json ./... | go run ./scripts/vulndb check [ACCEPTED-ID...]")
	}
	modVersion, cache := os.Args[1], ".data/vulndb"
	if len(os.Args) == 3 {
		cache = os.Args[2]
	}
	_, version, _ := strings.Cut(modVersion, "@")
	if !strings.HasPrefix(version, "v") || strings.ContainsAny(version, `/\`) {
		log.Fatalf("%s: pin an exact module version", modVersion)
	}
	cache, err := filepath.Abs(cache)
	if err != nil {
		log.Fatal(err)
	}
	dir := filepath.Join(cache, version)
	if !built(dir) {
		if err := build(modVersion, version, cache, dir); err != nil {
			log.Fatal(err)
		}
	}
	prune(cache, version)
	fmt.Println(dir)
}

func built(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "index", "modules.json"))
	return err == nil
}

// build writes the database into a temporary folder and renames it to dir, so
// dir is complete or absent.
func build(modVersion, version, cache, dir string) error {
	src, modified, err := download(modVersion, version)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(cache, ".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := index(filepath.Join(src, "data", "osv"), tmp, modified); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil && !built(dir) {
		return err
	}
	return nil
}

// download fetches the module and returns its folder and its commit time.
func download(modVersion, version string) (dir string, modified time.Time, err error) {
	cmd := exec.Command("go", "mod", "download", "-json", modVersion)
	cmd.Stderr = os.Stderr
	out, runErr := cmd.Output()
	var m struct{ Version, Dir, Info, Error string }
	if err := json.Unmarshal(out, &m); err != nil || runErr != nil || m.Error != "" {
		return "", time.Time{}, fmt.Errorf("go mod download %s: %v", modVersion, errors.Join(runErr, err, errorString(m.Error)))
	}
	if m.Version != version {
		return "", time.Time{}, fmt.Errorf("%s resolved to %s: pin an exact module version", modVersion, m.Version)
	}
	info, err := os.ReadFile(m.Info)
	if err != nil {
		return "", time.Time{}, err
	}
	var i struct{ Time time.Time }
	if err := json.Unmarshal(info, &i); err != nil {
		return "", time.Time{}, fmt.Errorf("%s: %v", m.Info, err)
	}
	return m.Dir, i.Time, nil
}

func errorString(s string) error {
	if s == "" {
		return nil
	}
	return errors.New(s)
}

// index copies every OSV file of src into out/ID and writes out/index.
func index(src, out string, modified time.Time) error {
	files, err := filepath.Glob(filepath.Join(src, "*.json"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("%s holds no OSV entries", src)
	}
	if err := os.MkdirAll(filepath.Join(out, "ID"), 0o755); err != nil {
		return err
	}
	modules := map[string]*module{}
	var vulns []vuln
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var e entry
		if err := json.Unmarshal(b, &e); err != nil {
			return fmt.Errorf("%s: %v", f, err)
		}
		if e.ID == "" || filepath.Base(f) != e.ID+".json" {
			return fmt.Errorf("%s: entry id is %q", f, e.ID)
		}
		if err := os.WriteFile(filepath.Join(out, "ID", e.ID+".json"), b, 0o644); err != nil {
			return err
		}
		if e.Modified.After(modified) {
			modified = e.Modified
		}
		vulns = append(vulns, vuln{ID: e.ID, Modified: e.Modified, Aliases: e.Aliases})
		for _, a := range e.Affected {
			m := modules[a.Package.Name]
			if m == nil {
				m = &module{Path: a.Package.Name}
				modules[a.Package.Name] = m
			}
			if n := len(m.Vulns); n == 0 || m.Vulns[n-1].ID != e.ID { // once per module
				m.Vulns = append(m.Vulns, moduleVuln{ID: e.ID, Modified: e.Modified})
			}
		}
	}
	paths := make([]string, 0, len(modules))
	for p := range modules {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	mods := make([]*module, len(paths))
	for i, p := range paths {
		mods[i] = modules[p]
	}
	// Glob sorts, so vulns and each module's vulns are in id order.
	for name, v := range map[string]any{
		"db.json":      map[string]time.Time{"modified": modified},
		"modules.json": mods,
		"vulns.json":   vulns,
	} {
		if err := writeJSON(filepath.Join(out, "index", name), v); err != nil {
			return err
		}
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// prune removes the databases of other versions from cache.
func prune(cache, keep string) {
	dirs, _ := os.ReadDir(cache)
	for _, d := range dirs {
		if d.IsDir() && d.Name() != keep && strings.HasPrefix(d.Name(), "v") {
			os.RemoveAll(filepath.Join(cache, d.Name()))
		}
	}
}
