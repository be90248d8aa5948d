package connvaulttest

import (
	"fmt"
	"net/http"
	"os"
	"sync"
)

// CoverageEnv names the file where test servers append one line per
// answer ("METHOD PATH STATUS"); cmd/speccoverage then checks that every
// status the spec documents was produced and nothing else was.
const CoverageEnv = "CONNVAULT_SPEC_COVERAGE"

var coverageMu sync.Mutex

func recordStatuses(next http.Handler) http.Handler {
	path := os.Getenv(CoverageEnv)
	if path == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		coverageMu.Lock()
		defer coverageMu.Unlock()
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return
		}
		defer f.Close()
		fmt.Fprintf(f, "%s %s %d\n", r.Method, r.URL.EscapedPath(), rec.status)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}
