package providertest

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Snowflake is a double of Snowflake's SQL API v2 (POST /api/v2/statements
// with a key-pair JWT, GET of a statement's status) and of the endpoints
// the drivers use with a password (login-request, query-request, result
// polling, session delete). A JWT is accepted when Key signed it, its iss
// is ACCOUNT.USER.SHA256:<fingerprint of Key> and its life is at most an
// hour. A warehouse, database, schema or role containing "MISSING" fails
// the query with code 002003. Refusals use Snowflake's real shapes.
type Snowflake struct {
	Server
	Account  string // upper case, e.g. "XY12345"
	User     string // upper case
	Password string
	Key      KeyPair
	// Logouts counts sessions closed with POST /session?delete=true.
	Logouts atomic.Int64

	pending atomic.Int64 // polls left before a running statement completes
	async   atomic.Int64 // statements to answer as "still running"
	mu      sync.Mutex
	bodies  []map[string]any
}

const snowflakeSession = "sf-double-session-token"

// NewSnowflake starts the double.
func NewSnowflake(t TB, account, user, password string, key KeyPair) *Snowflake {
	t.Helper()
	d := &Snowflake{Account: strings.ToUpper(account), User: strings.ToUpper(user), Password: password, Key: key}
	d.start(t, d.serve, map[string]string{"snowflake.base_url": ""})
	return d
}

// RunAsync makes the next statement answer "still running" (SQL API 202,
// query-request code 333334) for polls status checks before completing, as
// when a suspended warehouse resumes.
func (d *Snowflake) RunAsync(polls int) {
	d.pending.Store(int64(polls))
	d.async.Store(1)
}

// LastStatement is the JSON body of the last SQL API statement request.
func (d *Snowflake) LastStatement() map[string]any {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.bodies) == 0 {
		return nil
	}
	return d.bodies[len(d.bodies)-1]
}

func (d *Snowflake) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/api/v2/statements" && r.Method == http.MethodPost:
		if d.jwtOK(w, r) {
			d.statement(w, r)
		}
	case strings.HasPrefix(r.URL.Path, "/api/v2/statements/") && r.Method == http.MethodGet:
		if d.jwtOK(w, r) {
			d.poll(w, false)
		}
	case r.URL.Path == "/session/v1/login-request" && r.Method == http.MethodPost:
		d.login(w, r)
	case r.URL.Path == "/queries/v1/query-request" && r.Method == http.MethodPost:
		if d.sessionOK(w, r) {
			d.query(w, r)
		}
	case strings.HasPrefix(r.URL.Path, "/queries/") && strings.HasSuffix(r.URL.Path, "/result") && r.Method == http.MethodGet:
		if d.sessionOK(w, r) {
			d.poll(w, true)
		}
	case r.URL.Path == "/session" && r.URL.Query().Get("delete") == "true" && r.Method == http.MethodPost:
		if d.sessionOK(w, r) {
			d.Logouts.Add(1)
			writeJSON(w, 200, map[string]any{"data": nil, "code": nil, "message": nil, "success": true})
		}
	default:
		writeJSON(w, 404, map[string]any{"code": "390404", "message": "Not found."})
	}
}

// jwtOK verifies a SQL API request's key-pair JWT as Snowflake does.
func (d *Snowflake) jwtOK(w http.ResponseWriter, r *http.Request) bool {
	token, bearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	_, claims, err := verifyRS256(token, &d.Key.Key.PublicKey)
	wantSub := d.Account + "." + d.User
	if !bearer || err != nil || r.Header.Get("X-Snowflake-Authorization-Token-Type") != "KEYPAIR_JWT" ||
		claims["iss"] != wantSub+"."+d.Key.Fingerprint() || claims["sub"] != wantSub || lifetime(claims) > time.Hour {
		writeJSON(w, 401, map[string]any{"code": "390144", "message": "JWT token is invalid. [00000000-0000-0000-0000-000000000000]"})
		return false
	}
	return true
}

func (d *Snowflake) statement(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		writeJSON(w, 415, map[string]any{"code": "391903", "message": "Unsupported Content-Type."})
		return
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, 400, map[string]any{"code": "391902", "message": "Unable to parse the request body."})
		return
	}
	d.mu.Lock()
	d.bodies = append(d.bodies, body)
	d.mu.Unlock()
	if timeout, ok := body["timeout"].(float64); ok && (timeout < 0 || timeout != float64(int64(timeout))) {
		writeJSON(w, 400, map[string]any{"code": "391902", "message": "Invalid timeout."})
		return
	}
	if stmt, _ := body["statement"].(string); !strings.EqualFold(strings.TrimSpace(stmt), "SELECT 1") {
		writeJSON(w, 422, map[string]any{"code": "000904", "message": "the double only runs SELECT 1", "sqlState": "42000"})
		return
	}
	for _, k := range []string{"warehouse", "database", "schema", "role"} {
		if v, _ := body[k].(string); strings.Contains(strings.ToUpper(v), "MISSING") {
			writeJSON(w, 422, map[string]any{"code": "002003", "sqlState": "02000", "statementHandle": "01b2-double-failed",
				"message": "SQL compilation error:\nObject '" + v + "' does not exist or not authorized."})
			return
		}
	}
	if d.async.CompareAndSwap(1, 0) {
		writeJSON(w, 202, map[string]any{"code": "333334", "statementHandle": "01b2-double",
			"message":            "Asynchronous execution in progress. Use provided query id to perform query monitoring and management.",
			"statementStatusUrl": "/api/v2/statements/01b2-double?requestId=0"})
		return
	}
	d.poll(w, false)
}

// poll answers a status or result request: "still running" while polls
// are pending, then the result of SELECT 1 in the endpoint's format.
func (d *Snowflake) poll(w http.ResponseWriter, session bool) {
	if d.pending.Add(-1) >= 0 {
		if session {
			writeJSON(w, 200, map[string]any{"code": "333334", "success": true, "message": "Asynchronous execution in progress.",
				"data": map[string]any{"queryId": "01b2-double", "getResultUrl": "/queries/01b2-double/result"}})
		} else {
			writeJSON(w, 202, map[string]any{"code": "333334", "statementHandle": "01b2-double",
				"message": "Asynchronous execution in progress.", "statementStatusUrl": "/api/v2/statements/01b2-double?requestId=0"})
		}
		return
	}
	d.pending.Store(0)
	if session {
		writeJSON(w, 200, map[string]any{"data": map[string]any{"rowtype": []map[string]any{{"name": "1", "type": "fixed"}},
			"rowset": [][]string{{"1"}}, "total": 1, "queryId": "01b2-double"}, "code": nil, "message": nil, "success": true})
		return
	}
	writeJSON(w, 200, map[string]any{"code": "090001", "statementHandle": "01b2-double", "message": "Statement executed successfully.",
		"resultSetMetaData": map[string]any{"numRows": 1, "format": "jsonv2", "rowType": []map[string]any{{"name": "1", "type": "fixed"}}},
		"data":              [][]string{{"1"}}})
}

func (d *Snowflake) login(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Data map[string]any `json:"data"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	str := func(k string) string { s, _ := body.Data[k].(string); return s }
	if str("CLIENT_APP_ID") == "" || r.URL.Query().Get("request_id") == "" {
		writeJSON(w, 400, map[string]any{"code": "390400", "message": "Bad request.", "success": false})
		return
	}
	// Snowflake answers a refused login with 200 and success=false.
	if str("ACCOUNT_NAME") != d.Account || strings.ToUpper(str("LOGIN_NAME")) != d.User || str("PASSWORD") != d.Password {
		writeJSON(w, 200, map[string]any{"data": map[string]any{"nextAction": nil, "authnMethod": "USERNAME_PASSWORD"}, "code": "390100",
			"message": "Incorrect username or password was specified.", "success": false})
		return
	}
	for _, k := range []string{"warehouse", "databaseName", "schemaName", "roleName"} {
		if strings.Contains(strings.ToUpper(r.URL.Query().Get(k)), "MISSING") {
			writeJSON(w, 200, map[string]any{"data": nil, "code": "390201",
				"message": "The requested " + k + " does not exist or not authorized.", "success": false})
			return
		}
	}
	writeJSON(w, 200, map[string]any{"data": map[string]any{"token": snowflakeSession, "masterToken": "sf-double-master",
		"validityInSeconds": 3600, "sessionId": 1}, "code": nil, "message": nil, "success": true})
}

// sessionOK checks a session token the way Snowflake's query endpoints do:
// a refusal is still HTTP 200, with success=false.
func (d *Snowflake) sessionOK(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get("Authorization") != `Snowflake Token="`+snowflakeSession+`"` {
		writeJSON(w, 200, map[string]any{"data": nil, "code": "390104", "message": "User must login again to access the service.", "success": false})
		return false
	}
	return true
}

func (d *Snowflake) query(w http.ResponseWriter, r *http.Request) {
	var body struct {
		SQLText string `json:"sqlText"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	if !strings.EqualFold(strings.TrimSpace(body.SQLText), "SELECT 1") || r.URL.Query().Get("requestId") == "" {
		writeJSON(w, 200, map[string]any{"data": nil, "code": "000904", "message": "the double only runs SELECT 1", "success": false})
		return
	}
	if d.async.CompareAndSwap(1, 0) {
		writeJSON(w, 200, map[string]any{"code": "333334", "success": true, "message": "Asynchronous execution in progress.",
			"data": map[string]any{"queryId": "01b2-double", "getResultUrl": "/queries/01b2-double/result"}})
		return
	}
	d.poll(w, true)
}
