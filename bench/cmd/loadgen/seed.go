package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log"
	"sync"
	"sync/atomic"
	"time"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/store"
)

// benchOrg is one seeded organization with a fresh API key.
type benchOrg struct {
	ID, UserID, Key string
	Rows            int
}

// target is a connection the read and update workloads address.
type target struct {
	org  int
	id   string
	name string
}

// fixture is what the workloads need from the seeded data.
type fixture struct {
	orgs    []benchOrg
	targets []target
	// deepCursor is the cursor after row o.depth of the big org (org 0).
	deepCursor store.Cursor
	// keyPair is a Snowflake key-pair connection: its credentials are a
	// JWT signed locally and cached for an hour.
	keyPair target
}

func orgID(i int) string  { return fmt.Sprintf("int_bench%019d", i) }
func userID(i int) string { return fmt.Sprintf("usr_benchuser%06d", i) }

// seedConfig returns a realistic full config (secrets included) for row n.
func seedConfig(n int) (string, providers.Config) {
	switch n % 5 {
	case 0:
		return "s3", providers.Config{"bucket": fmt.Sprintf("bucket-%d", n%97), "region": "us-east-1",
			"credentials": map[string]any{"type": "access_key", "access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": fmt.Sprintf("wJalrXUtnFEMI/K7MDENG/%08d", n)}}
	case 1:
		return "postgresql", providers.Config{"host": "db.example.invalid", "port": 5432, "database": "analytics", "schema": "public", "ssl_mode": "require",
			"credentials": map[string]any{"type": "username_password", "username": "reader", "password": fmt.Sprintf("pw-%08d", n)}}
	case 2:
		return "rss", providers.Config{"feed_url": fmt.Sprintf("https://blog%d.example.invalid/feed.xml", n%50), "request_timeout": 30,
			"credentials": map[string]any{"type": "http_headers", "headers": map[string]any{"X-Api-Key": fmt.Sprintf("key-%08d", n)}}}
	case 3:
		return "http_api", providers.Config{"base_url": "https://api.example.invalid/v1/items", "http_method": "GET", "items_path": "data.items", "item_id_field": "id",
			"credentials": map[string]any{"type": "http_headers", "headers": map[string]any{"Authorization": fmt.Sprintf("Bearer tok-%08d", n)}}}
	default:
		return "snowflake", providers.Config{"account": "xy12345", "warehouse": "WH", "database": "DB", "query_timeout_seconds": 300,
			"credentials": map[string]any{"type": "username_password", "username": "LOADER", "password": fmt.Sprintf("sf-%08d", n)}}
	}
}

// keyPairName names the Snowflake key-pair connection of credentials_cached.
const keyPairName = "bench snowflake key pair"

// reset returns the bench organizations to what seed makes: it deletes the
// connections earlier runs created (create and mixed workloads), the bench
// organizations' events and API keys, and vacuums. Without it every run
// measured a bigger database than the one it reports: after a day of runs
// the tables held 2 million connections and 6 million events (4.7 GB)
// beside 128 MB of shared buffers.
func reset(ctx context.Context, st *store.Store) error {
	start := time.Now()
	tag, err := st.Pool().Exec(ctx, `DELETE FROM connections WHERE internal_id LIKE 'int_bench%' AND name NOT LIKE 'source-%' AND name <> $1`, keyPairName)
	if err != nil {
		return fmt.Errorf("reset connections: %w", err)
	}
	deleted := tag.RowsAffected()
	if tag, err = st.Pool().Exec(ctx, `DELETE FROM events WHERE internal_id LIKE 'int_bench%'`); err != nil {
		return fmt.Errorf("reset events: %w", err)
	}
	events := tag.RowsAffected()
	if _, err := st.Pool().Exec(ctx, `DELETE FROM api_keys WHERE internal_id LIKE 'int_bench%'`); err != nil {
		return fmt.Errorf("reset API keys: %w", err)
	}
	// Plain VACUUM lets this run's writes reuse the space; a big reset (a
	// database full of earlier runs) also gives the space back.
	vacuum := `VACUUM (ANALYZE) connections, connection_secrets, events, api_keys`
	if deleted+events > 200_000 {
		vacuum = `VACUUM (FULL, ANALYZE) connections, connection_secrets, events, api_keys`
	}
	if _, err := st.Pool().Exec(ctx, vacuum); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	if deleted+events > 0 {
		log.Printf("reset: deleted %d connections and %d events of earlier runs in %v", deleted, events, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// seed fills the bench organizations up to their row counts (reusing rows
// from earlier runs), creates fresh API keys and picks targets.
func seed(ctx context.Context, st *store.Store, o options) (*fixture, error) {
	if err := reset(ctx, st); err != nil {
		return nil, err
	}
	fx := &fixture{}
	small := (o.rows - o.bigOrgRows) / (o.orgs - 1)
	for i := range o.orgs {
		rows := small
		if i == 0 {
			rows = o.bigOrgRows
		}
		key, _, err := st.CreateAPIKey(ctx, store.NewAPIKey{OrgID: orgID(i), UserID: userID(i), Name: "bench", Scopes: connvault.AllScopes})
		if err != nil {
			return nil, err
		}
		fx.orgs = append(fx.orgs, benchOrg{ID: orgID(i), UserID: userID(i), Key: key, Rows: rows})
	}
	type job struct{ org, n int }
	jobs := make(chan job, 1024)
	var created atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range 16 {
		wg.Go(func() {
			for j := range jobs {
				pt, cfg := seedConfig(j.n)
				p, _ := providers.Lookup(pt)
				_, err := st.CreateConnection(ctx, store.NewConnection{
					OrgID: orgID(j.org), UserID: userID(j.org), Name: fmt.Sprintf("source-%06d", j.n), ProviderType: pt,
					Config: providers.Seal(p, cfg), Metadata: map[string]any{"team": fmt.Sprintf("team-%d", j.n%7)},
				})
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					continue
				}
				created.Add(1)
			}
		})
	}
	for i, org := range fx.orgs {
		var have int
		if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM connections WHERE internal_id = $1`, org.ID).Scan(&have); err != nil {
			close(jobs)
			return nil, err
		}
		for n := have; n < org.Rows; n++ {
			jobs <- job{org: i, n: n}
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, fmt.Errorf("seed: %w", firstErr)
	}
	if n := created.Load(); n > 0 {
		log.Printf("seeded %d connections in %v (%.0f/s, encryption included)", n, time.Since(start).Round(time.Millisecond), float64(n)/time.Since(start).Seconds())
	}
	if _, err := st.Pool().Exec(ctx, `ANALYZE connections`); err != nil {
		return nil, err
	}

	rows, err := st.Pool().Query(ctx, `SELECT internal_id, connection_id, name FROM connections
		WHERE internal_id LIKE 'int_bench%' AND status = 'ACTIVE' AND name LIKE 'source-%' ORDER BY random() LIMIT 2000`)
	if err != nil {
		return nil, err
	}
	index := map[string]int{}
	for i, org := range fx.orgs {
		index[org.ID] = i
	}
	for rows.Next() {
		var org, id, name string
		if err := rows.Scan(&org, &id, &name); err != nil {
			return nil, err
		}
		fx.targets = append(fx.targets, target{org: index[org], id: id, name: name})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	err = st.Pool().QueryRow(ctx, `SELECT created_at, connection_id FROM connections WHERE internal_id = $1 AND status <> 'ARCHIVED'
		ORDER BY created_at DESC, connection_id DESC OFFSET $2 LIMIT 1`, fx.orgs[0].ID, o.depth-1).Scan(&fx.deepCursor.CreatedAt, &fx.deepCursor.ID)
	if err != nil {
		return nil, fmt.Errorf("deep cursor: %w", err)
	}
	if fx.keyPair, err = keyPairConnection(ctx, st, fx); err != nil {
		return nil, err
	}
	return fx, nil
}

// keyPairConnection makes (or finds) the Snowflake key-pair connection of
// the credentials_cached workload in organization 1.
func keyPairConnection(ctx context.Context, st *store.Store, fx *fixture) (target, error) {
	const name = keyPairName
	org := fx.orgs[1]
	if c, err := st.GetConnection(ctx, org.ID, name); err == nil {
		return target{org: 1, id: c.ID, name: name}, nil
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return target{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return target{}, err
	}
	p, _ := providers.Lookup("snowflake")
	cfg := providers.Config{"account": "xy12345", "warehouse": "WH", "database": "DB",
		"credentials": map[string]any{"type": "key_pair", "username": "LOADER",
			"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))}}
	c, err := st.CreateConnection(ctx, store.NewConnection{OrgID: org.ID, UserID: org.UserID, Name: name, ProviderType: "snowflake",
		Config: providers.Seal(p, cfg)})
	if err != nil {
		return target{}, err
	}
	return target{org: 1, id: c.ID, name: name}, nil
}
