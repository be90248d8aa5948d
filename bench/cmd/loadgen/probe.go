package main

import (
	"math/rand/v2"
	"slices"
	"time"
)

// hostProbe times a fixed CPU- and cache-bound job on one core (sorting the
// same 2^20 pseudo-random integers, the best of three) with nothing else
// running: the host's speed at that moment. The shared host moves whole
// runs by 15-40%; two runs compare only when their probes agree, and a
// probe at the end far from the one at the start says the host changed
// during the run.
func hostProbe() time.Duration {
	r := rand.New(rand.NewPCG(1, 2))
	data := make([]int64, 1<<20)
	for i := range data {
		data[i] = r.Int64()
	}
	work := make([]int64, len(data))
	best := time.Duration(1<<63 - 1)
	for range 3 {
		copy(work, data)
		start := time.Now()
		slices.Sort(work)
		best = min(best, time.Since(start))
	}
	return best
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
