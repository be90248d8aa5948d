package providertest

import (
	"encoding/json"
	"net/http"
)

// writeJSON answers v as JSON with status; the doubles' shared reply.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
