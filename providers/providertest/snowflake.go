package providertest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
)

// Snowflake is a double of Snowflake's SQL API v2 (POST /api/v2/statements
// with a key-pair JWT) and of the password login and query endpoints.
type Snowflake struct {
	URL      string
	Account  string // upper case, e.g. "XY12345"
	User     string // upper case
	Password string
	Key      KeyPair
	Requests atomic.Int64
}

const snowflakeSession = "sf-double-session-token"

// NewSnowflake starts the double.
func NewSnowflake(t TB, account, user, password string, key KeyPair) *Snowflake {
	t.Helper()
	d := &Snowflake{Account: strings.ToUpper(account), User: strings.ToUpper(user), Password: password, Key: key}
	srv := httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(srv.Close)
	d.URL = srv.URL
	return d
}

// Endpoints points the snowflake provider at the double.
func (d *Snowflake) Endpoints() map[string]string {
	return map[string]string{"snowflake.base_url": d.URL}
}

func (d *Snowflake) serve(w http.ResponseWriter, r *http.Request) {
	d.Requests.Add(1)
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/api/v2/statements":
		token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		_, claims, err := verifyRS256(token, &d.Key.Key.PublicKey)
		wantIss := d.Account + "." + d.User + "." + d.Key.Fingerprint()
		if err != nil || r.Header.Get("X-Snowflake-Authorization-Token-Type") != "KEYPAIR_JWT" ||
			claims["iss"] != wantIss || claims["sub"] != d.Account+"."+d.User {
			writeJSON(w, 401, map[string]any{"code": "390144", "message": "JWT token is invalid.", "sqlState": "08001"})
			return
		}
		var body struct {
			Statement string `json:"statement"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		if strings.TrimSpace(strings.ToUpper(body.Statement)) != "SELECT 1" {
			writeJSON(w, 422, map[string]any{"code": "000904", "message": "unsupported in the double"})
			return
		}
		writeJSON(w, 200, map[string]any{"code": "090001", "statementHandle": "01b2-double", "message": "Statement executed successfully.",
			"resultSetMetaData": map[string]any{"numRows": 1, "rowType": []map[string]any{{"name": "1", "type": "fixed"}}},
			"data":              [][]string{{"1"}}})
	case "/session/v1/login-request":
		var body struct {
			Data map[string]string `json:"data"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body.Data["ACCOUNT_NAME"] != d.Account || strings.ToUpper(body.Data["LOGIN_NAME"]) != d.User || body.Data["PASSWORD"] != d.Password {
			writeJSON(w, 200, map[string]any{"data": map[string]any{"nextAction": nil}, "code": "390100",
				"message": "Incorrect username or password was specified.", "success": false})
			return
		}
		writeJSON(w, 200, map[string]any{"data": map[string]any{"token": snowflakeSession, "masterToken": "m"}, "success": true})
	case "/queries/v1/query-request":
		if r.Header.Get("Authorization") != `Snowflake Token="`+snowflakeSession+`"` {
			writeJSON(w, 200, map[string]any{"code": "390104", "message": "User must login again.", "success": false})
			return
		}
		writeJSON(w, 200, map[string]any{"data": map[string]any{"rowset": [][]string{{"1"}}}, "success": true})
	default:
		http.NotFound(w, r)
	}
}
