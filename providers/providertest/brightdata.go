package providertest

import (
	"net/http"
)

// Bright Data names the double knows.
const (
	BrightDataZone    = "web_unlocker1"
	BrightDataDataset = "gd_l1viktl72bvl7bjuj0"
)

// BrightData is a double of Bright Data's API: GET /zone/get_active_zones
// (zone BrightDataZone) and GET /datasets/v3/snapshots (dataset
// BrightDataDataset), bearer token. A wrong token gets a 401 in plain
// text that echoes the Authorization header, so tests prove the check
// never repeats a provider's error text.
type BrightData struct {
	Server
	Token string
}

// NewBrightData starts the double; it stops when the test ends.
func NewBrightData(t TB, token string) *BrightData {
	t.Helper()
	d := &BrightData{Token: token}
	d.start(t, d.serve, map[string]string{"brightdata.api_base": ""})
	return d
}

func (d *BrightData) serve(w http.ResponseWriter, r *http.Request) {
	if auth := r.Header.Get("Authorization"); auth != "Bearer "+d.Token {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte("Customer not found for token " + auth))
		return
	}
	if r.Method != http.MethodGet {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": "method not allowed"})
		return
	}
	switch r.URL.Path {
	case "/zone/get_active_zones":
		writeJSON(w, http.StatusOK, []map[string]any{{"name": BrightDataZone, "type": "unblocker"}, {"name": "serp_api1", "type": "serp"}})
	case "/datasets/v3/snapshots":
		q := r.URL.Query()
		if q.Get("dataset_id") != BrightDataDataset {
			writeJSON(w, http.StatusNotFound, map[string]any{"error": "Dataset not found"})
			return
		}
		snaps := []map[string]any{{"id": "s_m4x7enmven8djfqak", "created": "2026-11-24T12:00:00Z", "status": "ready", "dataset_id": BrightDataDataset, "dataset_size": 1000}}
		if s := q.Get("status"); s != "" && s != "ready" {
			snaps = snaps[:0]
		}
		writeJSON(w, http.StatusOK, snaps)
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "Not found"})
	}
}
