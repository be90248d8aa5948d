package store

import (
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// pgx plans how to scan each column anew for every QueryRow: for a
// connection row (22 columns, most of them nullable) that was about 4% of a
// GET's CPU and 21 of its 119 allocations. The plans depend only on the
// statement's result columns, the destinations' types and the connection's
// type map, so they are kept here per connection and statement, and a
// single-row statement's Scan runs them through pgx's RowScanner hook.
//
// Plans are keyed by the connection's type map: a plan is only ever run on
// rows of the connection that made it, while that connection is held, as
// pgx itself runs the plans it keeps for one Rows. A key whose columns or
// destination types no longer match (a statement described anew) is
// planned again.
type scanPlans struct {
	plans sync.Map // planKey -> *columnPlans
	n     atomic.Int64
}

type planKey struct {
	typeMap *pgtype.Map
	sql     string
}

type columnPlans struct {
	oids    []uint32
	formats []int16
	types   []reflect.Type
	plans   []pgtype.ScanPlan
}

// maxScanPlans bounds the cache: connections are replaced over time (their
// type maps with them), so it is emptied when it grows past this.
const maxScanPlans = 4096

// singleRowPlans serves every store: a key names its connection.
var singleRowPlans = &scanPlans{}

// into returns Scan's destinations for one row of sql: one RowScanner that
// scans into dest with kept plans.
func (c *scanPlans) into(sql string, dest []any) []any {
	return []any{&plannedScan{cache: c, sql: sql, dest: dest}}
}

type plannedScan struct {
	cache *scanPlans
	sql   string
	dest  []any
}

// ScanRow implements pgx.RowScanner.
func (p *plannedScan) ScanRow(rows pgx.Rows) error {
	fields := rows.FieldDescriptions()
	values := rows.RawValues()
	if len(fields) != len(p.dest) || len(values) != len(p.dest) {
		return fmt.Errorf("number of field descriptions must equal number of destinations, got %d and %d", len(fields), len(p.dest))
	}
	plans := p.cache.lookup(rows, p.sql, p.dest)
	for i, dst := range p.dest {
		if dst == nil {
			continue
		}
		if err := plans[i].Scan(values[i], dst); err != nil {
			return pgx.ScanArgError{ColumnIndex: i, FieldName: fields[i].Name, Err: err}
		}
	}
	return nil
}

// lookup returns the plans for rows' columns into dest: kept ones when
// they match, else new ones (kept when the connection is known).
func (c *scanPlans) lookup(rows pgx.Rows, sql string, dest []any) []pgtype.ScanPlan {
	fields := rows.FieldDescriptions()
	conn := rows.Conn()
	if conn == nil { // not a connection's rows: plan them once, with pgx's defaults
		return plan(pgtype.NewMap(), fields, dest).plans
	}
	key := planKey{typeMap: conn.TypeMap(), sql: sql}
	if v, ok := c.plans.Load(key); ok {
		if kept := v.(*columnPlans); kept.match(fields, dest) {
			return kept.plans
		}
	}
	made := plan(key.typeMap, fields, dest)
	if c.n.Add(1) > maxScanPlans {
		c.plans.Clear()
		c.n.Store(1)
	}
	c.plans.Store(key, made)
	return made.plans
}

func plan(m *pgtype.Map, fields []pgconn.FieldDescription, dest []any) *columnPlans {
	p := &columnPlans{
		oids: make([]uint32, len(dest)), formats: make([]int16, len(dest)),
		types: make([]reflect.Type, len(dest)), plans: make([]pgtype.ScanPlan, len(dest)),
	}
	for i, d := range dest {
		p.oids[i], p.formats[i], p.types[i] = fields[i].DataTypeOID, fields[i].Format, reflect.TypeOf(d)
		p.plans[i] = m.PlanScan(fields[i].DataTypeOID, fields[i].Format, d)
	}
	return p
}

func (p *columnPlans) match(fields []pgconn.FieldDescription, dest []any) bool {
	if len(p.plans) != len(dest) {
		return false
	}
	for i, d := range dest {
		if p.oids[i] != fields[i].DataTypeOID || p.formats[i] != fields[i].Format || p.types[i] != reflect.TypeOf(d) {
			return false
		}
	}
	return true
}
