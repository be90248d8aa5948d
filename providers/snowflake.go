package providers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

func init() {
	Register(&Provider{
		Type:    "snowflake",
		Secrets: []string{"credentials.private_key", "credentials.private_key_passphrase", "credentials.password"},
		Check:   checkSnowflake,
	})
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

// checkSnowflake authenticates and runs SELECT 1. Key pairs use the SQL API
// v2 with a key-pair JWT; passwords, which the SQL API does not take, use
// the login-request endpoint and a session token.
func checkSnowflake(ctx context.Context, cfg Config, env Env) Result {
	var c snowflakeConfig
	if err := decodeConfig(cfg, &c); err != nil {
		return failed("read configuration", "the configuration cannot be read")
	}
	base := env.Endpoint("snowflake.base_url", "https://"+url.PathEscape(strings.ToLower(c.Account))+".snowflakecomputing.com")
	if c.Credentials.Type == "username_password" {
		return snowflakePassword(ctx, env, base, c)
	}
	key, err := parseRSAKey(c.Credentials.PrivateKey, c.Credentials.PrivateKeyPassphrase)
	if err != nil {
		return failed("read credentials", err.Error())
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return failed("read credentials", "the public key cannot be derived")
	}
	sum := sha256.Sum256(pub)
	account := strings.ToUpper(strings.SplitN(c.Account, ".", 2)[0])
	user := strings.ToUpper(c.Credentials.Username)
	now := time.Now()
	jwt, err := signRS256(key, "", map[string]any{
		"iss": account + "." + user + ".SHA256:" + base64.StdEncoding.EncodeToString(sum[:]),
		"sub": account + "." + user, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	if err != nil {
		return failed("read credentials", "the private key cannot sign")
	}
	steps := []Step{{Name: "read credentials", Status: StepPassed, Message: "the key pair is valid"}}
	timeout := c.QueryTimeoutSeconds
	if timeout == 0 {
		timeout = 30
	}
	body, _ := json.Marshal(map[string]any{"statement": "SELECT 1", "timeout": timeout,
		"warehouse": c.Warehouse, "database": c.Database, "schema": c.Schema, "role": c.Role})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v2/statements", bytes.NewReader(body))
	if err != nil {
		return failed("authenticate", "the Snowflake endpoint is not a valid URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+jwt)
	req.Header.Set("X-Snowflake-Authorization-Token-Type", "KEYPAIR_JWT")
	var ans struct {
		Data [][]any `json:"data"`
	}
	if err := doJSON(env, req, &ans); err != nil {
		msg := Describe(err)
		return Result{Message: msg, Steps: append(steps, Step{Name: "authenticate", Status: StepFailed, Message: msg})}
	}
	steps = append(steps, Step{Name: "authenticate", Status: StepPassed, Message: "the key pair was accepted"})
	return selectOneResult(steps, ans.Data)
}

func selectOneResult(steps []Step, data [][]any) Result {
	if len(data) != 1 || len(data[0]) != 1 || strings.TrimSpace(toString(data[0][0])) != "1" {
		msg := "SELECT 1 did not return 1"
		return Result{Message: msg, Steps: append(steps, Step{Name: "run SELECT 1", Status: StepFailed, Message: msg})}
	}
	return Result{Success: true, Message: "authenticated and ran SELECT 1",
		Steps: append(steps, Step{Name: "run SELECT 1", Status: StepPassed, Message: "returned 1"})}
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

func snowflakePassword(ctx context.Context, env Env, base string, c snowflakeConfig) Result {
	q := url.Values{}
	for k, v := range map[string]string{"warehouse": c.Warehouse, "databaseName": c.Database, "schemaName": c.Schema, "roleName": c.Role} {
		if v != "" {
			q.Set(k, v)
		}
	}
	body, _ := json.Marshal(map[string]any{"data": map[string]any{
		"ACCOUNT_NAME": strings.ToUpper(strings.SplitN(c.Account, ".", 2)[0]), "LOGIN_NAME": c.Credentials.Username,
		"PASSWORD": c.Credentials.Password, "CLIENT_APP_ID": "connvault", "CLIENT_APP_VERSION": "1"}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/session/v1/login-request?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		return failed("authenticate", "the Snowflake endpoint is not a valid URL")
	}
	req.Header.Set("Content-Type", "application/json")
	var login struct {
		Success bool   `json:"success"`
		Code    string `json:"code"`
		Data    struct {
			Token string `json:"token"`
		} `json:"data"`
	}
	if err := doJSON(env, req, &login); err != nil {
		return failed("authenticate", Describe(err))
	}
	if !login.Success || login.Data.Token == "" {
		msg := "Snowflake refused the login"
		if login.Code == "390100" {
			msg = "incorrect username or password"
		}
		return failed("authenticate", msg)
	}
	steps := []Step{{Name: "authenticate", Status: StepPassed, Message: "logged in"}}
	qb, _ := json.Marshal(map[string]any{"sqlText": "SELECT 1", "sequenceId": 1})
	qreq, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/queries/v1/query-request", bytes.NewReader(qb))
	if err != nil {
		return failed("run SELECT 1", "the Snowflake endpoint is not a valid URL")
	}
	qreq.Header.Set("Content-Type", "application/json")
	qreq.Header.Set("Authorization", `Snowflake Token="`+login.Data.Token+`"`)
	var qa struct {
		Success bool `json:"success"`
		Data    struct {
			RowSet [][]any `json:"rowset"`
		} `json:"data"`
	}
	if err := doJSON(env, qreq, &qa); err != nil {
		msg := Describe(err)
		return Result{Message: msg, Steps: append(steps, Step{Name: "run SELECT 1", Status: StepFailed, Message: msg})}
	}
	return selectOneResult(steps, qa.Data.RowSet)
}
