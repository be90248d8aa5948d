package providers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

func init() {
	register("snowflake", []string{"credentials.private_key", "credentials.private_key_passphrase", "credentials.password"}, checkSnowflake, issueSnowflake)
}

type snowflakeConfig struct {
	Account             string `json:"account"`
	Warehouse           string `json:"warehouse"`
	Database            string `json:"database"`
	Schema              string `json:"schema"`
	Role                string `json:"role"`
	QueryTimeoutSeconds int    `json:"query_timeout_seconds"`
	Credentials         struct {
		Type                 string `json:"type"`
		Username             string `json:"username"`
		PrivateKey           string `json:"private_key"`
		PrivateKeyPassphrase string `json:"private_key_passphrase"`
		Password             string `json:"password"`
	} `json:"credentials"`
}

// snowflakeAccountRE is what an account identifier may hold ("xy12345",
// "xy12345.us-east-1", "myorg-myaccount"). It becomes part of a host name,
// so nothing else may pass.
var snowflakeAccountRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$`)

// snowflakePoll is the pause between polls of a statement that Snowflake
// answered as still running (a warehouse resuming can take seconds).
const snowflakePoll = 500 * time.Millisecond

// checkSnowflake authenticates and runs SELECT 1. Key pairs use the SQL API
// v2 with a key-pair JWT; passwords, which the SQL API does not take, use
// the login-request endpoint the drivers use and a session token.
func checkSnowflake(ctx context.Context, c snowflakeConfig, env Env) Result {
	if !snowflakeAccountRE.MatchString(c.Account) {
		return errSnowflakeAccount.result()
	}
	base := strings.TrimRight(env.Endpoint("snowflake.base_url", "https://"+strings.ToLower(c.Account)+".snowflakecomputing.com"), "/")
	switch c.Credentials.Type {
	case "key_pair":
		return snowflakeKeyPair(ctx, env, base, c)
	case "username_password":
		return snowflakePassword(ctx, env, base, c)
	}
	return errSnowflakeType.result()
}

var (
	errSnowflakeAccount = failed("read configuration", "account is not a Snowflake account identifier (like xy12345.us-east-1 or myorg-myaccount)")
	errSnowflakeType    = failed("read credentials", "credentials.type must be key_pair or username_password")
)

// issueSnowflake signs a key-pair JWT, valid for an hour (Snowflake's
// limit), that the SQL API takes as a bearer token: nothing is sent. A
// password has no shorter-lived form the worker could use (a session
// token needs a login, and Snowflake counts sessions), so it is handed
// out as stored.
func issueSnowflake(_ context.Context, c snowflakeConfig, _ Env) (Issued, error) {
	if !snowflakeAccountRE.MatchString(c.Account) {
		return Issued{}, errSnowflakeAccount
	}
	switch c.Credentials.Type {
	case "key_pair":
		jwt, exp, fail := snowflakeKeyPairJWT(c, time.Now())
		if fail != nil {
			return Issued{}, fail
		}
		return Issued{Credentials: map[string]any{"jwt": jwt, "token_type": "KEYPAIR_JWT"}, ExpiresAt: &exp}, nil
	case "username_password":
		return static(map[string]any{"username": c.Credentials.Username, "password": c.Credentials.Password})
	}
	return Issued{}, errSnowflakeType
}

// snowflakeKeyPairJWT signs the key-pair JWT of the SQL API, issued now
// and valid for an hour, the most Snowflake accepts.
func snowflakeKeyPairJWT(c snowflakeConfig, now time.Time) (jwt string, exp time.Time, fail *stepError) {
	key, err := parseRSAKey(c.Credentials.PrivateKey, c.Credentials.PrivateKeyPassphrase)
	if err != nil {
		return "", exp, failed("read credentials", err.Error())
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", exp, failed("read credentials", "the public key cannot be derived")
	}
	// iss carries the fingerprint Snowflake shows as RSA_PUBLIC_KEY_FP, so it
	// picks which of the user's two registered keys to verify against.
	sum := sha256.Sum256(pub)
	subject := snowflakeJWTAccount(c.Account) + "." + strings.ToUpper(c.Credentials.Username)
	exp = now.Add(time.Hour).Truncate(time.Second)
	jwt, err = signRS256(key, "", map[string]any{
		"iss": subject + ".SHA256:" + base64.StdEncoding.EncodeToString(sum[:]),
		"sub": subject, "iat": now.Unix(), "exp": exp.Unix(),
	})
	if err != nil {
		return "", exp, failed("read credentials", err.Error())
	}
	return jwt, exp, nil
}

// snowflakeJWTAccount is the account part of a key-pair JWT's iss and sub:
// upper case, without the region and cloud of an account locator
// ("xy12345.us-east-1" -> "XY12345"), as Snowflake's key-pair guide says.
func snowflakeJWTAccount(account string) string {
	a := strings.ToUpper(account)
	sep := "."
	if strings.Contains(a, ".GLOBAL") {
		sep = "-"
	}
	if i := strings.Index(a, sep); i > 0 {
		a = a[:i]
	}
	return a
}

// snowflakeStatementTimeout is the SQL API "timeout" for the check: the
// configured one, but never past the check's own deadline.
func snowflakeStatementTimeout(ctx context.Context, configured int) int {
	t := configured
	if t <= 0 {
		t = 300 // the spec's default
	}
	if dl, ok := ctx.Deadline(); ok {
		if left := int(math.Ceil(time.Until(dl).Seconds())); left < t {
			t = max(left, 1)
		}
	}
	return t
}

func snowflakeKeyPair(ctx context.Context, env Env, base string, c snowflakeConfig) Result {
	jwt, _, fail := snowflakeKeyPairJWT(c, time.Now())
	if fail != nil {
		return fail.result()
	}
	steps := []Step{{Name: "read credentials", Status: StepPassed, Message: "the private key is a valid RSA key"}}

	body, err := json.Marshal(map[string]any{"statement": "SELECT 1", "timeout": snowflakeStatementTimeout(ctx, c.QueryTimeoutSeconds),
		"warehouse": c.Warehouse, "database": c.Database, "schema": c.Schema, "role": c.Role})
	if err != nil {
		return failStep("run SELECT 1", "the request cannot be built")
	}
	auth := func(req *http.Request) {
		req.Header.Set("Authorization", "Bearer "+jwt)
		req.Header.Set("X-Snowflake-Authorization-Token-Type", "KEYPAIR_JWT")
	}
	var ans struct {
		Data               [][]any `json:"data"`
		StatementStatusURL string  `json:"statementStatusUrl"`
	}
	status, err := snowflakeDo(ctx, env, http.MethodPost, base+"/api/v2/statements", body, auth, &ans)
	for err == nil && status == http.StatusAccepted {
		// Still running: the SQL API hands back a status URL on this host.
		next, ok := snowflakeSameHostPath(base, ans.StatementStatusURL)
		if !ok {
			err = errors.New("the SQL API answered with an unusable statement status URL")
			break
		}
		if err = sleepCtx(ctx, snowflakePoll); err == nil {
			ans.Data, ans.StatementStatusURL = nil, ""
			status, err = snowflakeDo(ctx, env, http.MethodGet, next, nil, auth, &ans)
		}
	}
	if err != nil {
		// Only a refusal or no answer at all is an authentication failure;
		// a SQL error (422) means the key was accepted.
		var se *httpStatusError
		if !errors.As(err, &se) || se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden {
			return failStep("authenticate", describeSnowflake(err), steps...)
		}
		steps = append(steps, Step{Name: "authenticate", Status: StepPassed, Message: "the key pair was accepted"})
		return failStep("run SELECT 1", describeSnowflake(err), steps...)
	}
	steps = append(steps, Step{Name: "authenticate", Status: StepPassed, Message: "the key pair was accepted"})
	return selectOneResult(steps, ans.Data)
}

func snowflakePassword(ctx context.Context, env Env, base string, c snowflakeConfig) Result {
	q := url.Values{"request_id": {uuid.NewString()}}
	for k, v := range map[string]string{"warehouse": c.Warehouse, "databaseName": c.Database, "schemaName": c.Schema, "roleName": c.Role} {
		if v != "" {
			q.Set(k, v)
		}
	}
	body, err := json.Marshal(map[string]any{"data": map[string]any{
		"ACCOUNT_NAME": snowflakeJWTAccount(c.Account), "LOGIN_NAME": c.Credentials.Username,
		"PASSWORD": c.Credentials.Password, "CLIENT_APP_ID": "connvault", "CLIENT_APP_VERSION": "1.0"}})
	if err != nil {
		return failStep("authenticate", "the request cannot be built")
	}
	var login struct {
		Success bool   `json:"success"`
		Code    string `json:"code"`
		Data    struct {
			Token string `json:"token"`
		} `json:"data"`
	}
	if _, err := snowflakeDo(ctx, env, http.MethodPost, base+"/session/v1/login-request?"+q.Encode(), body, nil, &login); err != nil {
		return failStep("authenticate", describeSnowflake(err))
	}
	// The login endpoint answers 200 either way; success and code decide.
	if !login.Success || login.Data.Token == "" {
		return failStep("authenticate", describeSnowflake(&snowflakeRefusal{Code: login.Code}))
	}
	steps := []Step{{Name: "authenticate", Status: StepPassed, Message: "logged in with the password"}}
	auth := func(req *http.Request) { req.Header.Set("Authorization", `Snowflake Token="`+login.Data.Token+`"`) }
	defer snowflakeLogout(ctx, env, base, auth)

	qb, err := json.Marshal(map[string]any{"sqlText": "SELECT 1", "sequenceId": 1, "asyncExec": false,
		"querySubmissionTime": time.Now().UnixMilli()})
	if err != nil {
		return failStep("run SELECT 1", "the request cannot be built", steps...)
	}
	var qa struct {
		Success bool   `json:"success"`
		Code    string `json:"code"`
		Data    struct {
			RowSet       [][]any `json:"rowset"`
			GetResultURL string  `json:"getResultUrl"`
		} `json:"data"`
	}
	_, err = snowflakeDo(ctx, env, http.MethodPost, base+"/queries/v1/query-request?requestId="+uuid.NewString(), qb, auth, &qa)
	// 333333/333334: the query is still running; its result URL is polled.
	for err == nil && (qa.Code == "333333" || qa.Code == "333334") {
		next, ok := snowflakeSameHostPath(base, qa.Data.GetResultURL)
		if !ok {
			err = errors.New("the query endpoint answered with an unusable result URL")
			break
		}
		if err = sleepCtx(ctx, snowflakePoll); err == nil {
			qa.Success, qa.Code, qa.Data.RowSet, qa.Data.GetResultURL = false, "", nil, ""
			_, err = snowflakeDo(ctx, env, http.MethodGet, next, nil, auth, &qa)
		}
	}
	if err == nil && !qa.Success {
		err = &snowflakeRefusal{Code: qa.Code}
	}
	if err != nil {
		return failStep("run SELECT 1", describeSnowflake(err), steps...)
	}
	return selectOneResult(steps, qa.Data.RowSet)
}

// snowflakeLogout ends the session the check opened rather than leave it
// to expire: checks run on a schedule and sessions count against limits.
func snowflakeLogout(ctx context.Context, env Env, base string, auth func(*http.Request)) {
	if ctx.Err() != nil {
		return
	}
	_, _ = snowflakeDo(ctx, env, http.MethodPost, base+"/session?delete=true", []byte("{}"), auth, nil)
}

// snowflakeDo sends one JSON request and decodes a 2xx answer into out. A
// non-2xx answer becomes *httpStatusError with Snowflake's numeric code
// ("390144"), never its message, which may quote identifiers.
func snowflakeDo(ctx context.Context, env Env, method, endpoint string, body []byte, auth func(*http.Request), out any) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, endpoint, rd)
	if err != nil {
		return 0, errInvalidEndpoint
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "connvault/1.0")
	if auth != nil {
		auth(req)
	}
	ans, err := env.send(req, jsonCode("code"))
	if err != nil {
		return ans.Status, err
	}
	if out != nil && json.Unmarshal(ans.Body, out) != nil {
		return ans.Status, errors.New("the answer from Snowflake is not the expected JSON")
	}
	return ans.Status, nil
}

// snowflakeSameHostPath resolves a path Snowflake handed back (a status or
// result URL) against base, refusing anything that would leave its host.
func snowflakeSameHostPath(base, p string) (string, bool) {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\@") {
		return "", false
	}
	return base + p, true
}

// snowflakeRefusal is a 200 answer with success=false, the way Snowflake's
// session and query endpoints say no.
type snowflakeRefusal struct{ Code string }

func (e *snowflakeRefusal) Error() string {
	if !isShortCode(e.Code) {
		return "Snowflake refused the request"
	}
	return "Snowflake refused the request (code " + e.Code + ")"
}

// snowflakeCodes explains the Snowflake codes a check meets most often.
var snowflakeCodes = map[string]string{
	"390100": "incorrect username or password",
	"390144": "the key-pair JWT was refused: the user's RSA_PUBLIC_KEY, the account or the username does not match",
	"390102": "the user is temporarily locked after failed logins",
	"390189": "the role is not granted to this user",
	"390201": "the database, schema or warehouse does not exist or the role cannot use it",
	"002003": "the database, schema or warehouse does not exist or the role cannot use it",
	"000606": "no active warehouse: set warehouse, or give the user a default one",
}

// describeSnowflake explains a failed Snowflake call by its code.
func describeSnowflake(err error) string {
	var se *httpStatusError
	var sr *snowflakeRefusal
	switch {
	case errors.As(err, &sr):
		if m, ok := snowflakeCodes[sr.Code]; ok {
			return m + " (Snowflake code " + sr.Code + ")"
		}
		return sr.Error()
	case errors.As(err, &se):
		if m, ok := snowflakeCodes[se.Code]; ok {
			return fmt.Sprintf("%s (%s)", m, se.Error())
		}
	}
	return Describe(err)
}

func selectOneResult(steps []Step, data [][]any) Result {
	if len(data) != 1 || len(data[0]) != 1 || strings.TrimSpace(cellString(data[0][0])) != "1" {
		return failStep("run SELECT 1", "SELECT 1 did not return 1", steps...)
	}
	return Result{Success: true, Message: "authenticated and ran SELECT 1",
		Steps: append(steps, Step{Name: "run SELECT 1", Status: StepPassed, Message: "returned 1"})}
}

// cellString reads a result cell: Snowflake sends every value as a string,
// but a number is accepted too.
func cellString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}
