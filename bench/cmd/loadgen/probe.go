package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
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

// loopbackProbe times what the sort does not exercise and every HTTP
// request pays: a round trip over loopback TCP between two goroutines (two
// writes, two reads, two wake-ups through the network poller), the mean of
// 10,000, the best of three. The sort alone missed a disturbed host: one
// full run read 30% more CPU per request than the run 15 minutes before
// it, with sort probes of 77.8 and 79.5 ms.
func loopbackProbe() (time.Duration, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(c, c) // echo until the client closes
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return 0, err
	}
	defer c.Close()
	const trips = 10000
	msg, back := make([]byte, 64), make([]byte, 64)
	best := time.Duration(1<<63 - 1)
	for range 3 {
		start := time.Now()
		for range trips {
			if _, err := c.Write(msg); err != nil {
				return 0, err
			}
			if _, err := io.ReadFull(c, back); err != nil {
				return 0, err
			}
		}
		best = min(best, time.Since(start)/trips)
	}
	return best, nil
}

// loopbackMicros is loopbackProbe in µs, 0 when it failed (the run goes on
// without it).
func loopbackMicros() float64 {
	d, err := loopbackProbe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen: loopback probe:", err)
		return 0
	}
	return float64(d.Nanoseconds()) / 1000
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
