package main

import (
	"reflect"
	"testing"
)

func TestParseBenchmarks(t *testing.T) {
	out := `goos: linux
goarch: amd64
pkg: github.com/connvault/connvault/server
BenchmarkHandlerGetByID-2             	    2000	     80022 ns/op	        61.03 cpu-us/op	   16403 B/op	     117 allocs/op
BenchmarkHandlerListFirstPage         	    2000	    337000 ns/op	       344.0 cpu-us/op	  120000 B/op	    1162 allocs/op
BenchmarkOther-2	100	1 ns/op
PASS
`
	got := parseBenchmarks(out)
	want := []handlerBench{
		{Name: "BenchmarkHandlerGetByID", NsPerOp: 80022, CPUMicrosPerOp: 61.03, BytesPerOp: 16403, AllocsPerOp: 117},
		{Name: "BenchmarkHandlerListFirstPage", NsPerOp: 337000, CPUMicrosPerOp: 344, BytesPerOp: 120000, AllocsPerOp: 1162},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseBenchmarks:\n got %+v\nwant %+v", got, want)
	}
}

func TestMedianOf(t *testing.T) {
	tps := func(r floorRound) float64 { return r.PgbenchSelectTPS }
	three := []floorRound{{PgbenchSelectTPS: 9}, {PgbenchSelectTPS: 1}, {PgbenchSelectTPS: 5}}
	if got := medianOf(three, tps); got != 5 {
		t.Errorf("median of 9, 1, 5 = %v", got)
	}
	if got := medianOf(append(three, floorRound{PgbenchSelectTPS: 7}), tps); got != 6 {
		t.Errorf("median of 9, 1, 5, 7 = %v", got)
	}
}
