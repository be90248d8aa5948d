package server

import (
	"encoding/json"
	"math/rand/v2"
	"net/http/httptest"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/gen"
)

// model is the response view of a connection through the generated type:
// the reference the hand-written encoder (encode.go) is checked against.
func model(c *connvault.Connection) gen.StorageConnectionModel {
	m := gen.StorageConnectionModel{
		ConnectionId:        c.ID,
		InternalId:          c.OrgID,
		ProviderType:        gen.ProviderType(c.ProviderType),
		ProviderConfig:      c.Config,
		Name:                c.Name,
		Description:         c.Description,
		Status:              gen.ConnectionStatus(c.Status),
		IsActive:            c.IsActive(),
		LastUsedAt:          c.LastUsedAt,
		LastCheckedAt:       c.LastCheckedAt,
		LastError:           c.LastError,
		ConsecutiveFailures: c.ConsecutiveFailures,
		StatusReason:        c.StatusReason,
		StatusChangedAt:     c.StatusChangedAt,
		CreatedAt:           c.CreatedAt,
		UpdatedAt:           c.UpdatedAt,
		CreatedByUserId:     c.CreatedByUserID,
		Metadata:            c.Metadata,
		SecretFields:        []gen.SecretFieldSummary{},
	}
	if len(m.Metadata) == 0 {
		m.Metadata = json.RawMessage("{}")
	}
	fields, err := c.SecretFieldList()
	if err != nil {
		panic(err) // test data
	}
	for _, f := range fields {
		m.SecretFields = append(m.SecretFields, gen.SecretFieldSummary{
			Field: f.Field, Set: f.Set, Fingerprint: f.Fingerprint, ChangedAt: f.ChangedAt,
		})
	}
	return m
}

func TestEncoderMatchesTheGeneratedModel(t *testing.T) {
	now := time.Date(2026, 12, 1, 14, 40, 5, 123456000, time.UTC)
	later := now.Add(90 * time.Second)
	desc, reason, lastErr := "Raw <assets> & more \u2028 tab\t", "resumed by user", "refused: \"quote\" \\ \x01 caf\xe9"
	full := &connvault.Connection{
		OrgID: "int_aaaaaaaaaaaaaaaaaaaaaaaa", ID: "conn_aaaaaaaaaaaaaaa", Name: "Prod \u00e9 \U0001F600 <x>",
		Description: &desc, ProviderType: "s3",
		Config:       json.RawMessage(`{"bucket": "b", "credentials": {"type": "access_key", "secret_access_key": "***REDACTED***"}, "note": "<&>"}`),
		SecretFields: json.RawMessage(`[{"set": true, "field": "credentials.secret_access_key", "changed_at": "2026-12-01T14:40:05.123456Z", "fingerprint": "hmac-sha256:0123456789abcdef"}]`),
		Health: connvault.Health{Status: connvault.StatusActive, StatusReason: &reason, StatusChangedAt: &now,
			ConsecutiveFailures: 3, LastError: &lastErr, LastUsedAt: &later, LastCheckedAt: &later},
		Metadata: json.RawMessage(`{"team": "data", "n": 1.5e3}`), CreatedByUserID: "usr_aaaaaaaaaaaaaaa",
		CreatedAt: now, UpdatedAt: later,
	}
	bare := &connvault.Connection{OrgID: "int_b", ID: "conn_b", Name: "bare", ProviderType: "rss", Config: json.RawMessage(`{}`),
		Health: connvault.Health{Status: connvault.StatusArchived}, CreatedAt: now, UpdatedAt: now}
	for _, c := range []*connvault.Connection{full, bare} {
		ours := encodeConnection(c)
		reference, err := json.Marshal(model(c))
		if err != nil {
			t.Fatal(err)
		}
		var a, b any
		if err := json.Unmarshal(ours, &a); err != nil {
			t.Fatalf("ours is not JSON: %v: %s", err, ours)
		}
		if err := json.Unmarshal(reference, &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("encodings differ:\nours %s\nwant %s", ours, reference)
		}
	}
	// Strings byte for byte as encoding/json writes them.
	for _, s := range []string{"plain", "q\"b\\", "<>&", "\u2028\u2029", "\x00\x1f\x7f", "bad \xff\xfe utf-8", "\u00e9\U0001F600", "\n\r\t\b\f"} {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); string(got) != string(want) {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
	}
	// Issued credentials, static and expiring.
	creds := map[string]any{"access_token": "tok<&>\u2028", "headers": map[string]any{"X-Api-Key": "k"}, "n": 1.5}
	raw, _ := json.Marshal(creds)
	for _, expires := range []*time.Time{nil, &later} {
		ours := encodeCredentials("conn_c", "box", raw, now, expires)
		reference, err := json.Marshal(gen.IssuedCredentials{ConnectionId: "conn_c", ProviderType: "box", Credentials: creds, IssuedAt: now, ExpiresAt: expires})
		if err != nil {
			t.Fatal(err)
		}
		if string(ours) != string(reference)+"\n" {
			t.Errorf("credentials encodings differ:\nours %s\nwant %s", ours, reference)
		}
	}
	// A list page decodes into the generated type.
	next, link := "cursor", "/v1/organizations/connections?limit=2&offset=2"
	answer := encodeList([]*connvault.Connection{full, bare}, gen.Pagination{Page: 1, PageSize: 2, Total: 3, TotalPages: 2, NextCursor: &next, NextPage: &link})
	rec := httptest.NewRecorder()
	if err := answer.VisitListConnectionsResponse(rec); err != nil {
		t.Fatal(err)
	}
	page := rec.Body.Bytes()
	if rec.Header().Get("Content-Length") != strconv.Itoa(len(page)) {
		t.Errorf("Content-Length %s for %d bytes", rec.Header().Get("Content-Length"), len(page))
	}
	// Its buffer went back to the pool: a second write is refused, not
	// served from a buffer another page may be using.
	if err := answer.VisitListConnectionsResponse(httptest.NewRecorder()); err == nil {
		t.Error("a list page was written twice")
	}
	var list gen.ConnectionList
	if err := json.Unmarshal(page, &list); err != nil || len(list.Results) != 2 || list.Total != 3 || list.Pagination.TotalPages != 2 ||
		*list.Pagination.NextCursor != "cursor" || *list.Pagination.NextPage != link || list.Pagination.PreviousPage != nil {
		t.Fatalf("list page: %v: %s", err, page)
	}
}

// What providers issue is encoded byte for byte as json.Marshal encodes it;
// values of other kinds take json.Marshal itself.
func TestMarshalCredentialsMatchesEncodingJSON(t *testing.T) {
	tricky := "tok<&>\u2028 \"q\" \\ \x01 caf\xe9"
	for _, creds := range []map[string]any{
		nil,
		{},
		{"access_key_id": "AKIA", "secret_access_key": "s3cr3t", "session_token": nil},
		{"jwt": tricky, "token_type": "KEYPAIR_JWT", "z": "last", "A": "upper sorts first", "\u00e9": "non-ASCII key"},
		{"headers": map[string]any{"X-Api-Key": tricky, "Authorization": "Bearer t", "<k>": "v"}},
		{"headers": map[string]string{"b": "2", "a": tricky}, "ok": true, "no": false},
		{"headers": map[string]any(nil), "more": map[string]string(nil)},
		{"nested": map[string]any{"deeper": map[string]any{"k": "v"}}},
		// Not what providers issue today: json.Marshal encodes them.
		{"port": 5432, "ratio": 1.5e-7, "list": []string{"a"}, "when": time.Date(2026, 12, 2, 3, 4, 5, 6, time.UTC)},
		{"headers": map[string]any{"n": 1}},
	} {
		want, err := json.Marshal(creds)
		if err != nil {
			t.Fatal(err)
		}
		got, err := marshalCredentials(creds)
		if err != nil || string(got) != string(want) {
			t.Errorf("marshalCredentials(%#v) = %s, %v\nwant %s", creds, got, err, want)
		}
	}
}

func TestAppendTimeMatchesMarshalJSON(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2026, 12, 1, 14, 40, 5, 0, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 120000000, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 6, 1, 0, 0, 0, 1000, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 6, 1, 12, 0, 0, 500, time.FixedZone("x", 3600)),
		time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2000, 2, 29, 12, 0, 0, 0, time.UTC),
		time.Date(2100, 2, 28, 23, 59, 59, 0, time.UTC),
		time.Date(2100, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 2, 29, 7, 8, 9, 10, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	} {
		want, _ := tm.MarshalJSON()
		if got := appendTime(nil, tm); string(got) != string(want) {
			t.Errorf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
	// Every day from 1970 to 9999 at a second of its own, and microsecond
	// times (as Postgres stores them) across the same span.
	r := rand.New(rand.NewPCG(1, 2))
	for day := int64(0); day < 2932897; day++ {
		tm := time.Unix(day*86400+r.Int64N(86400), 0).UTC()
		if day%97 == 0 {
			tm = tm.Add(time.Duration(r.Int64N(1_000_000)) * time.Microsecond)
		}
		want, _ := tm.MarshalJSON()
		if got := appendTime(nil, tm); string(got) != string(want) {
			t.Fatalf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}

// A list page formats ~300 of these.
func BenchmarkAppendTime(b *testing.B) {
	tm := time.Date(2026, 12, 1, 14, 40, 5, 123456000, time.UTC)
	buf := make([]byte, 0, 64)
	for b.Loop() {
		buf = appendTime(buf[:0], tm)
	}
}

// The credentials of a static S3 issue, as json.Marshal and as we encode them.
func BenchmarkMarshalCredentials(b *testing.B) {
	creds := map[string]any{"access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(creds); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("appended", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := marshalCredentials(creds); err != nil {
				b.Fatal(err)
			}
		}
	})
}
